"""Probabilistic record linkage with Splink, on the warehouse's DuckDB connection.

A :class:`LinkModel` says, as data, which columns are compared and how, which
blocking rules propose candidate pairs, and which rules train the model. The
same :func:`link` runs it on our accounts (hashed name and address tokens,
masked phones) and on a person table nobody here made (FEBRL 4).

The model is the Fellegi-Sunter one Splink fits: the share of true matches
among random pairs is estimated from rules that are almost certainly matches;
``u`` probabilities from random pairs; ``m`` probabilities by expectation
maximisation on blocked pairs, or, where some records are already known to
be the same (accounts joined by a strong key), from those known matches.
A pair above ``threshold`` (match probability) is a link; clusters are the
connected components of the links.
"""

from __future__ import annotations

import logging
import math
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
        m_from_label: a column whose equal values mark records known to be the
            same; their pairs train the ``m`` probabilities (before any EM).
        deterministic: SQL rules that are almost surely matches, with their ``recall``,
            to estimate the share of matching pairs.
        recall: the share of true matches the deterministic rules are thought to find.
        link_type: ``dedupe_only`` (one table) or ``link_only`` (two tables).
        description: a sentence for the report on why these rules.
        retain: further columns to carry into the scored pairs (``<col>_l``, ``<col>_r``).
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
    m_from_label: str | None = None
    retain: tuple[str, ...] = ()


@dataclass
class LinkResult:
    """Pairs scored above the threshold, the clusters, and the trained linker."""

    pairs: pd.DataFrame  # unique_id_l, unique_id_r, match_probability, match_weight
    clusters: pd.DataFrame  # unique_id, cluster_id (and source_dataset for link_only)
    linker: Any

    def match_weights_chart(self) -> Any:
        """Splink's chart of the trained match weights per comparison level (Altair)."""
        return self.linker.visualisations.match_weights_chart()

    def weights(self) -> pd.DataFrame:
        """The trained model as a table: one row per comparison level.

        Columns: ``comparison``, ``level`` (Splink's label), ``m``, ``u`` and
        ``match_weight`` (log2 of m/u; ``NaN`` for the null level, which is neutral).
        The first row is the prior, ``probability_two_random_records_match``.
        """
        model = self.linker.misc.save_model_to_json()
        prior = float(model["probability_two_random_records_match"])
        rows: list[dict[str, Any]] = [
            {
                "comparison": "prior",
                "level": "two random records match",
                "m": prior,
                "u": 1.0 - prior,
                "match_weight": math.log2(prior / (1.0 - prior)),
            }
        ]
        for comp in model["comparisons"]:
            for level in comp["comparison_levels"]:
                m, u = level.get("m_probability"), level.get("u_probability")
                weight = math.log2(m / u) if m and u else math.nan
                rows.append(
                    {
                        "comparison": comp["output_column_name"],
                        "level": level["label_for_charts"],
                        "m": m,
                        "u": u,
                        "match_weight": weight,
                    }
                )
        return pd.DataFrame(rows)


def link(
    con: Any,
    tables: Sequence[pd.DataFrame | str],
    model: LinkModel,
    threshold: float = 0.9,
    names: Sequence[str] | None = None,
    cluster: bool = True,
) -> LinkResult:
    """Train ``model`` on ``tables`` and link them.

    Parameters:
        con: a raw DuckDB connection (the warehouse's, or ``duckdb.connect()``), or a
            Spark session: Splink runs on the same engine as the tables.
        tables: one table to deduplicate, or two to link: frames or table names in ``con``.
        model: the :class:`LinkModel`.
        threshold: match probability above which a pair is a link.
        names: display names of the tables (``source_dataset`` values for two tables).
        cluster: also cluster the links (callers that cluster themselves skip it).

    Returns:
        A :class:`LinkResult`.
    """
    from splink import DuckDBAPI, Linker, SettingsCreator, SparkAPI

    spark = type(con).__name__ == "SparkSession"
    db = SparkAPI(spark_session=con) if spark else DuckDBAPI(con)
    names = list(names or [f"t{i}" for i in range(len(tables))])
    registered = [
        db.register(
            (con.createDataFrame(t) if spark else t)
            if isinstance(t, pd.DataFrame)
            else con.table(t),
            dataset_display_name=n,
        )
        for t, n in zip(tables, names, strict=True)
    ]
    settings = SettingsCreator(
        link_type=model.link_type,
        unique_id_column_name=model.unique_id,
        comparisons=list(model.comparisons),
        blocking_rules_to_generate_predictions=list(model.blocking),
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=list(model.retain),
    )
    linker = Linker(
        registered if len(registered) > 1 else registered[0], settings, log_level=logging.WARNING
    )
    linker.training.estimate_probability_two_random_records_match(
        list(model.deterministic), recall=model.recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=model.u_pairs, seed=1)
    if model.m_from_label:
        linker.training.estimate_m_from_label_column(model.m_from_label)
    for rule in model.training_blocks:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=threshold)
    pairs = pred.as_pandas_dataframe()
    clusters = pd.DataFrame()
    if cluster:
        found = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold)
        clusters = found.as_pandas_dataframe()
    return LinkResult(pairs, clusters, linker)
