"""Probabilistic linking through the same code path on FEBRL 4, a benchmark nobody here made."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import splink.comparison_library as cl
from splink import block_on

from workbench.evaluation.identity import pairwise_scores
from workbench.unify.linking import LinkModel, link

FEBRL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "febrl"

FEBRL_MODEL = LinkModel(
    unique_id="uid",
    comparisons=(
        cl.JaroWinklerAtThresholds("given_name", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("surname", [0.9, 0.7]),
        cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
        cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("street_number"),
        cl.JaroWinklerAtThresholds("address_1", [0.9]),
        cl.JaroWinklerAtThresholds("suburb", [0.9]),
        cl.ExactMatch("postcode"),
        cl.ExactMatch("state"),
    ),
    blocking=(
        block_on("given_name"),
        block_on("surname"),
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("postcode", "street_number"),
    ),
    training_blocks=(block_on("date_of_birth"), block_on("soc_sec_id"), block_on("postcode")),
    deterministic=("l.soc_sec_id = r.soc_sec_id AND l.date_of_birth = r.date_of_birth",),
    recall=0.7,
    link_type="link_only",
)


def _read(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, skipinitialspace=True, dtype=str)
    return df.assign(uid=df["rec_id"])


@pytest.mark.slow
@pytest.mark.skipif(not FEBRL.is_dir(), reason="shared/data/real/febrl is not beside the checkout")
def test_febrl4_precision_and_recall_above_095() -> None:
    a, b = _read(FEBRL / "dataset4a.csv"), _read(FEBRL / "dataset4b.csv")
    assert (len(a), len(b)) == (5000, 5000)
    result = link(duckdb.connect(), [a, b], FEBRL_MODEL, threshold=0.9, names=["a", "b"])
    c = result.clusters
    predicted = pd.Series(c["cluster_id"].to_numpy(), index=c["source_dataset"] + ":" + c["uid"])
    # The truth is in rec_id: rec-1070-org matches rec-1070-dup-0.
    truth = pd.Series(c["uid"].str.extract(r"rec-(\d+)-")[0].to_numpy(), index=predicted.index)
    scores = pairwise_scores(predicted, truth)
    assert scores["true_pairs"] == 5000
    assert scores["precision"] > 0.95
    assert scores["recall"] > 0.95
    assert result.match_weights_chart() is not None
