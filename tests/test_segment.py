"""Segmentation on a warehouse of seven persons, every figure worked out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest

from workbench.config import SegmentSettings
from workbench.engine import duckdb_connect
from workbench.schema import SEGMENTS, TABLES
from workbench.segment import stored_settings, write
from workbench.segment.facts import purchases
from workbench.segment.rc import p90_interval, repurchase_cycles
from workbench.segment.segments import segment

AS_OF = dt.date(2024, 12, 31)
USAGE = SegmentSettings(rc_method="usage")

# (order, person, day, sku, quantity, goods, discount, paid); every line is the whole order.
ORDERS = [
    ("o11", "P1", "2024-01-01", "L", 1, 100.0, 0.0, 100.0),
    ("o12", "P1", "2024-03-01", "L", 1, 100.0, 20.0, 80.0),  # a shop discount
    ("o13", "P1", "2024-05-01", "L", 1, 100.0, 0.0, 100.0),
    ("o14", "P1", "2024-12-01", "L", 1, 100.0, 0.0, 100.0),  # in the burst
    ("o21", "P2", "2024-06-01", "L", 1, 80.0, 0.0, 80.0),
    ("o22", "P2", "2024-08-01", "L", 1, 80.0, 0.0, 80.0),
    ("o31", "P3", "2024-01-10", "L", 1, 70.0, 0.0, 70.0),
    ("o32", "P3", "2024-06-01", "S", 1, 60.0, 0.0, 60.0),  # the sister brand, later
    ("o41", "P4", "2024-11-01", "H", 1, 50.0, 0.0, 50.0),  # a member coupon (coupons)
    ("o42", "P4", "2024-12-01", "H", 1, 50.0, 10.0, 40.0),  # in the burst, discounted
    ("o51", "P5", "2024-10-01", "S", 1, 60.0, 0.0, 60.0),  # only ever the sister brand
    ("o61", "P1", "2025-01-05", "L", 1, 100.0, 0.0, 100.0),  # after the as-of date
]


def order_rows(o: pd.DataFrame) -> pd.DataFrame:
    """``orders`` rows of Tmall accounts ``tmall:<person>``, at 10:00 on ``day``, from
    ``order_key``, ``person``, ``day``, ``goods``, ``disc`` and ``paid``."""
    return pd.DataFrame(
        {
            "order_key": o["order_key"],
            "platform": "tmall",
            "account_key": "tmall:" + o["person"],
            "ordered_at": pd.to_datetime(o["day"]) + pd.Timedelta(hours=10),
            "goods_amount": o["goods"],
            "discount_amount": o["disc"],
            "paid_amount": o["paid"],
            "net_amount": o["paid"],
        }
    )


def typed(name: str, frame: pd.DataFrame) -> ir.Table:
    """``frame`` as the warehouse stores table ``name``: money as exact decimals."""
    schema = TABLES[name].schema
    return ibis.memtable(frame).cast({c: schema[c] for c in frame.columns if c in schema})


def tiny_warehouse() -> Any:
    con = duckdb_connect(":memory:")
    o = pd.DataFrame(
        ORDERS, columns=["order_key", "person", "day", "sku", "qty", "goods", "disc", "paid"]
    )
    con.create_table("orders", typed("orders", order_rows(o)))
    con.create_table(
        "order_lines",
        typed(
            "order_lines",
            pd.DataFrame(
                {
                    "order_key": o["order_key"],
                    "line_no": 1,
                    "sku": o["sku"],
                    "quantity": o["qty"],
                    "unit_price": o["goods"],
                    "line_amount": o["paid"],
                }
            ),
        ),
    )
    con.create_table(
        "products",
        typed(
            "products",
            pd.DataFrame(
                {
                    "sku": ["L", "S", "H"],
                    "brand": ["ours", "sister", "ours"],
                    "category": ["laundry", "laundry", "handwash"],
                    "uses_per_unit": [30.0, 30.0, 225.0],
                    "daily_uses": [0.5, 0.5, 5.0],
                    "list_price": [100.0, 60.0, 50.0],
                }
            ),
        ),
    )
    people = [f"P{i}" for i in range(1, 8)]
    accounts = pd.DataFrame(
        {
            "account_key": [f"tmall:{p}" for p in people[:5]] + ["crm:M1", "crm:M6"],
            "platform": ["tmall"] * 5 + ["crm", "crm"],
            "person_id": [*people[:5], "P1", "P6"],
        }
    )
    con.create_table("accounts", ibis.memtable(accounts))
    con.create_table("persons", ibis.memtable(pd.DataFrame({"person_id": people})))
    con.create_table(
        "members",
        ibis.memtable(
            pd.DataFrame(
                {
                    "member_id": ["M1", "M6"],
                    "tier": ["VIP", "普通"],
                    "city": ["北京市", "上海市"],
                    "register_channel": ["天猫", "门店"],
                    "joined_at": pd.to_datetime(["2024-12-15", "2023-01-01"]).date,
                }
            )
        ),
    )
    con.create_table(
        "coupons",
        ibis.memtable(pd.DataFrame({"coupon_id": ["c1"], "used_order_key": ["o41"]})),
    )
    con.create_table(
        "campaigns",
        ibis.memtable(
            pd.DataFrame(
                {
                    "campaign_id": ["x"],
                    "burst_start": pd.to_datetime(["2024-12-01"]).date,
                    "burst_end": pd.to_datetime(["2024-12-02"]).date,
                }
            )
        ),
    )
    return con


def test_repurchase_cycles_by_both_methods() -> None:
    p = purchases(tiny_warehouse(), AS_OF)
    assert p.brand == "ours" and p.has_other_brands
    t = repurchase_cycles(p, USAGE).table.set_index("category", drop=False)
    laundry, handwash = t.loc["laundry"], t.loc["handwash"]
    # Usage: 30 uses per pack at 0.5 a day; 225 uses at 5 a day.
    assert laundry["rc_usage"] == 60.0 and handwash["rc_usage"] == 45.0
    # Inductive: laundry repeaters P1 (335 days over 3 intervals) and P2 (61 days);
    # p90 by linear interpolation = 61 + 0.9 * (335/3 - 61); RC = p90 / 3.
    assert laundry["repeaters"] == 2
    assert laundry["rc_inductive"] == pytest.approx((61 + 0.9 * (335 / 3 - 61)) / 3)
    assert handwash["rc_inductive"] == pytest.approx(30 / 3)  # P4 alone, 30 days
    overall = t[t["category"].isna()].iloc[0]
    # Overall: P4 30, P2 61, P1 111.67; p90 at position 1.8: 61 + 0.8 * (111.67 - 61).
    assert overall["rc_inductive"] == pytest.approx((61 + 0.8 * (335 / 3 - 61)) / 3)
    assert overall["rc_usage"] == 60.0  # seven laundry purchases of 60 days, two of 45
    # The p90's 95% interval: ranks floor(0.9 n - 1.96 sqrt(0.09 n)) and
    # ceil(0.9 n + 1.96 sqrt(0.09 n)). One or two repeat customers set no bound
    # (ranks 0 and 2, 0 and 3); of the three overall, the lower bound is the
    # smallest interval (rank floor(2.7 - 1.02) = 1: P4's 30 days), the upper none (rank 4).
    assert t[["rc_inductive_low", "rc_inductive_high"]].iloc[:2].isna().all().all()
    assert overall["rc_inductive_low"] == 30 / 3 and pd.isna(overall["rc_inductive_high"])
    assert set(t["method"]) == {"usage"}
    auto = repurchase_cycles(p, SegmentSettings(min_repeaters=2)).table.set_index("category")
    assert auto.loc["laundry", "method"] == "inductive"
    assert auto.loc["handwash", ["method", "reason"]].tolist() == ["usage", "few_repeaters"]


def test_the_p90_interval_holds_the_true_p90_ninety_five_times_in_a_hundred() -> None:
    # 400 samples of 300 exponential intervals (mean 20 days): the true p90 is 20 ln 10.
    rng = np.random.default_rng(7)
    samples, n = 400, 300
    iv = ibis.memtable(
        {
            "sample": np.repeat(np.arange(samples), n),
            "mean_interval": rng.exponential(20.0, samples * n),
        }
    )
    got = p90_interval(iv, ("sample",), 0.9).to_pandas()
    assert len(got) == samples and (got["repeaters"] == n).all()
    truth = 20.0 * np.log(10.0)
    held = ((got["p90_low"] <= truth) & (truth <= got["p90_high"])).mean()
    assert 0.92 <= held <= 0.98
    # The bounds are the 259th and 281st of 300 sorted intervals:
    # 270 -/+ 1.96 * sqrt(300 * 0.09) = 270 -/+ 10.18, floored and ceiled.
    first = np.sort(iv.to_pandas().query("sample == 0")["mean_interval"].to_numpy())
    row = got.set_index("sample").loc[0]
    assert row["p90_low"] == first[259 - 1] and row["p90_high"] == first[281 - 1]


@pytest.fixture(scope="module")
def snapshot() -> pd.DataFrame:
    s = segment(tiny_warehouse(), AS_OF, USAGE)
    return s.table.to_pandas().set_index("person_id")


def test_every_person_of_the_pool_is_segmented(snapshot: pd.DataFrame) -> None:
    assert sorted(snapshot.index) == [f"P{i}" for i in range(1, 8)]
    assert (snapshot["as_of"] == pd.Timestamp(AS_OF)).all()


def test_recency_and_rc_by_hand(snapshot: pd.DataFrame) -> None:
    got = snapshot.loc[["P1", "P2", "P3", "P4"], ["recency_days", "rc_days", "rc_category"]]
    assert got.to_dict("index") == {
        "P1": {"recency_days": 30, "rc_days": 60.0, "rc_category": "laundry"},
        "P2": {"recency_days": 152, "rc_days": 60.0, "rc_category": "laundry"},
        "P3": {"recency_days": 356, "rc_days": 60.0, "rc_category": "laundry"},
        "P4": {"recency_days": 30, "rc_days": 45.0, "rc_category": "handwash"},
    }
    assert snapshot.loc["P1", ["purchases", "orders", "net_amount"]].tolist() == [4, 4, 380.0]


def test_lifecycle_tiers_by_hand(snapshot: pd.DataFrame) -> None:
    tiers = snapshot[["tier_l1", "tier_l2", "tier_l3", "tier_s2"]].apply(tuple, axis=1).to_dict()
    assert tiers == {
        # R = 30 days = 0.5 RC; four purchases at 95 a purchase, above the active median.
        "P1": ("active", "highly_awake", "loyal", "new_member"),
        # R = 152 days = 2.53 RC: past the 2.5 RC light-sleep bound; two purchases.
        "P2": ("sleeping", "deep_sleep", "deep_sleep", "high_recovery_pre_churn"),
        # R = 356 days, and a sister-brand purchase after the last of ours.
        "P3": ("lost", "brand_lost", "brand_lost", "churned"),
        "P4": ("active", "highly_awake", "returning", "active_old"),
        "P5": ("potential", "competitor_buyer", "competitor_buyer", "potential_member"),
        "P6": ("potential", "category_potential", "category_potential", "trial_member"),
        "P7": ("potential", "category_potential", "category_potential", "potential_member"),
    }


def test_rfm_segments_by_hand(snapshot: pd.DataFrame) -> None:
    buyers = snapshot.loc[["P1", "P2", "P3", "P4"]]
    # R: P3 356 -> 1, P2 152 -> 2, P1 and P4 30 -> 3 (ties share the lower score).
    # F: P3 1 -> 1, P2 and P4 2 -> 2, P1 4 -> 4. M: P3 70, P4 90, P2 160, P1 380 -> 1..4.
    scores = buyers[["r_score", "f_score", "m_score"]].astype(int).apply(tuple, axis=1)
    assert scores.to_dict() == {
        "P1": (3, 4, 4),
        "P2": (2, 2, 3),
        "P3": (1, 1, 1),
        "P4": (3, 2, 2),
    }
    # Mean scores 2.25, 2.25, 2.5: high at or above.
    assert buyers["rfm_segment"].to_dict() == {
        "P1": "important_value",
        "P2": "important_retain",
        "P3": "general_retain",
        "P4": "general_develop",
    }
    assert snapshot.loc[["P5", "P6", "P7"], "rfm_segment"].isna().all()


def test_quadrants_and_sensitivity_by_hand(snapshot: pd.DataFrame) -> None:
    # Frequency high above the median of 2 purchases; value per purchase
    # (95, 80, 70, 45) high at or above its median of 75.
    assert snapshot.loc[["P1", "P2", "P3", "P4"], "quadrant"].tolist() == [
        "hf_hv",
        "lf_hv",
        "lf_lv",
        "lf_lv",
    ]
    # P1: o12 discounted, o14 in the burst: 2 of 4 -> neutral. P2: none -> indifferent.
    # P3: one purchase of ours -> unknown. P4: both (coupon, burst) -> sensitive, its
    # mean discount depth (0 and 0.2) of 0.1 short of a fanatic's 0.2.
    got = snapshot.loc[["P1", "P2", "P3", "P4"], ["promo_share", "discount_depth"]]
    assert got.to_dict("index") == {
        "P1": {"promo_share": 0.5, "discount_depth": pytest.approx(0.05)},
        "P2": {"promo_share": 0.0, "discount_depth": pytest.approx(0.2)},  # 80 of list 100
        "P3": {"promo_share": 0.0, "discount_depth": pytest.approx(0.3)},  # 70 of list 100
        "P4": {"promo_share": 1.0, "discount_depth": pytest.approx(0.1)},
    }
    assert snapshot.loc[["P1", "P2", "P3", "P4"], "promo_sensitivity"].tolist() == [
        "neutral",
        "indifferent",
        "unknown",
        "sensitive",
    ]
    assert snapshot.loc["P1", "member_tier"] == "VIP" and snapshot.loc["P6", "is_member"]


def test_discount_depth_leaves_out_orders_without_a_list_price() -> None:
    con = tiny_warehouse()
    # P2 gets a third order whose lines are missing: no list price to measure against.
    extra = (
        con.table("orders")
        .filter(ibis._.order_key == "o22")
        .mutate(
            order_key=ibis.literal("o23"),
            ordered_at=ibis.literal(pd.Timestamp("2024-08-15 10:00")),
            paid_amount=ibis.literal(30.0),
            net_amount=ibis.literal(30.0),
        )
    )
    con.insert("orders", extra)
    got = segment(con, AS_OF).table.to_pandas().set_index("person_id").loc["P2"]
    # Depth over o21 and o22 only (80 of list 100, twice): 0.2, not (0.2 + 0.2 + 0) / 3.
    assert got["discount_depth"] == pytest.approx(0.2)
    assert got["orders"] == 3 and got["promo_share"] == 0.0


def test_snapshots_of_two_dates_live_side_by_side() -> None:
    con = tiny_warehouse()
    first = segment(con, AS_OF, USAGE)
    assert write(con, first) == 7
    assert write(con, first) == 7  # the same date again replaces, not adds
    assert stored_settings(con, AS_OF) == USAGE  # the settings it was made with
    assert stored_settings(con, dt.date(2025, 1, 31)) is None
    later = segment(con, dt.date(2025, 1, 31), USAGE)
    write(con, later)
    stored = con.table("segments").to_pandas()
    assert stored.groupby("as_of").size().tolist() == [7, 7]
    p1 = stored[stored["person_id"] == "P1"].set_index("as_of")["recency_days"]
    assert p1.tolist() == [30, 26]  # the order of 2025-01-05 counts only in the later one


def test_snapshot_columns_are_the_documented_segments_table() -> None:
    s = segment(tiny_warehouse(), AS_OF, USAGE)
    assert s.table.schema() == SEGMENTS.schema


def test_segment_command_stores_snapshots(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from workbench.cli import app

    path = tmp_path / "wh.duckdb"
    con = tiny_warehouse()
    file = duckdb_connect(path)
    for name in con.list_tables():
        file.create_table(name, con.table(name).to_pyarrow())
    file.disconnect()
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_WAREHOUSE", str(path))
    monkeypatch.setenv("WORKBENCH_SEGMENT_RC_METHOD", "usage")
    runner = CliRunner()
    args = ["segment", "--no-scores", "--as-of", str(AS_OF), "--as-of", "2025-01-31"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    # P1 and P4 active; P2 sleeping; P3 lost; P5, P6, P7 potential (see the tests above).
    assert f"{AS_OF}: 7 persons (active 2, lost 1, potential 3, sleeping 1)" in out.output
    again = runner.invoke(app, ["segment"])  # the last order date: 2025-01-05
    assert again.exit_code == 0 and "\n2025-01-05: 7 persons" in again.output
    assert "7-day propensity" in again.output
    stored = duckdb_connect(path, read_only=True).table("segments").to_pandas()
    assert sorted(stored["as_of"].astype(str).unique()) == [
        "2024-12-31",
        "2025-01-05",
        "2025-01-31",
    ]
    bad = runner.invoke(app, ["segment", "--as-of", "2024-02-30"])
    assert bad.exit_code == 2 and "as_of takes a calendar date" in bad.output
    # It says which warehouse it read and wrote, and why a date before any order fails.
    assert f"warehouse {path}: orders 2024-01-01 to 2025-01-05" in out.output
    early = runner.invoke(app, ["segment", "--as-of", "1990-01-01"])
    assert early.exit_code == 2
    assert "no orders on or before 1990-01-01: the first order is of 2024-01-01" in early.output


def test_explorer_retiers_in_memory_as_the_bounds_move(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.segment import recency_frame, retier, tier_sizes
    from workbench.ui.explorer import tier_explorer

    s = segment(tiny_warehouse(), AS_OF, USAGE)
    frame = recency_frame(s)
    assert s.loyal_aov == pytest.approx(70.0)  # median of P1's 95 and P4's 45
    key = ["level", "tier"]
    same = retier(frame, USAGE, s.loyal_aov).sort_values(key, ignore_index=True)
    from_table = tier_sizes(s.table).sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(same, from_table, check_dtype=False)
    # P2 is 2.53 RC past their last purchase: active once the bound is 2.6 RC.
    moved = retier(frame, USAGE.updated({"active_rc": 2.6, "light_sleep_rc": 2.8}), s.loyal_aov)
    level1 = moved[moved["level"] == 1].set_index("tier")["persons"]
    assert level1.to_dict() == {"potential": 3, "active": 3, "lost": 1}
    monkeypatch.setenv("WORKBENCH_HEADLESS", "1")
    static = tier_explorer(s, "en")._repr_html_()
    # In a report the explorer says where its sliders work, not the same table again.
    assert "JupyterLab" in static and "Download CSV" not in static
    monkeypatch.delenv("WORKBENCH_HEADLESS")
    box = tier_explorer(s, "en")
    *sliders, out = box.children
    assert [sl.value for sl in sliders] == [1.0, 2.0, 2.5, 3.0]
    assert sliders[1].description == "Active up to (RC)"
    assert all(sl.layout.width == "100%" for sl in sliders)  # one per row, a usable track
    shown = out.outputs[0]["data"]["text/html"]
    assert "Deep sleep" in shown and "Moderately awake" not in shown
    sliders[2].value = 2.8  # the table redraws: P2 (2.53 RC) falls in light sleep
    shown = out.outputs[0]["data"]["text/html"]
    assert "Light sleep" in shown and "Deep sleep" not in shown
    sliders[1].value = 2.6  # and, active up to 2.6 RC, becomes moderately awake
    assert "Moderately awake" in out.outputs[0]["data"]["text/html"]
    # Bounds cannot cross: active beyond light sleep and lost pushes both along,
    # highly awake below them pulls nothing; the table never turns into an error.
    sliders[1].value = 3.5
    assert [sl.value for sl in sliders] == [1.0, 3.5, 3.5, 3.5]
    sliders[0].value = 0.5
    sliders[3].value = 0.75
    assert [sl.value for sl in sliders] == [0.5, 0.75, 0.75, 0.75]
    assert "Highly awake" in out.outputs[0]["data"]["text/html"]


def test_propensity_features_and_label_by_hand() -> None:
    import datetime as dt

    import numpy as np

    from workbench.segment.propensity import features, top_decile_lift

    p = purchases(tiny_warehouse(), AS_OF)
    cycles = repurchase_cycles(p, USAGE)
    f = features(p, cycles, dt.date(2024, 11, 30)).to_pandas().set_index("person_id")
    assert sorted(f.index) == ["P1", "P2", "P3", "P4"]  # P5 bought only the sister brand
    # P1 and P4 bought on 2024-12-01, inside the week after the cutoff.
    assert f["label"].to_dict() == {"P1": 1, "P2": 0, "P3": 0, "P4": 1}
    # P1: three purchase days before the cutoff, the last on 2024-05-01 (213 days), 121
    # days from first to last over two intervals, one discounted order of three.
    p1 = f.loc["P1"]
    assert (p1["purchases"], p1["recency_days"], p1["mean_interval"]) == (3, 213, 60.5)
    assert p1["r_rc"] == pytest.approx(213 / 60) and p1["promo_share"] == pytest.approx(1 / 3)
    assert f.loc["P3", "mean_interval"] == -1.0  # one purchase: no interval
    assert f.loc["P4", ["days_30", "days_90", "days_365"]].tolist() == [1, 1, 1]
    assert top_decile_lift(np.array([0, 1, 0, 0]), np.array([0.1, 0.9, 0.2, 0.3])) == 4.0


def fans_and_drifters(
    rng: np.random.Generator, n: int, promo_share: list[float], discount_depth: list[float]
) -> pd.DataFrame:
    """``n`` fans (recent, frequent, high spend) then ``n`` drifters (the opposite), with
    the promotion share and discount depth given."""
    return pd.DataFrame(
        {
            "person_id": [f"p{i:02d}" for i in range(2 * n)],
            "recency_days": list(rng.integers(5, 15, n)) + list(rng.integers(400, 600, n)),
            "purchases": list(rng.integers(8, 12, n)) + [1] * n,
            "net_amount": list(rng.uniform(900, 1100, n)) + list(rng.uniform(40, 60, n)),
            "aov": list(rng.uniform(90, 110, n)) + list(rng.uniform(40, 60, n)),
            "promo_share": promo_share,
            "discount_depth": discount_depth,
        }
    )


def test_clusters_find_two_planted_groups() -> None:
    from workbench.segment.cluster import assign, fit

    rng = np.random.default_rng(3)
    n = 30
    frame = fans_and_drifters(
        rng,
        n,
        promo_share=list(rng.uniform(0.8, 1.0, n)) + [0.0] * n,
        discount_depth=list(rng.uniform(0.2, 0.3, n)) + [0.0] * n,
    )
    table = duckdb_connect(":memory:").create_table("s", frame)
    found = fit(table, ks=(2, 3, 4))
    assert found.k == 2 and found.silhouettes[2] > found.silhouettes[3]
    got = assign(table, found).set_index("person_id")["cluster"]
    fans, drifters = got.iloc[:n], got.iloc[n:]
    assert fans.nunique() == drifters.nunique() == 1 and fans.iat[0] != drifters.iat[0]
    profile = found.profile.set_index("cluster")
    assert ("purchases", "high") in profile.loc[fans.iat[0], "traits"] or (
        "net_amount",
        "high",
    ) in profile.loc[fans.iat[0], "traits"]
    assert profile["persons"].tolist() == [n, n]


def test_tags_and_an_audience_by_hand() -> None:
    from workbench.segment.tags import audience, save_audience, tags

    con = tiny_warehouse()
    s = segment(con, AS_OF, USAGE)
    t = tags(con, s).to_pandas().set_index("person_id")
    assert t.loc["P1", ["city", "register_channel", "member_tier"]].tolist() == [
        "北京市",
        "天猫",
        "VIP",
    ]
    assert t.loc["P6", "city"] == "上海市" and pd.isna(t.loc["P7", "city"])
    assert t.loc["P1", ["first_channel", "last_channel", "orders_ever"]].tolist() == [
        "tmall",
        "tmall",
        4,
    ]
    # A window of N days ends on the as-of date: the last 30 days are Dec 2-31, so P1's
    # o14 (Dec 1) is in the last 90 but not the last 30, and o11 (2024-01-01) is exactly
    # 365 days back, outside. P4's o41 (Nov 1, a member coupon) and o42 (Dec 1,
    # discounted) are both in the last 90.
    windows = ["orders_7d", "orders_30d", "orders_90d", "orders_365d"]
    assert t.loc["P1", windows].tolist() == [0, 0, 1, 3]
    coupons = ["orders_90d", "coupons_used_90d", "coupons_used_30d"]
    assert t.loc["P4", coupons].tolist() == [2, 2, 0]
    assert t.loc["P3", ["other_brand_orders_365d", "other_brand_orders_90d"]].tolist() == [1, 0]
    assert t.loc["P4", "bought_handwash_90d"] and not t.loc["P4", "bought_handwash_30d"]
    assert not t.loc["P4", "bought_laundry_365d"]
    assert t.loc["P2", "bought_laundry_365d"] and not t.loc["P2", "bought_laundry_90d"]
    assert (t["visits_90d"] == 0).all()  # no campaign touches in this warehouse
    found = audience(con, tags(con, s), "beijing", "city = '北京市' AND orders_ever >= 1")
    assert found.size == 1 and found.persons.to_pandas()["person_id"].tolist() == ["P1"]
    assert save_audience(con, found, AS_OF) == 1
    assert save_audience(con, found, AS_OF) == 1  # saving again replaces
    stored = con.table("audiences").to_pandas()
    assert stored[["audience", "where_sql", "persons"]].values.tolist() == [
        ["beijing", "city = '北京市' AND orders_ever >= 1", 1]
    ]
    assert con.table("audience_members").to_pandas()["person_id"].tolist() == ["P1"]
    with pytest.raises(ValueError, match="unknown tag 'no_such_tag'"):
        audience(con, tags(con, s), "bad", "no_such_tag > 1")


def test_training_sample_keeps_about_the_share_asked_the_same_persons_each_time() -> None:
    from workbench.segment.propensity import _sample

    con = duckdb_connect(":memory:")
    t = con.create_table(
        "buyers", ibis.memtable(pd.DataFrame({"person_id": [f"P{i}" for i in range(4000)]}))
    )
    assert len(_sample(t, 4000, 5000, seed=7)) == 4000  # within the bound: everyone
    first = _sample(t, 4000, 400, seed=7)
    # 100 of 1,000 hash buckets: about 400 persons (binomial sd about 19).
    assert 300 <= len(first) <= 500
    assert first["person_id"].tolist() == _sample(t, 4000, 400, seed=7)["person_id"].tolist()
    assert set(first["person_id"]) != set(_sample(t, 4000, 400, seed=8)["person_id"])


def test_interval_histogram_of_all_purchases_by_hand() -> None:
    from workbench.segment.summary import interval_histogram

    s = segment(tiny_warehouse(), AS_OF)
    got = interval_histogram(s, width=15)
    # Repeat customers of our brand: P1 (335 days over 3 intervals, 111.7), P2 (61),
    # P4 (30); P3 bought ours once. Bins of 15 days start at 30, 60 and 105.
    assert got.bins.to_dict("list") == {"start": [30, 60, 105], "repeaters": [1, 1, 1]}
    # p90 by linear interpolation over (30, 61, 111.7): 61 + 0.8 * (335 / 3 - 61).
    assert got.p90 == pytest.approx(61 + 0.8 * (335 / 3 - 61))
    laundry = interval_histogram(s, "laundry", width=15)
    assert laundry.bins.to_dict("list") == {"start": [60, 105], "repeaters": [1, 1]}
    # The p90 line is the one laundry's RC was computed from: 61 + 0.9 * (335/3 - 61).
    assert laundry.p90 == pytest.approx(61 + 0.9 * (335 / 3 - 61))


def test_a_warehouse_without_members_segments_and_retiers() -> None:
    """Real data without a member CRM (CDNOW): nobody is a member, member_days is empty,
    and the explorer's in-memory re-tiering still runs."""
    from workbench.segment import recency_frame, retier

    con = tiny_warehouse()
    con.drop_table("members")
    s = segment(con, AS_OF, USAGE)
    t = s.table.to_pandas().set_index("person_id")
    assert t["member_tier"].isna().all()
    frame = recency_frame(s)
    assert frame["member_days"].isna().all()
    sizes = retier(frame, USAGE, s.loyal_aov)
    level1 = sizes[sizes["level"] == 1].set_index("tier")["persons"].to_dict()
    assert level1 == {"potential": 3, "active": 2, "sleeping": 1, "lost": 1}


def test_a_snapshot_says_what_the_data_lack_and_judges_no_sensitivity_without_promotions() -> None:
    con = tiny_warehouse()
    assert segment(con, AS_OF, USAGE).purchases.absent == ()
    con.drop_table("members")
    con.drop_table("campaigns")
    con.create_table("coupons", con.table("coupons").limit(0), overwrite=True)
    con.raw_sql("UPDATE orders SET discount_amount = 0")
    s = segment(con, AS_OF, USAGE)
    assert s.purchases.absent == ("members", "promotions")
    t = s.table.to_pandas().set_index("person_id")["promo_sensitivity"]
    # P1 (four purchases) and P4 (two) would be judged; with no promotion data at all
    # nobody is indifferent: every buyer is unknown, non-buyers stay empty.
    assert t[["P1", "P2", "P3", "P4"]].tolist() == ["unknown"] * 4
    assert t[["P5", "P6", "P7"]].isna().all()


def test_the_tier_table_reads_by_level_then_from_potential_to_lost() -> None:
    from workbench.report.views.segment import tier_table
    from workbench.segment import tier_sizes

    shown = tier_table(tier_sizes(segment(tiny_warehouse(), AS_OF, USAGE).table), "en").data
    level3 = shown[shown.iloc[:, 0] == 3].iloc[:, 2].tolist()
    # P5 bought only the sister brand, P6 and P7 never bought; P1 is a loyal fan and P4
    # returning (both active), P2 in deep sleep, P3 went on to the sister brand.
    assert level3 == [
        "Competitor buyers",
        "Category potential",
        "Returning",
        "Loyal fans",
        "Deep sleep",
        "Brand-lost",
    ]
    assert shown.iloc[:, 0].tolist() == sorted(shown.iloc[:, 0].tolist())


def test_the_pool_is_who_had_ordered_or_joined_by_the_as_of_date() -> None:
    """A snapshot of an earlier date holds only the persons known then: P8's first order
    is of 2025-01-10, so P8 is new to the pool between the two dates; P1 joined the CRM
    on 2024-12-15, so on 2024-12-01 P1 is a buyer but not yet a member."""
    from workbench.segment.moves import transitions

    con = tiny_warehouse()
    new = pd.DataFrame(
        [("o81", "P8", "2025-01-10", "L", 1, 100.0, 0.0, 100.0)],
        columns=["order_key", "person", "day", "sku", "qty", "goods", "disc", "paid"],
    )
    con.insert("orders", ibis.memtable(order_rows(new)))
    con.insert(
        "order_lines",
        ibis.memtable(
            pd.DataFrame(
                {
                    "order_key": ["o81"],
                    "line_no": [1],
                    "sku": ["L"],
                    "quantity": [1],
                    "unit_price": [100.0],
                    "line_amount": [100.0],
                }
            )
        ),
    )
    con.insert(
        "accounts",
        ibis.memtable(
            pd.DataFrame({"account_key": ["tmall:P8"], "platform": ["tmall"], "person_id": ["P8"]})
        ),
    )
    con.insert("persons", ibis.memtable(pd.DataFrame({"person_id": ["P8"]})))
    early = segment(con, dt.date(2024, 12, 1), USAGE).table
    late = segment(con, dt.date(2025, 1, 31), USAGE).table
    e = early.to_pandas().set_index("person_id")
    assert "P8" not in e.index and len(e) == 7
    assert not e.loc["P1", "is_member"] and e.loc["P6", "is_member"]
    assert late.to_pandas().set_index("person_id").loc["P1", "is_member"]
    moves = transitions(early, late)
    new_to_pool = moves[moves["from"].isna()]
    assert new_to_pool[["to", "persons"]].values.tolist() == [["highly_awake", 1]]


def test_float_noise_in_a_feature_names_no_cluster() -> None:
    """Without any discount (CDNOW), discount depths of 1e-17 are noise: no cluster is
    named for deep discounts."""
    from workbench.segment.cluster import fit

    n = 30
    depth = [0.0] * (2 * n)
    depth[:4] = [1e-17, 2e-17, 1e-18, 3e-17]
    frame = fans_and_drifters(
        np.random.default_rng(5), n, promo_share=[0.0] * (2 * n), discount_depth=depth
    )
    found = fit(duckdb_connect(":memory:").create_table("s", frame), ks=(2, 3, 4))
    named = [f for traits in found.profile["traits"] for f, _ in traits]
    assert "discount_depth" not in named and "promo_share" not in named
