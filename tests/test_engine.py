"""The engine opens DuckDB by default and Spark on request; one expression, same answer."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from workbench.config import load_settings
from workbench.engine import connect

ORDERS = pd.DataFrame(
    {
        "person_id": ["a", "a", "a", "b", "b", "c"],
        "day": [0, 10, 40, 5, 25, 7],
        "amount": [10.0, 20.0, 30.0, 5.0, 15.0, 100.0],
    }
)
# Worked by hand: gaps a: 10, 30 (mean 20); b: 20 (mean 20); c has no gap.
# frequency a=3 b=2 c=1; monetary a=60 b=20 c=100; "repeat" = 2+ orders.
EXPECTED = pd.DataFrame(
    {
        "person_id": ["a", "b", "c"],
        "orders": [3, 2, 1],
        "monetary": [60.0, 20.0, 100.0],
        "mean_gap": [20.0, 20.0, None],
        "kind": ["repeat", "repeat", "one-off"],
    }
)


def rfm_expr(t: ibis.Table) -> ibis.Table:
    w = ibis.window(group_by=t.person_id, order_by=t.day)
    gaps = t.mutate(gap=t.day - t.day.lag().over(w))
    per = gaps.group_by("person_id").agg(
        orders=gaps.count(),
        monetary=gaps.amount.sum(),
        mean_gap=gaps.gap.mean(),
    )
    return per.mutate(kind=ibis.cases((per.orders >= 2, "repeat"), else_="one-off")).order_by(
        "person_id"
    )


def _check(df: pd.DataFrame) -> None:
    df = df.astype({"orders": "int64", "monetary": "float64", "mean_gap": "float64"})
    pd.testing.assert_frame_equal(
        df.reset_index(drop=True), EXPECTED.astype({"mean_gap": "float64"}), check_dtype=False
    )


def test_duckdb_file_is_the_default(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, env={})
    con = connect(s)
    assert con.name == "duckdb"
    t = con.create_table("orders", ORDERS)
    _check(rfm_expr(t).to_pandas())
    con.disconnect()
    assert s.warehouse.exists()


def test_read_only_needs_an_existing_warehouse(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="workbench ingest"):
        connect(load_settings(root=tmp_path, env={}), read_only=True)


@pytest.mark.spark
@pytest.mark.slow
def test_same_expression_on_spark_gives_the_same_rows(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, env={"WORKBENCH_ENGINE": "spark"})
    con = connect(s)
    assert con.name == "pyspark"
    t = con.create_table("orders_parity", ORDERS, overwrite=True)
    spark_rows = rfm_expr(t).to_pandas()
    duck = connect(load_settings(root=tmp_path, env={"WORKBENCH_WAREHOUSE": ":memory:"}))
    duck_rows = rfm_expr(duck.create_table("orders", ORDERS)).to_pandas()
    _check(spark_rows)
    pd.testing.assert_frame_equal(spark_rows, duck_rows, check_dtype=False)
