"""Probabilistic record linkage with Splink, on the warehouse's DuckDB connection.

A :class:`LinkModel` says, as data, which columns are compared and how, which
blocking rules propose candidate pairs, and which rules train the model. The
same :func:`link` runs it on our accounts (hashed name and address tokens,
masked phones) and on a person table nobody here made (FEBRL 4).

The model is the Fellegi-Sunter one Splink fits: the share of true matches
among random pairs is estimated from rules that are almost certainly matches;
``u`` probabilities from random pairs; ``m`` probabilities by expectation
maximisation on blocked pairs. A pair above ``threshold`` (match probability)
is a link; clusters are the connected components of the links.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkModel:
    """What to compare and how to block, as data.

    Attributes:
        unique_id: the record id column.
        comparisons: Splink comparison creators (``splink.comparison_library``).
        blocking: rules that propose candidate pairs for prediction (``block_on``).
        training_blocks: rules whose pairs train the ``m`` probabilities by EM;
            each must leave out the columns it blocks on, so use several.
        deterministic: SQL rules that are almost surely matches, with their ``recall``,
            to estimate the share of matching pairs.
        recall: the share of true matches the deterministic rules are thought to find.
        link_type: ``dedupe_only`` (one table) or ``link_only`` (two tables).
        description: a sentence for the report on why these rules.
    """

    unique_id: str
    comparisons: tuple[Any, ...]
    blocking: tuple[Any, ...]
    training_blocks: tuple[Any, ...]
    deterministic: tuple[str, ...]
    recall: float = 0.7
    link_type: Literal["dedupe_only", "link_only", "link_and_dedupe"] = "dedupe_only"
    description: str = ""
    u_pairs: float = 2e6


@dataclass
class LinkResult:
    """Pairs scored above the threshold, the clusters, and the trained linker."""

    pairs: pd.DataFrame  # unique_id_l, unique_id_r, match_probability, match_weight
    clusters: pd.DataFrame  # unique_id, cluster_id (and source_dataset for link_only)
    linker: Any

    def match_weights_chart(self) -> Any:
        """Splink's chart of the trained match weights per comparison level (Altair)."""
        return self.linker.visualisations.match_weights_chart()


def link(
    con: Any,
    tables: Sequence[pd.DataFrame | str],
    model: LinkModel,
    threshold: float = 0.9,
    names: Sequence[str] | None = None,
) -> LinkResult:
    """Train ``model`` on ``tables`` and link them.

    Parameters:
        con: a raw DuckDB connection (the warehouse's, or ``duckdb.connect()``).
        tables: one table to deduplicate, or two to link: frames or table names in ``con``.
        model: the :class:`LinkModel`.
        threshold: match probability above which a pair is a link.
        names: display names of the tables (``source_dataset`` values for two tables).

    Returns:
        A :class:`LinkResult`.
    """
    from splink import DuckDBAPI, Linker, SettingsCreator

    db = DuckDBAPI(con)
    names = list(names or [f"t{i}" for i in range(len(tables))])
    registered = [
        db.register(t if isinstance(t, pd.DataFrame) else con.table(t), dataset_display_name=n)
        for t, n in zip(tables, names, strict=True)
    ]
    settings = SettingsCreator(
        link_type=model.link_type,
        unique_id_column_name=model.unique_id,
        comparisons=list(model.comparisons),
        blocking_rules_to_generate_predictions=list(model.blocking),
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(
        registered if len(registered) > 1 else registered[0], settings, log_level=logging.WARNING
    )
    linker.training.estimate_probability_two_random_records_match(
        list(model.deterministic), recall=model.recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=model.u_pairs, seed=1)
    for rule in model.training_blocks:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold)
    pairs = pred.as_pandas_dataframe()
    return LinkResult(pairs, clusters.as_pandas_dataframe(), linker)
