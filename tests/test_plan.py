"""The planning job: history, baseline and interval, gap, levers and suggestion worked out
by hand on tiny tables; editions; the job on a small synthetic warehouse, its saved
versions and its refusals."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.config import PlanSettings
from workbench.plan import editions as ed
from workbench.plan.baseline import baseline, gap, total, weights
from workbench.plan.history import OUTSIDE, edition_rows
from workbench.plan.levers import apply_levers, check_levers, suggest

Z90 = float(stats.norm.ppf(0.95))


def history_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """History rows (year, segment, member_tier, new, population, buyers, gmv, gmv_sq)."""
    df = pd.DataFrame(
        rows,
        columns=["year", "segment", "member_tier", "new", "population", "buyers", "gmv", "gmv_sq"],
    )
    df["edition"] = "x-" + df["year"].astype(str)
    df["orders"] = df["buyers"]
    df["population"] = df["population"].astype("Int64")
    df["rate"] = df["buyers"] / df["population"].astype("float64")
    df["aov"] = df["gmv"] / df["buyers"]
    return df


# Cell A: 100 persons each year, 10, 20, 30 buyers, each spending exactly 100.
HISTORY = history_frame(
    [
        (2023, "A", "普通", False, 100, 10, 1000.0, 10 * 100.0**2),
        (2024, "A", "普通", False, 100, 20, 2000.0, 20 * 100.0**2),
        (2025, "A", "普通", False, 100, 30, 3000.0, 30 * 100.0**2),
    ]
)
TODAY = pd.DataFrame(
    {"segment": ["A"], "member_tier": ["普通"], "new": [False], "population": [200]}
)


def ac(buyers: float, persons: float) -> float:
    """Agresti and Coull's variance of a rate: two buyers and two non-buyers added."""
    p = (buyers + 2) / (persons + 4)
    return p * (1 - p) / (persons + 4)


def test_weights_by_hand() -> None:
    years = np.array([2023, 2024, 2025])
    assert weights(years, "last", 2026).tolist() == [0, 0, 1]
    assert weights(years, "mean", 2026).tolist() == pytest.approx([1 / 3] * 3)
    # least squares through x = 0, 1, 2 read at x = 3: 1/3 + (3 - 1)(x - 1)/2
    assert weights(years, "trend", 2026).tolist() == pytest.approx([-2 / 3, 1 / 3, 4 / 3])


def test_baseline_and_interval_by_hand_mean() -> None:
    b = baseline(HISTORY, TODAY, 2026, "mean", 0.9).set_index("segment").loc["A"]
    assert b["rate"] == pytest.approx(0.2)
    assert b["aov"] == pytest.approx(100.0)
    assert b["gmv"] == pytest.approx(200 * 0.2 * 100)
    # sampling: mean of three binomial variances / 3, plus the coming edition's own
    past = ac(10, 100) + ac(20, 100) + ac(30, 100)
    sampling = past / 9 + ac(0.2 * 200, 200)
    # spread: the rates' variance 0.01 less what sampling explains (their mean variance)
    tau2 = 0.01 - past / 3
    var_rate = sampling + tau2 * (1 + 1 / 3)
    sd = 200 * 100 * math.sqrt(var_rate)  # every buyer spent 100: the order value is sure
    assert b["gmv_sd"] == pytest.approx(sd)
    assert b["gmv_low"] == pytest.approx(4000 - Z90 * sd)
    assert b["gmv_high"] == pytest.approx(4000 + Z90 * sd)


def test_baseline_by_hand_trend() -> None:
    b = baseline(HISTORY, TODAY, 2026, "trend", 0.9).set_index("segment").loc["A"]
    assert b["rate"] == pytest.approx(0.4)
    assert b["gmv"] == pytest.approx(8000.0)
    # the rates lie on their line: no spread beyond sampling, which the weights carry
    w2 = np.array([4 / 9, 1 / 9, 16 / 9])
    var = w2 @ np.array([ac(10, 100), ac(20, 100), ac(30, 100)]) + ac(0.4 * 200, 200)
    assert b["gmv_sd"] == pytest.approx(200 * 100 * math.sqrt(var))


def test_order_value_uncertainty_from_the_spread_of_spend() -> None:
    # one edition, 4 buyers of 50, 50, 150, 150 of 10 persons: aov 100, spend variance
    # 3 * 50^2 * 4 / 3 / ... worked out: sum sq = 2*2500 + 2*22500 = 50000
    h = history_frame([(2025, "A", "普通", False, 10, 4, 400.0, 50000.0)])
    today = TODAY.assign(population=10)
    b = baseline(h, today, 2026, "last", 0.9).set_index("segment").loc["A"]
    s2 = (50000 - 4 * 100**2) / 3  # 3333.3: the buyers' spend variance
    var_rate = ac(4, 10) + ac(4, 10)  # last edition's and the coming one's
    var_aov = s2 / 4 + s2 / 4  # last edition's mean, and the coming edition's 4 buyers
    var = 10**2 * (100**2 * var_rate + 0.4**2 * var_aov + var_rate * var_aov)
    assert b["gmv"] == pytest.approx(400.0)
    assert b["gmv_sd"] == pytest.approx(math.sqrt(var))
    assert b["note"] == "one edition"


def test_buyers_from_outside_the_pool_are_counted_not_rated() -> None:
    h = pd.concat(
        [
            HISTORY,
            history_frame(
                [
                    (2023, OUTSIDE, "non_member", True, None, 40, 4000.0, 40 * 100.0**2),
                    (2024, OUTSIDE, "non_member", True, None, 50, 5000.0, 50 * 100.0**2),
                    (2025, OUTSIDE, "non_member", True, None, 60, 6000.0, 60 * 100.0**2),
                ]
            ),
        ],
        ignore_index=True,
    )
    b = baseline(h, TODAY, 2026, "mean", 0.9).set_index("segment")
    assert b.loc[OUTSIDE, "buyers"] == pytest.approx(50)
    assert b.loc[OUTSIDE, "gmv"] == pytest.approx(5000)
    assert math.isnan(b.loc[OUTSIDE, "rate"])
    # Poisson counts: variance of the mean 150/9, the coming count 50; spread 100 - 50
    var_b = 150 / 9 + 50 + (100 - 50) * (1 + 1 / 3)
    assert b.loc[OUTSIDE, "gmv_sd"] == pytest.approx(100 * math.sqrt(var_b))
    t = total(b.reset_index(), h, 2026, "mean", 0.9)
    assert t.value == pytest.approx(4000 + 5000)


def test_a_small_cell_that_all_bought_is_not_sure_to_again() -> None:
    """One person, who bought in the last edition: the rate's estimate is 1, and its
    interval is not a point (Agresti-Coull's two and two, last and coming edition)."""
    h = history_frame([(2025, "A", "普通", False, 1, 1, 119.0, 119.0**2)])
    b = baseline(h, TODAY.assign(population=1), 2026, "last", 0.9).set_index("segment").loc["A"]
    assert b["rate"] == 1.0 and b["gmv"] == pytest.approx(119.0)
    assert b["gmv_sd"] == pytest.approx(119.0 * math.sqrt(2 * ac(1, 1)))
    assert b["gmv_high"] - b["gmv_low"] > 119.0


def test_a_cell_never_seen_has_no_estimate() -> None:
    today = pd.concat(
        [
            TODAY,
            pd.DataFrame(
                {"segment": ["B"], "member_tier": ["VIP"], "new": [False], "population": [5]}
            ),
        ]
    )
    b = baseline(HISTORY, today, 2026).set_index("segment")
    assert b.loc["B", "gmv"] == 0 and b.loc["B", "note"] == "no history"
    assert b.loc["B", "editions"] == 0


def test_gap_is_shared_by_baseline_gmv() -> None:
    cells = pd.DataFrame(
        {
            "segment": ["A", "B", "C"],
            "member_tier": ["x"] * 3,
            "new": [False, False, True],
            "gmv": [4000.0, 1000.0, 500.0],
        }
    )
    g = gap(cells, 11000.0).set_index("segment")
    assert g["gap"].tolist() == pytest.approx([4000.0, 1000.0, 500.0])
    assert g["gap_share"].sum() == pytest.approx(1.0)
    # split: new customers must bring 1500 (their 500 is 1000 short), returning 9500
    g = gap(cells, 11000.0, target_new=1500.0).set_index("segment")
    assert g.loc["C", "gap"] == pytest.approx(1000.0)
    assert g.loc[["A", "B"], "gap"].tolist() == pytest.approx([3600.0, 900.0])
    with pytest.raises(ValueError, match="target GMV 0"):
        gap(cells, 0.0)
    with pytest.raises(ValueError, match="new customers' target 20000"):
        gap(cells, 11000.0, target_new=20000.0)


def test_levers_recompute_cells_and_are_checked() -> None:
    cells = baseline(HISTORY, TODAY, 2026, "mean")
    lv = pd.DataFrame(
        {
            "segment": ["A"],
            "member_tier": ["普通"],
            "rate": [0.25],
            "aov": [None],
            "measure": ["SMS"],
            "owner": ["Li"],
            "note": [""],
        }
    )
    out = apply_levers(cells, lv).set_index("segment").loc["A"]
    assert out["planned_gmv"] == pytest.approx(200 * 0.25 * 100)
    assert out["lever_gmv"] == pytest.approx(200 * 0.05 * 100)
    assert out["measure"] == "SMS" and out["owner"] == "Li"
    for bad, message in (
        ({"rate": 1.5}, "rate 1.5 is not between 0 and 1"),
        ({"aov": -1.0}, "order value -1.0 is below 0"),
        ({"segment": "Z"}, "no such cell"),
    ):
        with pytest.raises(ValueError, match=message):
            check_levers(lv.assign(**bad), cells)


def test_suggestion_takes_headroom_largest_first_and_caps_it() -> None:
    # today A/普通 is at 0.2; its neighbour tier 高级 reached 0.5 of 1,000 persons
    h = pd.concat(
        [HISTORY, history_frame([(2025, "A", "高级", False, 1000, 500, 50000.0, 500 * 100.0**2)])],
        ignore_index=True,
    )
    today = pd.concat(
        [
            TODAY,
            pd.DataFrame(
                {"segment": ["A"], "member_tier": ["高级"], "new": [False], "population": [10]}
            ),
        ]
    )
    cells = baseline(h, today, 2026, "mean")
    base = float(cells["gmv"].sum())
    s = suggest(cells, h, base + 500.0, cap=0.05).set_index("member_tier")
    # 普通: headroom to 0.5's lower bound, capped at 5 points: 200 * 0.05 * 100 = 1000;
    # only 500 are needed, so the proposal raises the rate by 2.5 points
    assert s.loc["普通", "headroom"] == pytest.approx(0.05)
    assert s.loc["普通", "gain"] == pytest.approx(500.0)
    assert s.loc["普通", "proposed_rate"] == pytest.approx(0.2 + 0.025)
    assert bool(s.loc["普通", "taken"])


# -- history on a tiny warehouse worked out by hand --------------------------------


def tiny_orders() -> Any:
    """Persons P1-P3 in the pool, P9 first seen in the window; brand 'ours' and 'theirs'."""
    con = ibis.duckdb.connect()
    ts = pd.Timestamp
    con.create_table(
        "orders",
        pd.DataFrame(
            {
                "order_key": ["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
                "account_key": ["a1", "a1", "a2", "a3", "a9", "a2", "a1"],
                "ordered_at": [
                    ts("2025-10-20 10:00"),
                    ts("2025-11-11 09:00"),
                    ts("2025-11-18 23:59"),
                    ts("2025-11-19 00:01"),  # after the window
                    ts("2025-11-01 12:00"),
                    ts("2025-11-02 12:00"),  # o6: theirs only
                    ts("2025-11-03 12:00"),  # o7: zero value
                ],
                "net_amount": [100.0, 50.0, 80.0, 70.0, 30.0, 999.0, 0.0],
            }
        ),
    )
    con.create_table(
        "accounts",
        pd.DataFrame(
            {"account_key": ["a1", "a2", "a3", "a9"], "person_id": ["P1", "P2", "P3", "P9"]}
        ),
    )
    con.create_table(
        "order_lines",
        pd.DataFrame(
            {
                "order_key": ["o1", "o2", "o3", "o4", "o5", "o6", "o6", "o7"],
                "sku": ["s1", "s1", "s1", "s1", "s1", "t1", "t1", "s1"],
            }
        ),
    )
    con.create_table("products", pd.DataFrame({"sku": ["s1", "t1"], "brand": ["ours", "theirs"]}))
    return con


def test_edition_rows_by_hand() -> None:
    con = tiny_orders()
    e = ed.calendar_edition("双11", 2025)
    assert e is not None and (e.start, e.end) == (dt.date(2025, 10, 20), dt.date(2025, 11, 18))
    pop = ibis.memtable(
        {
            "person_id": ["P1", "P2", "P3"],
            "segment": ["A", "A", "B"],
            "member_tier": ["VIP", "VIP", "non_member"],
            "new": [False, False, True],
        }
    )
    rows = edition_rows(con, e, pop).set_index(["segment", "member_tier"])
    a = rows.loc[("A", "VIP")]
    # P1 bought 100 + 50 in the window (o7 is worth nothing); P2 bought 80 on the last
    # day (o6 is all another brand's). Two persons, two buyers, 230.
    assert (a["population"], a["buyers"], a["orders"], a["gmv"]) == (2, 2, 3, 230.0)
    assert a["rate"] == 1.0 and a["aov"] == 115.0
    assert a["gmv_sq"] == pytest.approx(150.0**2 + 80.0**2)
    b = rows.loc[("B", "non_member")]  # P3 bought after the window
    assert (b["population"], b["buyers"], b["gmv"]) == (1, 0, 0.0)
    out = rows.loc[(OUTSIDE, "non_member")]  # P9 was not in the pool
    assert pd.isna(out["population"]) and (out["buyers"], out["gmv"]) == (1, 30.0)


# -- editions ------------------------------------------------------------------


def test_given_edition_dates_are_read_and_checked() -> None:
    e = ed.given_edition("双11", "2026-10-20,2026-11-01,2026-11-12,2026-11-15,2026-11-18")
    assert [p for p, _, _ in e.phases()] == list(ed.PHASES)
    assert e.phases()[0] == ("warmup", dt.date(2026, 10, 20), dt.date(2026, 10, 31))
    assert e.phases()[-1] == ("tail", dt.date(2026, 11, 15), dt.date(2026, 11, 18))
    with pytest.raises(ValueError, match="five dates"):
        ed.given_edition("双11", "2026-10-20,2026-11-01")
    with pytest.raises(ValueError, match="not in order"):
        ed.given_edition("双11", "2026-11-20,2026-11-01,2026-11-12,2026-11-15,2026-11-18")
    a = ed.calendar_edition("双11", 2025)
    assert a is not None
    b = ed.given_edition("双11", "2025-11-10,2025-11-20,2025-11-25,2025-11-28,2025-11-30")
    with pytest.raises(ValueError, match="overlap"):
        ed.check_editions([a, b])


# -- the job on a small synthetic warehouse -------------------------------------


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, small_synth: Any) -> Any:
    from workbench.config import load_settings
    from workbench.engine import connect
    from workbench.unify import ingest

    root = tmp_path_factory.mktemp("plan")
    s = load_settings(root=root, env={})
    ingest(small_synth.raw_dir, s, progress=False)
    return connect(s), s


AS_OF = dt.date(2026, 10, 19)


def test_an_earlier_snapshot_read_from_a_later_ones_purchases_is_the_same(warehouse: Any) -> None:
    """A plan makes its eves' snapshots from the order facts of the latest: each equals
    the snapshot made from the warehouse alone, and one of a later date is refused."""
    from workbench import segment

    con, s = warehouse
    later = segment.run(con, AS_OF, s.segment, scores=False)
    eve = dt.date(2025, 10, 20)
    alone = segment.run(con, eve, s.segment, scores=False).table.to_pandas()
    read = segment.run(con, eve, s.segment, scores=False, within=later.purchases)
    assert len(alone) > 1000
    pd.testing.assert_frame_equal(
        read.table.to_pandas().sort_values("person_id").reset_index(drop=True),
        alone.sort_values("person_id").reset_index(drop=True),
    )
    assert read.purchases.absent == later.purchases.absent
    with pytest.raises(ValueError, match="cannot be read"):
        segment.run(con, AS_OF, s.segment, scores=False, within=read.purchases)


def test_plan_run_write_and_versions(warehouse: Any) -> None:
    from workbench import plan

    con, s = warehouse
    p = plan.run(con, AS_OF, "d11", 100_000.0, PlanSettings(), segment_settings=s.segment, salt="x")
    assert p.coming.name == "双11-2026" and p.coming.source == "campaigns"
    assert [e.name for e in p.past] == ["双11-2023", "双11-2024", "双11-2025"]
    # the population today is the pool of the snapshot as of AS_OF
    from workbench import segment

    pool = int(segment.stored(con, AS_OF).count().execute())
    assert int(p.cells["population"].fillna(0).sum()) == pool
    assert p.total.low <= p.total.value <= p.total.high
    assert p.total.value == pytest.approx(float(p.cells["gmv"].sum()))
    assert p.cells["gap"].sum() == pytest.approx(100_000.0 - p.total.value)
    v1 = plan.write(con, p)
    v2 = plan.write(con, p)
    assert (v1, v2) == (1, 2)
    got = plan.stored(con, "d11")
    assert got.version == 2 and len(got.cells) == len(p.cells)
    assert plan.stored(con, "d11", 1).version == 1
    packs = got.packs.to_pandas()
    # every person has one arm across the phases, and the holdout is near its share
    assert (packs.groupby("person_id")["arm"].nunique() == 1).all()
    share = (packs.drop_duplicates("person_id")["arm"] == "control").mean()
    assert abs(share - 0.1) < 4 * math.sqrt(0.1 * 0.9 / packs["person_id"].nunique())
    with pytest.raises(LookupError, match="no plan named 'nope'"):
        plan.stored(con, "nope")
    with pytest.raises(LookupError, match="no version 9"):
        plan.stored(con, "d11", 9)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": 0.0}, "target GMV 0.0 must be above 0"),
        ({"settings": PlanSettings(promotion="春节")}, "promotion '春节' is unknown"),
        ({"as_of": dt.date(2023, 3, 1)}, "no past edition of 双11"),
        ({"name": "../etc"}, "plan name '../etc' is not a valid file name"),
        (
            {
                "as_of": dt.date(2026, 10, 25),
                "edition_dates": "2026-10-20,2026-11-01,2026-11-12,2026-11-15,2026-11-18",
            },
            "as-of date 2026-10-25 is not before the edition",
        ),
        (
            {
                "levers": pd.DataFrame(
                    {"segment": ["active_old"], "member_tier": ["VIP"], "rate": [2.0]}
                )
            },
            "rate 2.0 is not between 0 and 1",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    warehouse: Any, change: dict[str, Any], message: str
) -> None:
    from workbench import plan

    con, s = warehouse
    args: dict[str, Any] = {
        "as_of": AS_OF,
        "name": "bad",
        "target": 1000.0,
        "settings": PlanSettings(),
    }
    args.update(change)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        plan.run(
            con,
            args.pop("as_of"),
            args.pop("name"),
            args.pop("target"),
            args.pop("settings"),
            segment_settings=s.segment,
            salt="x",
            **args,
        )
    if "plans" in con.list_tables():
        t = con.table("plans")
        assert int(t.filter(t.name == "bad").count().execute()) == 0


def test_holdout_share_outside_its_range_is_refused() -> None:
    for share in (0.0, 0.6):
        with pytest.raises(ValueError, match=f"plan holdout_share {share}"):
            PlanSettings(holdout_share=share).check()


def test_the_backtest_of_the_last_edition(warehouse: Any) -> None:
    """The 双11-2026 baseline as of its eve against what happened: the same cells, the
    actual measured as the history measures an edition; the coverage is reported, not
    asserted. A plan for an edition not over has no backtest."""
    from workbench import plan, segment
    from workbench.plan.history import cells, window_spend

    con, s = warehouse
    p = plan.run(con, AS_OF, "bt", None, PlanSettings(), segment_settings=s.segment, salt="x")
    bt = plan.backtest(con, p)
    assert bt is not None and len(bt) == len(p.cells)
    # each cell's actual, worked out here in pandas: every pool person's spend in the
    # window, summed by the cell they were in on the eve; everyone else's is "outside"
    pool = cells(segment.stored(con, AS_OF), "s2").to_pandas()
    spend = window_spend(con, p.coming.start, p.coming.end).to_pandas()
    spend = spend.merge(pool, on="person_id", how="left")
    spend["segment"] = spend["segment"].fillna("outside")
    spend["gmv"] = spend["gmv"].astype(float)
    by_cell = spend.groupby(["segment", "member_tier"], dropna=False)["gmv"].sum()
    is_out = bt["segment"] == "outside"
    assert bt.loc[is_out, "actual_gmv"].sum() == pytest.approx(
        spend.loc[spend["segment"] == "outside", "gmv"].sum(), abs=0.005
    )
    for _, row in bt[~is_out].iterrows():
        want = by_cell.get((row["segment"], row["member_tier"]), 0.0)
        assert row["actual_gmv"] == pytest.approx(want, abs=0.005), row.to_dict()
    # a cell's actual well inside its interval is inside, one well beyond it is not
    low, high, actual = bt["gmv_low"], bt["gmv_high"], bt["actual_gmv"]
    assert bt.loc[(actual > low + 1) & (actual < high - 1), "inside"].all()
    assert not bt.loc[(actual < low - 1) | (actual > high + 1), "inside"].any()
    assert bt["inside"].any() and not bt["inside"].all()
    later = plan.run(
        con,
        dt.date(2026, 11, 19),
        "next",
        None,
        PlanSettings(promotion="618"),
        segment_settings=s.segment,
        salt="x",
    )
    assert later.coming.name == "618-2027" and plan.backtest(con, later) is None


def test_plan_names_are_file_names() -> None:
    """A plan name is a file name: the rule accepts Chinese and refuses separators."""
    from workbench.plan import check_name

    assert check_name("双11-2026_v.b") == "双11-2026_v.b"
    for bad in ("a/b", ".hidden", "-x", "a b", ""):
        with pytest.raises(ValueError):
            check_name(bad)


def test_the_planners_edits_become_levers_and_recompute_the_plan(warehouse: Any) -> None:
    from workbench import plan
    from workbench.ui.planner import levers_of

    con, s = warehouse
    p = plan.run(con, AS_OF, "ed", 100_000.0, PlanSettings(), segment_settings=s.segment, salt="x")
    cell = p.cells[p.cells["population"].fillna(0) > 0].iloc[0]
    key = (cell["segment"], cell["member_tier"])
    other = p.cells[p.cells["population"].fillna(0) > 0].iloc[1]
    edits = {
        key: {"rate": float(cell["rate"]) + 0.1, "measure": "SMS", "owner": "Wang"},
        (other["segment"], other["member_tier"]): {"rate": float(other["rate"])},  # unchanged
    }
    lv = levers_of(p, edits)
    assert len(lv) == 1 and lv.iloc[0]["owner"] == "Wang"
    q = plan.with_levers(p, lv)
    added = float(cell["population"]) * 0.1 * float(cell["aov"])
    assert q.planned == pytest.approx(p.planned + added)
    assert q.remaining_gap == pytest.approx(100_000.0 - p.planned - added)
    assert q.total == p.total  # the baseline stays


def test_pack_sizes_power_and_files_of_a_saved_plan(warehouse: Any, tmp_path: Path) -> None:
    from workbench import plan

    con, s = warehouse
    settings = PlanSettings(arms="A,B", holdout_share=0.2)
    p = plan.run(con, AS_OF, "packs", 100_000.0, settings, segment_settings=s.segment, salt="x")
    sizes = plan.pack_sizes(p)
    packs = p.packs().to_pandas()
    assert int(sizes["persons"].sum()) == len(packs)
    assert set(sizes["arm"]) == {"control", "A", "B"}
    # a person has one arm; the two arms take equal shares of the treated
    arms = packs.drop_duplicates("person_id")["arm"].value_counts()
    n = int(arms.sum())
    assert abs(arms["control"] / n - 0.2) < 4 * math.sqrt(0.2 * 0.8 / n)
    assert abs(arms["A"] - arms["B"]) < 4 * math.sqrt(n * 0.8 * 0.25)
    pw = plan.power(p).set_index(["segment", "member_tier"])
    big = pw["population"].idxmax()
    # the largest cell's MDE at 20% holdout, against statsmodels' own solver
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    n_c = pw.loc[big, "population"] * 0.2
    h = NormalIndPower().solve_power(nobs1=n_c, ratio=4.0, alpha=0.05, power=0.8)
    r = float(pw.loc[big, "rate"])
    hit = math.sin(math.asin(math.sqrt(r)) + h / 2) ** 2  # Cohen's h back to a rate
    assert proportion_effectsize(hit, r) == pytest.approx(h)
    assert pw.loc[big, "mde_abs"] == pytest.approx(hit - r, rel=1e-3)
    version = plan.write(con, p)
    out = plan.export(con, p, version, tmp_path)
    assert out.folder == tmp_path / "plans" / f"packs-v{version}"
    written = [f for f in out.files["file"].dropna()]
    assert written and all((out.folder / Path(str(f)).name).is_file() for f in written)


def test_the_history_table_shows_the_cells_the_editions_saw(warehouse: Any) -> None:
    """One row per segment x member tier found in some past edition, none for a pair no
    edition saw (trial members are members), and each edition's persons as counted."""
    from workbench import plan
    from workbench.report.labels import label
    from workbench.report.views.plan import edition_label, history_table

    con, s = warehouse
    p = plan.run(con, AS_OF, "shown", None, PlanSettings(), segment_settings=s.segment, salt="x")
    df = history_table(p, "en").data
    seg, tier = label("plan_segment", "en"), label("member_tier", "en")
    seen = p.history[p.history["population"].notna() | p.history["gmv"].notna()]
    assert len(df) == len(seen[["segment", "member_tier"]].drop_duplicates())
    assert not (
        (df[seg] == label("trial_member", "en")) & (df[tier] == label("non_member", "en"))
    ).any()
    last = p.past[-1].name
    persons = f"{edition_label(last, 'en')} {label('plan_population', 'en')}"
    assert df[persons].sum() == p.history.loc[p.history["edition"] == last, "population"].sum()
