"""Money is exact to the fen: read as decimals, stored as DECIMAL(18,2), summed exactly.

Every expected figure is worked out by hand from the tiny inputs written here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import ibis
import ibis.expr.datatypes as dt_
import pandas as pd
import pytest

from workbench.config import SegmentSettings, Settings, load_settings
from workbench.engine import connect, duckdb_connect
from workbench.segment import run, tier_sizes, write
from workbench.segment.rfm import promotion_measures, sensitivity
from workbench.unify import ingest_mapped
from workbench.unify.normalise import money_expr
from workbench.unify.warehouse import ensure_tables, exact_money

SHOP = """
[source]
name = "shop"
platform = "shop"
files = ["shop/sales.csv"]

[columns]
order_id = "order"
account_id = "customer"
ordered_at = "date"
quantity = "qty"
line_amount = "amount"
"""

# Ten orders of 0.10 and one of 0.20 and 0.30 each: 1.00 + 0.50 = 1.50 exactly. Added as
# floats, 0.1 ten times is 0.9999999999999999 and the total 1.4999999999999998.
SALES = (
    ["order,customer,date,qty,amount"]
    + [f"T{i},c{i % 3},2024-01-{i + 1:02d},1,0.10" for i in range(10)]
    + ["U1,c1,2024-02-01,1,0.20", "U2,c2,2024-02-02,1,0.30"]
)


@pytest.fixture()
def shop(tmp_path: Path) -> Settings:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "sales.csv").write_text("\n".join(SALES) + "\n", encoding="utf-8")
    mapping = tmp_path / "shop.toml"
    mapping.write_text(SHOP, encoding="utf-8")
    settings = load_settings(root=tmp_path, env={})
    f = ingest_mapped(mapping, settings, progress=False).files[0]
    assert (f.status, f.rows_loaded) == ("loaded", 12), f.message
    return settings


def test_sums_of_money_in_the_warehouse_are_exact(shop: Settings) -> None:
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    total, tenths = con.execute(
        "SELECT sum(net_amount), sum(net_amount) FILTER (order_id LIKE 'T%') FROM orders"
    ).fetchone()
    assert (total, tenths) == (Decimal("1.50"), Decimal("1.00"))
    # Each customer's net sales, by hand: c0 has T0, T3, T6, T9; c1 T1, T4, T7 and U1 (0.20);
    # c2 T2, T5, T8 and U2 (0.30).
    persons = con.execute("SELECT net_amount FROM persons ORDER BY net_amount").fetchall()
    assert [p[0] for p in persons] == [Decimal("0.40"), Decimal("0.50"), Decimal("0.60")]


def test_money_columns_are_decimals(shop: Settings) -> None:
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    types = {
        (table, col): typ
        for table, col, typ in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
        ).fetchall()
    }
    money = {
        ("orders", c)
        for c in ("goods_amount", "discount_amount", "paid_amount", "refund_amount", "net_amount")
    } | {
        ("order_lines", "line_amount"),
        ("persons", "net_amount"),
        ("refunds", "amount"),
        ("coupons", "threshold"),
        ("coupons", "face_value"),
        ("products", "list_price"),
    }
    assert {k: types[k] for k in money} == dict.fromkeys(money, "DECIMAL(18,2)")
    assert types[("order_lines", "unit_price")] == "DECIMAL(18,4)"
    described = dict(
        con.execute("SELECT column_name, column_type FROM (DESCRIBE orders)").fetchall()
    )
    assert described["net_amount"] == "DECIMAL(18,2)"


def test_a_snapshot_stores_net_sales_as_decimals_and_its_tiers_sum_exactly(shop: Settings) -> None:
    con = connect(shop)
    snap = run(con, dt.date(2024, 2, 29), SegmentSettings(), scores=False)
    write(con, snap)
    assert con.table("segments").schema()["net_amount"] == dt_.Decimal(18, 2)
    sizes = tier_sizes(snap.table)
    level1 = sizes[sizes["level"] == 1]
    assert level1["net_amount"].sum() == 1.5
    assert str(level1["net_amount"].sum()) == "1.5"


@pytest.mark.parametrize(
    ("text", "places", "expected"),
    [
        ("0.10", 2, Decimal("0.10")),
        ("￥1,234.56", 2, Decimal("1234.56")),
        ("¥ 99", 2, Decimal("99.00")),
        ("12.5元", 2, Decimal("12.50")),
        ("$2.50", 2, Decimal("2.50")),
        ("£0.85", 2, Decimal("0.85")),
        ("-3.20", 2, Decimal("-3.20")),
        ("0.125", 2, Decimal("0.13")),  # to the fen, halves away from zero
        ("-0.125", 2, Decimal("-0.13")),
        ("0.285", 2, Decimal("0.29")),  # read as text: as a double it would be 0.28
        ("3.33335", 4, Decimal("3.3334")),
        ("n/a", 2, None),
        ("", 2, None),
        ("1e20", 2, None),  # too large for the column
    ],
)
def test_amounts_are_read_as_exact_decimals(text: str, places: int, expected: Decimal) -> None:
    got = duckdb.sql(f"SELECT {money_expr('v', places)} FROM (SELECT ? AS v)", params=[text])
    assert got.fetchone() == (expected,)


def test_a_warehouse_built_with_float_money_is_made_exact(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute(
        "CREATE TABLE orders (order_key VARCHAR, paid_amount DOUBLE, net_amount DOUBLE, "
        "items BIGINT)"
    )
    con.execute("INSERT INTO orders VALUES ('a', 232850.19, 232850.18999998964, 3)")
    ensure_tables(con)
    row = con.execute("SELECT paid_amount, net_amount, items FROM orders").fetchone()
    assert row == (Decimal("232850.19"), Decimal("232850.19"), 3)
    assert exact_money(con) == []  # nothing left to change


def test_twenty_percent_off_is_a_depth_of_exactly_a_fifth() -> None:
    """A buyer whose purchases were on average 20% off, every one on promotion, is a
    fanatic at the default bounds (80% on promotion, a depth of at least 0.2): in
    floating point 1 - 80/100 is 0.19999999999999996, and a mean of depths that add up
    to 0.8 can be 0.19999999999999998, either of which would make them merely sensitive."""
    con = duckdb_connect(":memory:")
    orders = ibis.memtable(
        pd.DataFrame(
            {
                "person_id": ["A", "A", "B", "B", "C", "C", "C", "C"],
                "paid_amount": [
                    *("80.00", "80.00", "79.60", "90.00"),
                    *("157.00", "59.30", "90.00", "178.00"),
                ],
                "list_value": [
                    *("100.00", "100.00", "99.50", "100.00"),
                    *("198.00", "99.00", "99.00", "198.00"),
                ],
                "promo": [True, True, True, False, True, True, True, True],
                "coupon": [False] * 8,
            }
        )
    ).cast({"paid_amount": "decimal(18, 2)", "list_value": "decimal(18, 2)"})
    orders = con.create_table("o", orders)
    g = orders.group_by("person_id").agg(orders=orders.count(), **promotion_measures(orders))
    got = g.mutate(cls=sensitivity(g, SegmentSettings())).to_pandas().set_index("person_id")
    # A: 20/100 twice. B: 19.90/99.50 = 0.2 and 10/100 = 0.1, a mean of 0.15.
    # C: 41/198, 39.70/99, 9/99 and 20/198 add up to 158.4/198 = 0.8, a mean of 0.2; added
    # up in floating point, 0.19999999999999998.
    assert got.loc["A", "discount_depth"] == 0.2
    assert got.loc["B", "discount_depth"] == pytest.approx(0.15, abs=1e-15)
    assert got.loc["C", "discount_depth"] == 0.2
    assert got.loc["A", "cls"] == "fanatic"
    assert got.loc["B", "cls"] == "neutral"  # half on promotion
    assert got.loc["C", "cls"] == "fanatic"


def test_cluster_profiles_of_decimal_net_sales_are_floats() -> None:
    """A snapshot holds net sales as decimals: the clusters' mean net sales are floats,
    which the report's download rounds to the fen (decimals were written out in full)."""
    from workbench.segment.cluster import fit

    frame = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(8)],
            "purchases": [9, 10, 11, 10, 1, 1, 1, 1],
            "recency_days": [5, 9, 7, 6, 500, 450, 520, 480],
            "net_amount": [
                "1000.10",
                "1000.20",
                "1000.40",
                "1000.00",
                "50.01",
                "50.02",
                "50",
                "50",
            ],
            "aov": [100.0, 100.0, 91.0, 100.0, 50.0, 50.0, 50.0, 50.0],
            "promo_share": [0.0] * 8,
            "discount_depth": [0.0] * 8,
        }
    )
    table = duckdb_connect(":memory:").create_table(
        "s", ibis.memtable(frame).cast({"net_amount": "decimal(18, 2)"})
    )
    profile = fit(table, ks=(2,)).profile.sort_values("persons")
    means = profile.sort_values("net_amount")["net_amount"]
    assert means.dtype == "float64"
    # The four drifters' 200.03 / 4 and the four fans' 4000.70 / 4.
    assert means.tolist() == pytest.approx([50.0075, 1000.175], abs=1e-9)
