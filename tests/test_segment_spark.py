"""Spark parity of the segment step: the same snapshots, person by person, on DuckDB and Spark.

Each warehouse is built on DuckDB and its tables copied into Spark through
Parquet; then both engines segment it, write the snapshots and read them back.
All Spark work of a warehouse happens inside one fixture: the Spark tests of a
process share one session and its table names, so another test may replace
``orders`` between two of ours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from tests.test_segment import AS_OF, order_rows, tiny_warehouse
from workbench.config import SegmentSettings, Settings, load_settings
from workbench.engine import connect, round_to
from workbench.segment import Snapshot, write
from workbench.segment.segments import INPUT_TABLES, segment
from workbench.synth import SynthResult
from workbench.unify import ingest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

LATER = dt.date(2025, 1, 31)

# Persons who reach the corners where the engines could part, added to the seven
# of test_segment. P8: eight orders of 2.03 yuan in all, a value per purchase of
# 0.25375, whose double lies just below the half (0.2537 by the binary value,
# 0.2538 by the decimal); its net sales, an exact sum of decimals, 2.03 on both. P9:
# one order of 1.01 yuan, no order lines (no list price, no category) and two
# member records, 高级 and 至尊VIP.
# P10: one sponge, a category with daily uses but no uses per unit and no repeat
# customer, so no RC of its own: P10 takes the overall RC.
EXTRA_ORDERS = [
    *((f"o8{i}", "P8", f"2024-{i + 1:02d}-15", 0.25) for i in range(7)),
    ("o87", "P8", "2024-12-20", 0.28),
    ("o91", "P9", "2024-11-11", 1.01),
    ("oA1", "P10", "2024-12-10", 12.0),
]


def corner_warehouse() -> Any:
    """test_segment's seven persons and the three of :data:`EXTRA_ORDERS`, on DuckDB."""
    con = tiny_warehouse()
    o = pd.DataFrame(EXTRA_ORDERS, columns=["order_key", "person", "day", "paid"])
    con.insert("orders", order_rows(o.assign(goods=o["paid"], disc=0.0)))
    lines = o[o["person"] != "P9"]
    con.insert(
        "order_lines",
        pd.DataFrame(
            {
                "order_key": lines["order_key"],
                "line_no": 1,
                "sku": lines["person"].map({"P8": "L", "P10": "X"}),
                "quantity": 1,
                "unit_price": lines["paid"],
                "line_amount": lines["paid"],
            }
        ),
    )
    con.insert(
        "products",
        pd.DataFrame(
            {
                "sku": ["X"],
                "brand": ["ours"],
                "category": ["sponge"],
                "uses_per_unit": pd.Series([None], dtype="float64"),
                "daily_uses": [1.0],
                "list_price": [12.0],
            }
        ),
    )
    con.insert(
        "accounts",
        pd.DataFrame(
            {
                "account_key": ["tmall:P8", "tmall:P9", "tmall:P10", "crm:M9a", "crm:M9b"],
                "platform": ["tmall", "tmall", "tmall", "crm", "crm"],
                "person_id": ["P8", "P9", "P10", "P9", "P9"],
            }
        ),
    )
    con.insert("persons", pd.DataFrame({"person_id": ["P8", "P9", "P10"]}))
    con.insert(
        "members",
        pd.DataFrame(
            {
                "member_id": ["M9a", "M9b"],
                "tier": ["高级", "至尊VIP"],
                "city": ["杭州市", "杭州市"],
                "register_channel": ["天猫", "门店"],
                "joined_at": pd.to_datetime(["2024-06-01", "2024-03-01"]).date,
            }
        ),
    )
    return con


def copy_to_spark(duck: Any, spark: Any, names: tuple[str, ...], folder: Path) -> None:
    """Write DuckDB's tables ``names`` to Parquet and load them into Spark under the same names."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / f"{name}.parquet"
        duck.table(name).to_parquet(path)
        spark.create_table(name, spark.read_parquet(path), overwrite=True)


def spark_settings(root: Path) -> Settings:
    return load_settings(root=root, env={"WORKBENCH_ENGINE": "spark"})


def rows(snapshot: Snapshot) -> pd.DataFrame:
    return snapshot.table.to_pandas().sort_values("person_id", ignore_index=True)


def assert_same_rows(duck: pd.DataFrame, spark: pd.DataFrame, keys: list[str]) -> None:
    """Every row and column equal; floats to 1e-9, missing values missing on both."""
    duck = duck.sort_values(keys, ignore_index=True)
    spark = spark.sort_values(keys, ignore_index=True)[list(duck.columns)]
    assert len(duck) == len(spark)
    for col in duck.columns:
        d, s = duck[col], spark[col]
        assert d.isna().equals(s.isna()), col
        d, s = d[d.notna()], s[s.notna()]
        if pd.api.types.is_float_dtype(d) or pd.api.types.is_float_dtype(s):
            pd.testing.assert_series_equal(
                d.astype("float64"), s.astype("float64"), rtol=0, atol=1e-9, obj=col
            )
        else:
            assert d.astype(str).tolist() == s.astype(str).tolist(), col


@dataclass
class Run:
    """What one engine made of a warehouse."""

    first: pd.DataFrame  # the snapshot at AS_OF, as computed
    cycles: pd.DataFrame
    facts: pd.DataFrame  # the person_facts scratch table
    written: list[int]  # rows written: AS_OF, LATER, then AS_OF again
    stored: pd.DataFrame  # segments after the three writes


def run_corners(con: Any) -> Run:
    usage = SegmentSettings(rc_method="usage")
    first = segment(con, AS_OF, usage)
    written = [write(con, first)]
    written.append(write(con, segment(con, LATER, usage)))
    written.append(write(con, first))
    return Run(
        rows(first),
        first.cycles.table,
        first.facts.to_pandas(),
        written,
        con.table("segments").to_pandas(),
    )


@pytest.fixture(scope="module")
def corners(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("segment_spark")
    duck = corner_warehouse()
    spark = connect(spark_settings(root))
    copy_to_spark(duck, spark, INPUT_TABLES, root / "parquet")
    if "segments" in spark.list_tables():
        spark.drop_table("segments")
    on_spark = run_corners(spark)
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    assert session is not None
    scratch = {
        t.name: (t.tableType, t.isTemporary)
        for t in session.catalog.listTables()
        if t.name.startswith("_wb_")
    }
    return {"duck": run_corners(duck), "spark": on_spark, "scratch": scratch, "con": spark}


def test_snapshot_is_the_same_person_by_person(corners: dict[str, Any]) -> None:
    duck, spark = corners["duck"].first, corners["spark"].first
    assert len(duck) == 10
    assert_same_rows(duck, spark, ["person_id"])
    by_person = spark.set_index("person_id")
    # Rounded as DuckDB rounds a double, not as Spark's ROUND rounds its decimal form.
    assert by_person.loc["P8", "aov"] == 0.2537
    assert by_person.loc["P8", "net_amount"] == Decimal("2.03")
    assert by_person.loc["P9", "net_amount"] == Decimal("1.01")
    assert by_person.loc["P9", "member_tier"] == "至尊VIP"
    assert by_person.loc["P9", "discount_depth"] == 0.0
    cycles = corners["duck"].cycles
    assert (
        by_person.loc["P10", "rc_days"] == cycles.loc[cycles["category"].isna(), "rc_days"].iat[0]
    )


def test_repurchase_cycles_are_the_same(corners: dict[str, Any]) -> None:
    duck, spark = corners["duck"].cycles, corners["spark"].cycles
    assert duck["category"].tolist() == ["handwash", "laundry", "sponge", None]
    assert duck["rc_days"].isna().tolist() == [False, False, True, False]
    assert_same_rows(duck.fillna({"category": ""}), spark.fillna({"category": ""}), ["category"])


def test_scratch_tables_are_real_tables_on_spark_with_the_same_rows(
    corners: dict[str, Any],
) -> None:
    kinds = ("purchase_orders", "purchase_categories", "purchase_persons", "person_facts")
    for kind in kinds:
        names = [n for n in corners["scratch"] if n.startswith(f"_wb_{kind}_")]
        assert names, kind
        assert all(corners["scratch"][n] == ("MANAGED", False) for n in names)
    assert_same_rows(corners["duck"].facts, corners["spark"].facts, ["person_id"])


def test_rewriting_one_date_keeps_the_other_on_spark(corners: dict[str, Any]) -> None:
    duck, spark = corners["duck"], corners["spark"]
    assert duck.written == spark.written == [10, 10, 10]
    stored = spark.stored
    assert stored.groupby("as_of").size().to_dict() == {
        pd.Timestamp(AS_OF): 10,
        pd.Timestamp(LATER): 10,
    }
    assert_same_rows(duck.stored, stored, ["as_of", "person_id"])
    p1 = stored[stored["person_id"] == "P1"].set_index("as_of")["recency_days"]
    assert p1.sort_index().tolist() == [30, 26]


def test_rounding_is_the_same_on_both_engines(corners: dict[str, Any]) -> None:
    values = pd.DataFrame({"x": [1.005, -1.005, 0.285, 0.25375, 2.675, 12.50125, None]})
    duck = ibis.duckdb.connect()
    t = duck.create_table("v", values)
    expected = t.mutate(r2=t.x.round(2), r4=t.x.round(4)).order_by("x").to_pandas()
    for con in (duck, corners["con"]):
        t = con.create_table("round_values", values, overwrite=True)
        got = t.mutate(r2=round_to(t.x, 2), r4=round_to(t.x, 4)).order_by("x").to_pandas()
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_synthetic_snapshot_on_spark_matches_duckdb(
    small_synth: SynthResult, tmp_path: Path
) -> None:
    settings = load_settings(root=tmp_path / "duck", env={})
    ingest(small_synth.raw_dir, settings, progress=False)
    duck = connect(settings)
    spark = connect(spark_settings(tmp_path / "spark"))
    copy_to_spark(duck, spark, INPUT_TABLES, tmp_path / "parquet")
    last = duck.table("orders").ordered_at.max().execute()
    as_of = (pd.Timestamp(last) - pd.Timedelta(days=30)).date()
    on_duck, on_spark = segment(duck, as_of), segment(spark, as_of)
    cycles = [c.cycles.table.fillna({"category": ""}) for c in (on_duck, on_spark)]
    assert_same_rows(*cycles, ["category"])
    duck_rows, spark_rows = rows(on_duck), rows(on_spark)
    assert set(duck_rows["tier_l1"]) == {"potential", "active", "sleeping", "lost"}
    assert_same_rows(duck_rows, spark_rows, ["person_id"])
    assert (spark_rows["as_of"] == pd.Timestamp(as_of)).all()
