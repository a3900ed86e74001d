"""The segment benchmark on a few thousand persons: it runs, writes its JSON, and our
segment step, the pandas reference and the hand-written SQL agree. Nothing is timed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from workbench.bench import harness
from workbench.bench.generate import TABLES, Generated, generate
from workbench.bench.harness import StepRun
from workbench.bench.pandas_reference import segment_pandas
from workbench.bench.report import compare
from workbench.bench.sql_reference import segment_sql
from workbench.bench.steps import COUNTED
from workbench.bench.world import AS_OF
from workbench.cli import app
from workbench.config import SegmentSettings
from workbench.engine import duckdb_connect
from workbench.segment.segments import segment
from workbench.synth.world import SISTER_BRAND

PERSONS = 3000
SEED = 5
ARGS = ["bench", "--persons", str(PERSONS), "--seed", str(SEED)]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(PERSONS, SEED, tmp_path_factory.mktemp("bench") / "data")


def test_generated_tables_hold_what_segmentation_reads(data: Generated) -> None:
    assert data.rows["persons"] == PERSONS
    con = duckdb.connect(str(data.warehouse), read_only=True)
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert tables == set(TABLES)
    for name in TABLES:
        n = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        assert n == (data.rows[name],)
        assert pq.read_metadata(data.parquet / f"{name}.parquet").num_rows == data.rows[name]
    # One shop account per person, and a CRM account per member record.
    per_person = con.execute(
        "SELECT count(*) FILTER (platform <> 'crm'), count(DISTINCT person_id) FROM accounts"
    ).fetchone()
    assert per_person == (PERSONS, PERSONS)
    crm = con.execute("SELECT count(*) FROM accounts WHERE platform = 'crm'").fetchone()
    assert crm == (data.rows["members"],)
    # Orders run past the as-of date, some carry no lines, some a SKU the master lacks.
    late, no_lines, unknown = con.execute(
        f"""SELECT
            (SELECT count(*) FROM orders WHERE ordered_at >= DATE '{AS_OF}' + 1),
            (SELECT count(*) FROM orders o WHERE NOT EXISTS
                (SELECT 1 FROM order_lines l WHERE l.order_key = o.order_key)),
            (SELECT count(*) FROM order_lines WHERE sku NOT IN (SELECT sku FROM products))"""
    ).fetchone()
    assert late > 0 and no_lines > 0 and unknown > 0
    # Money in the types an ingest stores: exact decimals, as the segment step meets them.
    money = con.execute(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
        "WHERE data_type LIKE 'DECIMAL%' OR column_name LIKE '%amount' OR column_name LIKE '%price'"
    ).fetchall()
    assert dict(money) == {
        "orders.discount_amount": "DECIMAL(18,2)",
        "orders.paid_amount": "DECIMAL(18,2)",
        "orders.net_amount": "DECIMAL(18,2)",
        "order_lines.unit_price": "DECIMAL(18,4)",
        "order_lines.line_amount": "DECIMAL(18,2)",
        "products.list_price": "DECIMAL(18,2)",
    }


def test_the_same_seed_gives_the_same_data(data: Generated, tmp_path: Path) -> None:
    again = generate(PERSONS, SEED, tmp_path / "again")
    other = generate(PERSONS, SEED + 1, tmp_path / "other")
    for name in ("orders", "order_lines", "members"):
        first = pq.read_table(data.parquet / f"{name}.parquet")
        assert pq.read_table(again.parquet / f"{name}.parquet").equals(first)
        assert not pq.read_table(other.parquet / f"{name}.parquet").equals(first)


def test_a_kept_data_folder_is_reused(data: Generated) -> None:
    before = (data.warehouse).stat().st_mtime_ns
    assert generate(PERSONS, SEED, data.root).rows == data.rows
    assert data.warehouse.stat().st_mtime_ns == before


def _by_person(df: pd.DataFrame) -> pd.DataFrame:
    df = df.set_index("person_id").sort_index()
    for col in ("last_day", "as_of"):
        df[col] = pd.to_datetime(df[col])
    return df


def _assert_same(ours: pd.DataFrame, other: pd.DataFrame, name: str) -> None:
    """Every person and every column alike (numbers to 1e-12)."""
    assert list(other.index) == list(ours.index), name
    for col in ours.columns:
        a, b = ours[col], other[col]
        if col in ("propensity_7d", "cluster"):
            assert a.isna().all() and b.isna().all()
            continue
        both_missing = a.isna() & b.isna()
        if a.dtype.kind in "fiu" or b.dtype.kind in "fiu":
            close = np.isclose(a.astype(float), b.astype(float), rtol=1e-12, atol=1e-12)
            same = both_missing | close
        else:
            same = both_missing | (a.astype(object) == b.astype(object))
        assert same.all(), f"{name}: {col} differs for {int((~same).sum())} persons"


def pool_at(data: Generated, as_of: str) -> int:
    """Persons who had ordered (anything) or joined by ``as_of``, or are known by neither
    date: the pool a snapshot of that date holds, counted from the Parquet files."""
    day = pd.Timestamp(as_of)
    orders = pd.read_parquet(data.parquet / "orders.parquet", columns=["account_key", "ordered_at"])
    accounts = pd.read_parquet(data.parquet / "accounts.parquet")
    members = pd.read_parquet(data.parquet / "members.parquet")
    persons = pd.read_parquet(data.parquet / "persons.parquet")["person_id"]
    first = orders.merge(accounts, on="account_key").groupby("person_id")["ordered_at"].min()
    crm = accounts.merge(
        members.assign(account_key="crm:" + members["member_id"]), on="account_key"
    )
    joined = pd.to_datetime(crm.groupby("person_id")["joined_at"].min())
    f, j = persons.map(first), persons.map(joined)
    return int(((f.dt.normalize() <= day) | (j <= day) | (f.isna() & j.isna())).sum())


def test_the_three_agree_person_by_person(data: Generated, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(data.warehouse.read_bytes())
    con = duckdb_connect(warehouse)
    ours = _by_person(segment(con, dt.date.fromisoformat(AS_OF)).table.to_pandas())
    sql = _by_person(con.con.execute(segment_sql(AS_OF)).df())
    pandas = _by_person(segment_pandas(data.parquet, AS_OF))
    assert len(ours) == pool_at(data, AS_OF) < PERSONS  # some come after the as-of date
    for name, other in (("sql", sql), ("pandas", pandas)):
        _assert_same(ours, other, name)


# Every bound the segment step reads moved off its default (but the inductive RC's
# quantile and multiple, which the segment step keeps fixed): 300 repeat customers
# send dishwasher tablets, with about 230 here, to the usage RC.
OTHER = SegmentSettings(
    min_repeaters=300,
    awake_rc=0.8,
    active_rc=1.6,
    light_sleep_rc=2.2,
    lost_rc=2.7,
    loyal_min_purchases=3,
    loyal_aov_quantile=0.3,
    new_member_days=400,
    recovery_min_purchases=3,
    rfm_reference="median",
    rfm_basis="raw",
    promo_high_share=0.5,
    promo_low_share=0.3,
    promo_deep_discount=0.1,
    promo_fanatic_share=0.7,
    promo_min_orders=3,
)


@pytest.mark.parametrize(
    "settings", [OTHER, SegmentSettings(brand=SISTER_BRAND)], ids=["bounds", "brand"]
)
def test_the_three_agree_under_other_settings(
    data: Generated, tmp_path: Path, settings: SegmentSettings
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(data.warehouse.read_bytes())
    con = duckdb_connect(warehouse)
    ours = _by_person(segment(con, dt.date.fromisoformat(AS_OF), settings).table.to_pandas())
    sql = _by_person(con.con.execute(segment_sql(AS_OF, settings)).df())
    pandas = _by_person(segment_pandas(data.parquet, AS_OF, settings))
    for name, other in (("sql", sql), ("pandas", pandas)):
        _assert_same(ours, other, name)
    # The settings moved persons in every column they bear on (the sister brand's
    # buyers become ours, and ours theirs).
    default = _by_person(segment(con, dt.date.fromisoformat(AS_OF)).table.to_pandas())
    assert (ours["rc_days"] != default["rc_days"]).any()
    for col in ("tier_l2", "tier_l3", "tier_s2", "rfm_segment", "promo_sensitivity"):
        assert (ours[col].astype(object) != default[col].astype(object)).any(), col


def _rc(df: pd.DataFrame) -> dict[str, float]:
    buyers = df[df["purchases"] > 0]
    return buyers.groupby(buyers["rc_category"].fillna("(overall)"))["rc_days"].first().to_dict()


def test_the_references_take_the_inductive_rc_quantile_and_multiple(data: Generated) -> None:
    con = duckdb.connect(str(data.warehouse), read_only=True)

    def both(**changes: float | str) -> dict[str, float]:
        s = SegmentSettings(rc_method="inductive", **changes)  # type: ignore[arg-type]
        sql = _rc(con.execute(segment_sql(AS_OF, s)).df())
        pandas = _rc(segment_pandas(data.parquet, AS_OF, s))
        assert sql.keys() == pandas.keys() and len(sql) == 4
        for c in sql:
            assert sql[c] == pytest.approx(pandas[c], rel=1e-12), c
        return sql

    p90_over_3 = both()
    # The same p90 over 2 instead of 3: half as long again.
    p90_over_2 = both(rc_multiple=2.0)
    assert p90_over_2 == pytest.approx({c: v * 1.5 for c, v in p90_over_3.items()}, rel=1e-12)
    # The median interval lies below the p90 in every category.
    p50_over_3 = both(rc_quantile=0.5)
    assert all(p50_over_3[c] < p90_over_3[c] for c in p90_over_3)


def test_a_step_process_applies_the_settings_it_is_given(data: Generated, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    copy.mkdir()
    (copy / "warehouse.duckdb").write_bytes(data.warehouse.read_bytes())
    run = harness.measure("sql", copy, AS_OF, cap_mb=8000.0, settings=OTHER)
    assert run.status == "ok", run.error
    assert run.result is not None
    con = duckdb.connect(str(data.warehouse), read_only=True)
    expected = con.execute(segment_sql(AS_OF, OTHER)).df()["tier_l2"].value_counts().to_dict()
    default = con.execute(segment_sql(AS_OF)).df()["tier_l2"].value_counts().to_dict()
    assert run.result["counts"]["tier_l2"] == expected != default


def test_compare_reports_every_difference() -> None:
    a = {
        "counts": {"tier_l1": {"active": 3, "lost": 1}},
        "totals": {"persons": 4},
        "rc": {"laundry": 60.0},
    }
    b = {
        "counts": {"tier_l1": {"active": 2, "lost": 1, "sleeping": 1}},
        "totals": {"persons": 4},
        "rc": {"laundry": 60.5},
    }
    assert compare({"ours": a, "sql": a}) == []
    assert compare({"ours": a, "sql": b}) == [
        "tier_l1 = active: ours 3, sql 2",
        "tier_l1 = sleeping: ours 0, sql 1",
        "rc_days of laundry: ours 60.0, sql 60.5",
    ]


def test_workbench_bench_runs_writes_its_json_and_the_three_agree(
    data: Generated, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        [*ARGS, "--out", str(out), "--data", str(data.root)],
    )
    assert result.exit_code == 0, result.output
    assert "MISMATCH" not in result.output
    assert "ours/pandas" in result.output and "ours/sql" in result.output
    files = list(out.glob(f"*-{PERSONS}.json"))
    assert len(files) == 1
    report = json.loads(files[0].read_text(encoding="utf-8"))
    assert report["agree"] and report["mismatches"] == []
    assert report["compared"] == ["ours", "pandas", "sql"]
    assert set(report["machine"]) >= {"cpus", "ram_gb", "platform"}
    assert set(report["versions"]) >= {"duckdb", "ibis-framework", "pandas", "python"}
    for step in ("ours", "pandas", "sql"):
        s = report["steps"][step]
        assert s["status"] == "ok"
        assert s["wall_s"] > 0 and s["cpu_s"] >= 0
        assert s["peak_rss_mb"] >= s["baseline_rss_mb"] > 0
    counts = report["counts"]
    assert set(counts) == set(COUNTED)
    # Every person is counted once per column; buyers alone have an RFM segment.
    pool = pool_at(data, AS_OF)
    for col, values in counts.items():
        assert sum(values.values()) == pool, col
    assert pool - counts["rfm_segment"]["null"] == report["totals"]["buyers"]
    assert set(report["ratios"]) == {"ours/pandas", "ours/sql", "ours/pandas cpu", "ours/sql cpu"}
    # The warehouse is left as it was found.
    con = duckdb.connect(str(data.warehouse), read_only=True)
    assert {r[0] for r in con.execute("SHOW TABLES").fetchall()} == set(TABLES)


def test_a_mismatch_fails_loudly(
    data: Generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake(
        step: str, root: Path, as_of: str, cap_mb: float, temp: float, s: SegmentSettings
    ) -> StepRun:
        loyal = 10 if step == "ours" else 11
        result = {
            "counts": {"tier_l3": {"loyal": loyal, "new": 5}},
            "totals": {"persons": 15},
            "rc": {"laundry": 60.0},
        }
        return StepRun(step, "ok", 1.0, 1.0, 300.0, 200.0, 2.0, result)

    monkeypatch.setattr(harness, "measure", fake)
    result = CliRunner().invoke(
        app,
        [*ARGS, "--out", str(tmp_path), "--data", str(data.root), "--steps", "ours,sql"],
    )
    assert result.exit_code == 1, result.output
    assert "MISMATCH" in result.output
    assert "tier_l3 = loyal: ours 10, sql 11" in result.output
    report = json.loads(next(tmp_path.glob("*.json")).read_text(encoding="utf-8"))
    assert not report["agree"]


def test_unknown_steps_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "-n", "100", "--steps", "ours,spark"])
    assert result.exit_code == 2
    assert "steps must be some of ours, pandas, sql" in result.output
