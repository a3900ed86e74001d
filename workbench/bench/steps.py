"""The three steps, each run in a process of its own: ``python -m workbench.bench STEP ...``.

:func:`main` runs one step on a data folder and writes what it measured inside
its process (wall and CPU time from just before the step to its materialised
result, the resident set before it) and what it found (the counts every step
must agree on, the totals, the RC) as JSON for the parent
(:func:`workbench.bench.harness.measure`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.bench.pandas_reference import segment_pandas
from workbench.bench.sql_reference import segment_sql
from workbench.config import SegmentSettings

COUNTED: tuple[str, ...] = (
    "tier_l1",
    "tier_l2",
    "tier_l3",
    "tier_s2",
    "rfm_segment",
    "quadrant",
    "promo_sensitivity",
    "member_tier",
)
"""Columns whose value counts the three steps must agree on."""

_DROP = ("segments", "segment_runs", "_next_segments", "segments_sql")
"""What a step may leave in the warehouse; dropped before and after each run."""


def _rss_mb() -> float:
    """The current resident set of this process, in MB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return 0.0


def _counts_frame(df: pd.DataFrame) -> dict[str, Any]:
    counts = {
        col: {
            ("null" if pd.isna(k) else str(k)): int(v)
            for k, v in df[col].value_counts(dropna=False).items()
        }
        for col in COUNTED
    }
    buyers = df[df["purchases"] > 0]
    rc = buyers.groupby(buyers["rc_category"].fillna("(overall)"))["rc_days"].first()
    totals = {
        "persons": len(df),
        "buyers": len(buyers),
        "purchases": int(df["purchases"].sum()),
        "orders": int(df["orders"].sum()),
        "net_amount": round(float(df["net_amount"].sum()), 2),
    }
    return {
        "counts": {c: dict(sorted(v.items())) for c, v in counts.items()},
        "totals": totals,
        "rc": {str(k): float(v) for k, v in sorted(rc.items())},
    }


def _counts_table(raw: Any, table: str) -> dict[str, Any]:
    """The same as :func:`_counts_frame` for a table of a DuckDB connection, in the engine."""
    per_col = " UNION ALL ".join(
        f"SELECT '{c}' AS col, CAST({c} AS VARCHAR) AS value, count(*) AS n "
        f'FROM "{table}" GROUP BY 2'
        for c in COUNTED
    )
    counts: dict[str, dict[str, int]] = {c: {} for c in COUNTED}
    for col, value, n in raw.execute(per_col).fetchall():
        counts[col]["null" if value is None else value] = int(n)
    persons, buyers, purchases, orders, net = raw.execute(
        f"SELECT count(*), count(*) FILTER (purchases > 0), sum(purchases), sum(orders), "
        f'sum(net_amount) FROM "{table}"'
    ).fetchone()
    rc = raw.execute(
        f"SELECT coalesce(rc_category, '(overall)'), any_value(rc_days) "
        f'FROM "{table}" WHERE purchases > 0 GROUP BY 1 ORDER BY 1'
    ).fetchall()
    return {
        "counts": {c: dict(sorted(v.items())) for c, v in counts.items()},
        "totals": {
            "persons": int(persons),
            "buyers": int(buyers),
            "purchases": int(purchases or 0),
            "orders": int(orders or 0),
            "net_amount": round(float(net or 0.0), 2),
        },
        "rc": {str(k): float(v) for k, v in rc},
    }


def _cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _engine_settings(raw: Any, temp_cap_gb: float) -> dict[str, str]:
    """Cap the spill, and return DuckDB's threads, memory limit and spill cap."""
    raw.execute(f"SET max_temp_directory_size = '{float(temp_cap_gb)}GB'")
    threads, memory, temp = raw.execute(
        "SELECT current_setting('threads'), current_setting('memory_limit'), "
        "current_setting('max_temp_directory_size')"
    ).fetchone()
    return {"threads": str(threads), "memory_limit": str(memory), "max_temp": str(temp)}


def _clean(raw: Any) -> None:
    """Drop what an earlier step left in the warehouse, so every run starts alike."""
    for name in _DROP:
        raw.execute(f'DROP TABLE IF EXISTS "{name}"')
    raw.execute("CHECKPOINT")


def _run_ours(
    root: Path, as_of: str, temp_cap_gb: float, settings: SegmentSettings
) -> dict[str, Any]:
    """The segment step's snapshot expression written by ``workbench.segment.write``;
    engine round trips recorded."""
    import traceback

    from workbench.config import load_settings
    from workbench.engine import duckdb_connect
    from workbench.segment import write
    from workbench.segment.segments import segment

    con = duckdb_connect(root / "warehouse.duckdb", load_settings())
    raw = con.con
    _clean(raw)
    engine = _engine_settings(raw, temp_cap_gb)
    trips: list[dict[str, Any]] = []

    def record(name: str) -> None:
        inner = getattr(con, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                where = [
                    f"{Path(f.filename).stem}.{f.name}"
                    for f in traceback.extract_stack()
                    if "workbench/segment" in f.filename or "workbench/engine" in f.filename
                ]
                trips.append(
                    {
                        "call": name,
                        "from": where[-1] if where else "?",
                        "seconds": round(time.perf_counter() - t, 3),
                    }
                )

        setattr(con, name, timed)

    for name in ("execute", "create_table"):
        record(name)
    base = _rss_mb()
    t0, c0 = time.perf_counter(), _cpu_s()
    rows = write(con, segment(con, dt.date.fromisoformat(as_of), settings))
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    out = _counts_table(raw, "segments")
    _clean(raw)
    con.disconnect()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "baseline_rss_mb": base,
        "rows": rows,
        "engine": engine,
        "round_trips": trips,
        **out,
    }


def _run_sql(
    root: Path, as_of: str, temp_cap_gb: float, settings: SegmentSettings
) -> dict[str, Any]:
    """:data:`~workbench.bench.sql_reference.SEGMENT_SQL` materialised as a table of the
    warehouse."""
    from workbench.config import load_settings
    from workbench.engine import open_duckdb

    raw = open_duckdb(root / "warehouse.duckdb", load_settings())
    _clean(raw)
    engine = _engine_settings(raw, temp_cap_gb)
    query = segment_sql(as_of, settings)
    base = _rss_mb()
    t0, c0 = time.perf_counter(), _cpu_s()
    raw.execute(f"CREATE TABLE segments_sql AS {query}")
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    out = _counts_table(raw, "segments_sql")
    rows = out["totals"]["persons"]
    _clean(raw)
    raw.close()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "baseline_rss_mb": base,
        "rows": rows,
        "engine": engine,
        **out,
    }


def _run_pandas(
    root: Path, as_of: str, temp_cap_gb: float, settings: SegmentSettings
) -> dict[str, Any]:
    """:func:`~workbench.bench.pandas_reference.segment_pandas` from the Parquet files;
    the result stays in memory."""
    base = _rss_mb()
    t0, c0 = time.perf_counter(), _cpu_s()
    df = segment_pandas(root / "parquet", as_of, settings)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "baseline_rss_mb": base,
        "rows": len(df),
        **_counts_frame(df),
    }


Runner = Callable[[Path, str, float, SegmentSettings], dict[str, Any]]
RUNNERS: dict[str, Runner] = {"ours": _run_ours, "pandas": _run_pandas, "sql": _run_sql}
"""Each step by name, in the order the benchmark runs them."""
STEPS: tuple[str, ...] = tuple(RUNNERS)


def settings_arg(settings: SegmentSettings) -> str:
    """``settings`` as the one command-line argument :func:`main` reads back: the
    settings that differ from the defaults, as JSON (``{}`` at the defaults).

    Example:
        >>> settings_arg(SegmentSettings(active_rc=1.5))
        '{"active_rc": 1.5}'
    """
    default = SegmentSettings()
    changed = {k: v for k, v in asdict(settings).items() if v != getattr(default, k)}
    return json.dumps(changed, ensure_ascii=False)


def main(argv: list[str]) -> int:
    """Run one step: ``STEP DATA_DIR AS_OF TEMP_CAP_GB SETTINGS_JSON RESULT_JSON``.

    Parameters:
        argv: the step (``ours``, ``pandas`` or ``sql``), the data folder of
            :func:`~workbench.bench.generate.generate`, the as-of date, what a DuckDB
            step may spill (GB), the segment settings (:func:`settings_arg`) and
            where to write the result.

    Returns:
        0; a failing step raises, and its process exits non-zero.

    Example:
        >>> main(["sql", "/tmp/bench-data", "2024-12-31", "20", "{}", "/tmp/sql.json"])  # doctest: +SKIP
        0
    """
    step, root, as_of, temp_cap_gb, settings, result = argv
    segment_settings = SegmentSettings(**json.loads(settings)).check()
    out = RUNNERS[step](Path(root), as_of, float(temp_cap_gb), segment_settings)
    Path(result).write_text(json.dumps(out), encoding="utf-8")
    return 0
