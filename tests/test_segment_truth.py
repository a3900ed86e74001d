"""Segmentation against the synthetic world's planted truth (issue 9, Correctness).

Tiny cases of the scoring worked out by hand, then the 3,000-person fixture:
the repurchase cycle (RC) recovered per category and the promotion-sensitivity
classes against the planted promotion class.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from workbench.config import load_settings
from workbench.engine import connect, duckdb_connect
from workbench.evaluation.segment import (
    rc_recovery,
    segment_checks,
    sensitivity_confusion,
    truth_cycles,
)
from workbench.segment.rc import RepurchaseCycles
from workbench.segment.segments import Snapshot, segment
from workbench.synth import SynthResult
from workbench.unify import ingest

CATEGORIES = [
    {"code": "laundry", "name_zh": "洗衣液", "name_en": "laundry detergent", "rc_days": 60.0},
    {
        "code": "dishwasher",
        "name_zh": "洗碗机洗涤块",
        "name_en": "dishwasher tablets",
        "rc_days": 100.0,
    },
    {"code": "handwash", "name_zh": "洗手液", "name_en": "hand wash", "rc_days": 45.0},
]


def _truth_dir(root: Path) -> Path:
    truth = root / "truth"
    truth.mkdir()
    (truth / "parameters.json").write_text(json.dumps({"categories": CATEGORIES}), "utf-8")
    return truth


def test_rc_recovery_of_cycles_by_hand(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "category": ["洗手液", "洗碗机洗涤块", "洗衣液", None],
            "rc_usage": [45.0, 100.0, 60.0, 60.0],
            "rc_inductive": [40.5, 70.0, 66.0, 50.0],
            "p90_interval": [121.5, 210.0, 198.0, 150.0],
            "repeaters": [30, 20, 50, 80],
        }
    )
    got = rc_recovery(RepurchaseCycles(table, "auto", 100, 3.0), _truth_dir(tmp_path))
    got = got.set_index("code")
    assert list(got.index) == ["laundry", "dishwasher", "handwash"]
    assert got.loc["dishwasher", "category"] == "洗碗机洗涤块"
    # 66 / 60 - 1 = +10%, 70 / 100 - 1 = -30%, 40.5 / 45 - 1 = -10%; usage exact.
    assert got["inductive_error"].round(6).tolist() == [0.1, -0.3, -0.1]
    assert (got["usage_error"] == 0).all()
    assert "rc_inductive_true" not in got  # only a snapshot says which data to read


def test_truth_cycles_by_hand(tmp_path: Path) -> None:
    # True buyer t1 buys laundry of ours on days 1, 11, 31 (mean interval 15) and
    # the sister brand's on day 5 (not ours); t2 on days 1 and 41 (40), the second
    # order refunded in full (so one purchase day only); t3 on 1 and 21 (20), plus
    # a test order. A repeat customer: t1 and t3; p90 of (15, 20) = 19.5; RC 6.5.
    truth = _truth_dir(tmp_path)
    rows = [
        ("1", "t1", "2024-01-01", "L", False, 0.0),
        ("2", "t1", "2024-01-05", "S", False, 0.0),
        ("3", "t1", "2024-01-11", "L", False, 0.0),
        ("4", "t1", "2024-01-31", "L", False, 0.0),
        ("5", "t2", "2024-01-01", "L", False, 0.0),
        ("6", "t2", "2024-02-10", "L", False, 10.0),
        ("7", "t3", "2024-01-01", "L", False, 0.0),
        ("8", "t3", "2024-01-21", "L", False, 0.0),
        ("9", "t3", "2024-01-02", "L", True, 0.0),
    ]
    (truth / "orders").mkdir()
    pd.DataFrame(
        {
            "platform": "tmall",
            "order_id": [r[0] for r in rows],
            "person_id": [r[1] for r in rows],
            "order_date": pd.to_datetime([r[2] for r in rows]).date,
            "is_test": [r[4] for r in rows],
            "paid_amount": 10.0,
            "refund_amount": [r[5] for r in rows],
        }
    ).to_parquet(truth / "orders" / "part-0.parquet")
    (truth / "person_rc").mkdir()
    pd.DataFrame(
        {"person_id": ["t1", "t2", "t3"], "category": "laundry", "rc_days": [14.0, 30.0, 20.0]}
    ).to_parquet(truth / "person_rc" / "part-0.parquet")
    con = duckdb_connect(":memory:")
    con.create_table(
        "order_lines",
        ibis.memtable(
            pd.DataFrame(
                {
                    "order_key": [f"tmall:{r[0]}" for r in rows],
                    "sku": [r[3] for r in rows],
                    "line_amount": 10.0,
                }
            )
        ),
    )
    con.create_table(
        "products",
        ibis.memtable(
            pd.DataFrame(
                {"sku": ["L", "S"], "brand": ["ours", "sister"], "category": ["洗衣液"] * 2}
            )
        ),
    )
    got = truth_cycles(con, truth, "2024-12-31", "ours").set_index("code")
    laundry = got.loc["laundry"]
    assert laundry["true_repeaters"] == 2
    assert laundry["rc_inductive_true"] == pytest.approx(19.5 / 3)
    # Planted person RC over the buyers (14, 30, 20): p90 = 20 + 0.8 * 10 = 28;
    # over the repeaters (14, 20): p90 = 14 + 0.9 * 6 = 19.4.
    assert laundry["rc_planted_buyers"] == pytest.approx(28 / 3)
    assert laundry["rc_planted_repeaters"] == pytest.approx(19.4 / 3)
    assert got.loc["dishwasher", "true_repeaters"] == 0


def test_sensitivity_confusion_by_hand(tmp_path: Path) -> None:
    # Resolved R1 holds accounts a (true owner t1, two orders) and b (t2, one
    # order): its majority owner is t1. R2 holds c (t2), R3 holds d (t3); R4 never bought.
    truth = _truth_dir(tmp_path)
    orders = [
        ("1", "a", "t1"),
        ("2", "a", "t1"),
        ("3", "b", "t2"),
        ("4", "c", "t2"),
        ("5", "d", "t3"),
    ]
    (truth / "orders").mkdir()
    pd.DataFrame(
        {
            "platform": "tmall",
            "order_id": [o[0] for o in orders],
            "person_id": [o[2] for o in orders],
            "receiver_person_id": [o[2] for o in orders],
        }
    ).to_parquet(truth / "orders" / "part-0.parquet")
    pd.DataFrame({"platform": ["tmall"], "account_key": ["x"], "person_id": ["t9"]}).to_parquet(
        truth / "accounts"
    )
    (truth / "persons").mkdir()
    pd.DataFrame(
        {"person_id": ["t1", "t2", "t3"], "promo_class": ["fanatic", "indifferent", "neutral"]}
    ).to_parquet(truth / "persons" / "part-0.parquet")
    con = duckdb_connect(":memory:")
    keys = [f"tmall:{o[0]}" for o in orders]
    accounts = [f"tmall:{o[1]}" for o in orders]
    con.create_table(
        "contacts", ibis.memtable(pd.DataFrame({"source_key": keys, "account_key": accounts}))
    )
    con.create_table(
        "orders", ibis.memtable(pd.DataFrame({"order_key": keys, "account_key": accounts}))
    )
    con.create_table(
        "accounts",
        ibis.memtable(
            pd.DataFrame(
                {
                    "account_key": ["tmall:a", "tmall:b", "tmall:c", "tmall:d"],
                    "person_id": ["R1", "R1", "R2", "R3"],
                }
            )
        ),
    )
    found = pd.DataFrame(
        {
            "person_id": ["R1", "R2", "R3", "R4"],
            "promo_sensitivity": ["fanatic", "neutral", "unknown", None],
        }
    )
    s = sensitivity_confusion(found, con, truth)
    m = s.matrix
    assert m.loc["fanatic", "fanatic"] == 1 and m.loc["indifferent", "neutral"] == 1
    assert m.loc["neutral", "unknown"] == 1 and m.to_numpy().sum() == 3
    assert (s.classified, s.unknown) == (2, 1)
    # Agreement 1/2; chance: planted (fanatic 1, indifferent 1) x found (fanatic 1,
    # neutral 1) over 2 x 2 = 1/4; kappa = (1/2 - 1/4) / (1 - 1/4) = 1/3.
    assert (s.agreement, s.chance) == (0.5, 0.25)
    assert s.kappa == pytest.approx(1 / 3)


# On the 3,000-person fixture (seed 7).


@pytest.fixture(scope="module")
def synthetic(
    small_synth: SynthResult, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, Path, str]:
    """The fixture ingested into a temp project: (backend, truth dir, as-of = last day)."""
    s = load_settings(root=tmp_path_factory.mktemp("segment_truth"), env={})
    ingest(small_synth.raw_dir, s, progress=False)
    params = json.loads((small_synth.truth_dir / "parameters.json").read_text("utf-8"))
    as_of = dt.date.fromisoformat(params["end"]) - dt.timedelta(days=1)
    return connect(s, read_only=True), small_synth.truth_dir, as_of


@pytest.fixture(scope="module")
def snapshot(synthetic: tuple[Any, Path, str]) -> Snapshot:
    con, _, as_of = synthetic
    return segment(con, as_of)


@pytest.fixture(scope="module")
def recovery(snapshot: Snapshot, synthetic: tuple[Any, Path, str]) -> pd.DataFrame:
    return rc_recovery(snapshot, synthetic[1]).set_index("code")


@pytest.mark.slow
def test_usage_rc_is_the_planted_rc(recovery: pd.DataFrame) -> None:
    assert recovery["rc_usage"].tolist() == recovery["rc_planted"].tolist() == [60, 100, 45]


# The planted RC is what a main pack lasts the median person; person cycles are
# spread so that their 90th percentile is 3 RC, and a customer leaves after a
# number of their own cycles, so that with every purchase seen the method gives
# the planted RC: on persons acquired in the first eight years of a world that
# runs on to 2060, +1% (laundry), +1% (dishwasher), +2% (hand wash). The world's
# window (2023-01 to 2026-11) cuts long cycles short at its end, and a growing
# brand has most of its new customers late in it: on 21,000 persons (three seeds)
# the method on our brand's planted purchases gives -9%, -18.5% and -2%. Then
# refunds, campaign win-backs and gifts add long intervals.

GIFTS_LENGTHEN_INTERVALS = (
    "measured on the fixture: 71.9 days vs 60.7 on the true buyers (+18.4%); on 20,000 "
    "persons (seed 42) 67.9 vs 59.5 (+14.2%). About 3% of orders are gifts that the "
    "warehouse (rightly, by their evidence) gives to the receiver: a one-time buyer who "
    "also received a gift becomes a repeat customer with a long mean interval, and laundry, "
    "which most persons buy, takes most of them; with the gift orders left out the "
    "warehouse gives 60.8 (61.2)"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            "laundry", marks=pytest.mark.xfail(strict=True, reason=GIFTS_LENGTHEN_INTERVALS)
        ),
        "dishwasher",
        "handwash",
    ],
)
def test_inductive_rc_is_within_ten_percent_of_the_method_on_the_true_buyers(
    recovery: pd.DataFrame, code: str
) -> None:
    # Our computation, identity resolution included, against the same method on
    # the truth's buyers: what the generator makes of the planted RC is not ours.
    row = recovery.loc[code]
    assert abs(row["error_vs_true"]) <= 0.10, row.to_dict()


# With about 1,200 classified persons, kappa's standard error under no association
# is about 0.02: 0.3 is fifteen of them above chance. Measured with the default
# bounds: 0.43 on the fixture, 0.42 on 20,000 persons (seed 42). Where a person's
# few orders fall is chance, so a class is often missed by one step: fanatic
# found as sensitive, neutral as indifferent.
KAPPA_ABOVE_CHANCE = 0.3


@pytest.mark.slow
def test_sensitivity_agrees_with_the_planted_class_above_chance(
    snapshot: Snapshot, synthetic: tuple[Any, Path, str]
) -> None:
    con, truth, _ = synthetic
    s = sensitivity_confusion(snapshot.table, con, truth)
    assert s.kappa > KAPPA_ABOVE_CHANCE, (s.kappa, s.matrix)
    # The more sensitive the planted class, the more often it is found fanatic or sensitive.
    found = s.matrix.drop(columns="unknown")
    rate = found[["fanatic", "sensitive"]].sum(axis=1) / found.sum(axis=1)
    assert rate["fanatic"] > rate["sensitive"] > rate["neutral"] > rate["indifferent"]
    # And a planted fanatic is found fanatic more often than anything else.
    assert found.loc["fanatic"].idxmax() == "fanatic", found


@pytest.mark.slow
def test_the_checks_measure_what_lengthens_laundry(
    snapshot: Snapshot, synthetic: tuple[Any, Path, str]
) -> None:
    """02's check section: with the gift orders left out, laundry's RC comes close to the
    method on the true buyers, and the planted person RC over true repeat customers is
    below that over all true buyers (the window's end)."""
    checks = segment_checks(snapshot, synthetic[1])
    assert checks is not None
    rc = checks.rc.set_index("code")
    laundry = rc.loc["laundry"]
    off = abs(laundry["rc_inductive"] / laundry["rc_inductive_true"] - 1)
    off_without_gifts = abs(laundry["rc_no_gifts"] / laundry["rc_inductive_true"] - 1)
    assert off_without_gifts < off / 2, laundry.to_dict()
    assert (rc["rc_inductive_low"] <= rc["rc_inductive"]).all()
    assert (rc["rc_inductive"] <= rc["rc_inductive_high"]).all()
    assert (rc["rc_planted_repeaters"] <= rc["rc_planted_buyers"]).all()
    assert checks.sensitivity.kappa > KAPPA_ABOVE_CHANCE
    assert segment_checks(snapshot, synthetic[1] / "absent") is None
