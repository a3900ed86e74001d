"""The one place that opens a backend.

Relational work is written once as Ibis expressions.  :func:`connect` gives
an Ibis backend on DuckDB (embedded, on ``data/warehouse.duckdb``) or, when
``engine == "spark"``, on a Spark session (local or the configured master).
Backend differences that the jobs need stay inside this module.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from workbench.config import Settings, load_settings
from workbench.errors import WarehouseLocked

log = logging.getLogger(__name__)


def connect(settings: Settings | None = None, *, read_only: bool = False) -> BaseBackend:
    """Open the configured backend.

    Parameters:
        settings: resolved settings; :func:`~workbench.config.load_settings` by default.
        read_only: open the DuckDB file read-only, so several notebooks can read
            it at once (ignored on Spark).

    Returns:
        An Ibis backend. Tables are read with ``con.table(name)``; expressions
        run with ``.execute()`` / ``.to_pandas()``.

    Example:
        >>> con = connect(load_settings(env={"WORKBENCH_WAREHOUSE": ":memory:"}))
        >>> con.sql("select 41 + 1 as answer").to_pandas().answer[0]
        np.int64(42)
    """
    settings = settings or load_settings()
    if settings.engine == "spark":
        session = spark_session(settings.spark_master, str(settings.data_dir / "spark-warehouse"))
        log.info("engine: Spark at %s", settings.spark_master)
        return ibis.pyspark.connect(session)
    return duckdb_connect(settings.warehouse, settings, read_only=read_only)


def duckdb_config(settings: Settings | None) -> dict[str, Any]:
    """DuckDB options from the settings: worker threads and memory limit, if set."""
    config: dict[str, Any] = {}
    if settings is not None and settings.threads:
        config["threads"] = settings.threads
    if settings is not None and settings.memory_limit:
        config["memory_limit"] = settings.memory_limit
    return config


def duckdb_connect(
    path: str | Path, settings: Settings | None = None, *, read_only: bool = False
) -> BaseBackend:
    """Open an Ibis DuckDB backend on ``path`` (``":memory:"`` for a scratch database).

    A reader (``read_only``) is an in-memory database with the file attached
    read-only as its default catalog, :data:`WAREHOUSE`: its scratch tables live
    in memory, and :func:`writing` can re-attach the file for writing for one
    step (a notebook storing its snapshot) without losing them.
    """
    if read_only and str(path) != ":memory:":
        if not Path(path).exists():
            raise FileNotFoundError(
                f"warehouse {path} does not exist yet; run `workbench ingest` first"
            )
        raw = open_duckdb(None, settings)
        _attach(raw, Path(path), read_only=True)
    else:
        raw = open_duckdb(None if str(path) == ":memory:" else path, settings, read_only=read_only)
    log.info("engine: DuckDB on %s", path)
    return ibis.duckdb.from_connection(raw)


WAREHOUSE = "warehouse"
"""The catalog name a reader attaches the warehouse file under."""


def _attach(
    raw: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool, wait: float = 0.0
) -> None:
    quoted = str(path).replace("'", "''")
    mode = " (READ_ONLY)" if read_only else ""
    _while_locked(lambda: raw.execute(f"ATTACH '{quoted}' AS {WAREHOUSE}{mode}"), path, wait)
    raw.execute(f"USE {WAREHOUSE}")


def _while_locked(open_it: Callable[[], Any], path: str | Path, wait: float) -> Any:
    """``open_it()``, tried again while another process holds the warehouse file, for up
    to ``wait`` seconds; then :class:`WarehouseLocked` naming that process."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return open_it()
        except duckdb.Error as exc:
            holder = lock_holder(str(exc))
            if holder is None:
                raise
            if time.monotonic() >= deadline:
                raise WarehouseLocked(
                    f"the warehouse {path} is in use by {holder}: close that notebook, "
                    "report or ingest, or add --wait SECONDS to wait for it"
                ) from None
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0.05)))


def _detach(raw: duckdb.DuckDBPyConnection) -> None:
    raw.execute("USE memory")
    raw.execute(f"DETACH {WAREHOUSE}")


def _attached(con: BaseBackend) -> tuple[Path, bool] | None:
    """The warehouse file a reader has attached and whether read-only; ``None`` for
    other backends (a file opened directly, Spark)."""
    raw = getattr(con, "con", None)
    if not isinstance(raw, duckdb.DuckDBPyConnection):
        return None
    row = raw.execute(
        "SELECT path, readonly FROM duckdb_databases() WHERE database_name = ?", [WAREHOUSE]
    ).fetchone()
    return None if row is None else (Path(row[0]), bool(row[1]))


def release(con: BaseBackend) -> bool:
    """Detach a reader's warehouse file, so another process (a scheduled ingest) may write
    it; :func:`reattach` before the next query. Return whether there was one to detach.

    Scratch tables and lazy expressions keep: they live in the reader's memory, and
    expressions find the warehouse's tables by name when next run.
    """
    found = _attached(con)
    if found is None:
        return False
    con._workbench_detached = found[0]
    _detach(con.con)
    return True


def reattach(con: BaseBackend, wait: float = 60.0) -> None:
    """Attach again, read-only, what :func:`release` detached (nothing if it detached nothing).

    Raises:
        WarehouseLocked: an ingest still holds the file after ``wait`` seconds.
    """
    path = getattr(con, "_workbench_detached", None)
    if path is None or _attached(con) is not None:
        return
    _attach(con.con, path, read_only=True, wait=wait)
    con._workbench_detached = None


@contextmanager
def writing(con: BaseBackend, wait: float = 0.0) -> Iterator[BaseBackend]:
    """``con`` able to write to the warehouse for the duration of a ``with`` block.

    A reader (:func:`duckdb_connect` with ``read_only``) re-attaches the file for
    writing, then read-only again, keeping its scratch tables; any other backend
    is yielded as it is.

    Raises:
        WarehouseLocked: another process holds the file (another notebook, an ingest).

    Example:
        >>> with writing(con) as w:  # doctest: +SKIP
        ...     w.create_table("segments", rows, overwrite=True)
    """
    found = _attached(con)
    if found is None or not found[1]:
        yield con
        return
    raw = con.con
    path = found[0]
    _detach(raw)
    try:
        _attach(raw, path, read_only=False, wait=wait)
        yield con
    finally:
        if _attached(con) is not None:
            _detach(raw)
        _attach(raw, path, read_only=True, wait=max(wait, 5.0))


def open_duckdb(
    path: str | Path | None = None,
    settings: Settings | None = None,
    *,
    read_only: bool = False,
    wait: float = 0.0,
    config: dict[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A raw DuckDB connection on the warehouse file, or an in-memory scratch database.

    Parameters:
        path: the database file; ``None`` for a scratch database in memory.
        settings: threads and memory limit (:func:`duckdb_config`).
        config: DuckDB options to use instead of those of ``settings``.
        read_only: open the file read-only, so several readers can share it; a
            reader creates neither the file nor its folder.
        wait: seconds to keep trying while another process holds the file.

    Raises:
        FileNotFoundError: ``read_only`` and the file does not exist.
        WarehouseLocked: another process still holds the file after ``wait`` seconds;
            the message names that process and what to do.
    """
    config = duckdb_config(settings) if config is None else config
    if path is None:
        con = duckdb.connect(config=config)
    else:
        if read_only and not Path(path).exists():
            raise FileNotFoundError(
                f"warehouse {path} does not exist yet; run `workbench ingest` first"
            )
        if not read_only:  # a reader creates nothing, not even the folder
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        con = _while_locked(
            lambda: duckdb.connect(str(path), read_only=read_only, config=config), path, wait
        )
    # DuckDB's own progress bar would land in a report as a widget; tqdm shows progress.
    con.execute("SET enable_progress_bar = false")
    return con


def lock_holder(message: str) -> str | None:
    """``python3.11 (PID 1234)`` from DuckDB's lock-conflict message; ``None`` for other errors."""
    m = re.search(r"Conflicting lock is held in (\S+) \(PID (\d+)\)", message)
    if m:
        return f"{Path(m.group(1)).name} (PID {m.group(2)})"
    if "Could not set lock" in message:
        return "another process"
    return None


def is_spark(con: BaseBackend) -> bool:
    """Whether ``con`` runs on Spark (the jobs ask only where a backend lacks an operation)."""
    return con.name == "pyspark"


def materialise(expr: ir.Table, name: str, con: BaseBackend | None = None) -> ir.Table:
    """Write ``expr`` to a scratch table and read it back, a fixed input for what follows.

    On DuckDB the table is temporary. On Spark it is a real table: a cached or
    temporary view would keep the whole lineage, which grows with every reuse.
    ``con`` is needed when ``expr`` reads no table (an in-memory frame).
    """
    backend = con or expr._find_backend(use_default=True)
    backend.create_table(name, expr, temp=not is_spark(backend), overwrite=True)
    return backend.table(name)


def round_to(value: ir.NumericValue, digits: int) -> ir.FloatingValue:
    """``value`` rounded to ``digits`` decimals, halves away from zero, the same on every backend.

    The value is scaled by ``10**digits``, rounded to a whole number and scaled
    back, which is how DuckDB's ``round`` treats a double. Spark's ``round``
    rounds the shortest decimal form instead, so the two differ where a double
    lies just below a half: DuckDB rounds 1.005 (in binary 1.00499999...) to
    1.0, Spark to 1.01; 0.25375, an amount of 2.03 over eight orders, to 0.2537
    and 0.2538. Scaled first, both round the same double.
    """
    scale = 10**digits
    # Whole numbers as doubles: a literal 0 would make Ibis cast the result to an
    # integer, which fails on NaN.
    whole = (value * scale).round(ibis.literal(0).cast("int32"))
    return whole / scale


def scratch_name(kind: str, *key: object) -> str:
    """The name of a scratch table of ``kind`` for ``key``: the same key, the same name,
    so computing a thing again replaces its table instead of adding one."""
    digest = hashlib.sha1(repr(key).encode("utf-8")).hexdigest()[:10]
    return f"_wb_{kind}_{digest}"


def replace_rows(con: BaseBackend, name: str, rows: ir.Table, column: str, value: Any) -> int:
    """Replace the rows of table ``name`` whose ``column`` equals ``value`` by ``rows``.

    The table is created from ``rows`` when missing. On DuckDB the old rows are
    deleted and the new ones inserted straight from the expression in one
    transaction, so a reader sees the old rows or the new ones, never neither;
    rows of other values stay. Spark has no transactions: the table is
    rewritten whole, from a copy beside it (``_next_<name>``: the new rows and
    the kept ones), because Spark cannot overwrite a table a query reads.

    Returns:
        The number of rows written.
    """
    if is_spark(con):
        aside = f"_next_{name}"
        con.create_table(aside, rows, overwrite=True)
        n = int(con.table(aside).count().execute())
        if name in con.list_tables():
            old = con.table(name)
            con.insert(aside, old.filter(~old[column].identical_to(value)))
        con.create_table(name, con.table(aside), overwrite=True)
        con.drop_table(aside)
        return n
    if name not in con.list_tables():
        con.create_table(name, schema=rows.schema())
    raw = con.con
    raw.execute("BEGIN TRANSACTION")
    try:
        raw.execute(f'DELETE FROM "{name}" WHERE "{column}" = ?', [value])
        con.insert(name, rows)
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    t = con.table(name)
    return int(t.filter(t[column] == value).count().execute())


def replace_tables(
    con: BaseBackend,
    tables: Mapping[str, ir.Table | pd.DataFrame],
    also: Callable[[Any], None] | None = None,
) -> None:
    """Replace several tables at once: readers see all the old ones or all the new ones.

    On DuckDB each new table is built aside (``_next_<name>``) and all are swapped
    in one transaction, together with ``also(raw_connection)``; a failure or a
    kill before the commit leaves the old tables as they were. Spark has no
    transactions: the tables are overwritten one by one and ``also`` is not run.
    """
    if is_spark(con):
        for name, obj in tables.items():
            con.create_table(name, obj, overwrite=True)
        return
    staged = {}
    for name, obj in tables.items():
        staged[name] = f"_next_{name}"
        con.create_table(staged[name], obj, overwrite=True)
    raw = con.con
    raw.execute("BEGIN TRANSACTION")
    try:
        for name, aside in staged.items():
            raw.execute(f'DROP TABLE IF EXISTS "{name}"')
            raw.execute(f'ALTER TABLE "{aside}" RENAME TO "{name}"')
        if also is not None:
            also(raw)
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise


@functools.cache
def spark_session(master: str = "local[2]", warehouse_dir: str = "data/spark-warehouse") -> Any:
    """One Spark session per process and master (the JVM start costs seconds).

    The session clock is UTC so timestamps mean the same as on DuckDB, where
    they are stored without a time zone.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "WORKBENCH_ENGINE=spark needs pyspark: install the extra with "
            "`pip install 'retail-workbench[spark]'` (make test does)"
        ) from exc
    session = (
        SparkSession.builder.master(master)
        .appName("retail-workbench")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(Path(warehouse_dir).resolve()))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        # The catalogue lives in the session; let a new session write over tables
        # whose files an earlier one left in the warehouse directory.
        .config("spark.sql.legacy.allowNonEmptyLocationInCTAS", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # Splink on Spark checkpoints its intermediate tables to cut their lineage.
    session.sparkContext.setCheckpointDir(str(Path(warehouse_dir).resolve() / "_checkpoints"))
    return session


def hmac_pads(salt: str) -> tuple[str, str]:
    """The HMAC-SHA256 inner and outer key pads of ``salt``, hex-encoded."""
    key = salt.encode("utf-8")
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def register_functions(con: Any, salt: str, datetime_formats: tuple[str, ...]) -> None:
    """Define the parsing and hashing functions ingestion uses, on a raw DuckDB connection.

    ``wb_hmac(s)``: HMAC-SHA256 of ``s`` with the settings' salt, hex (equal to
    Python's ``hmac.new(salt, s, sha256).hexdigest()``); ``wb_ts(s)``: a local
    timestamp from any of ``datetime_formats``, an ISO time with offset (converted
    to Asia/Shanghai) or an Excel serial day number; ``wb_ts_as(s, f)``: the same, trying
    format ``f`` first (a failed format costs more than the parse, so a column's
    usual format goes first); ``wb_amount(s)``: a number from
    ``¥1,234.00``, ``￥1,234.00``, ``12.5元``; ``wb_clean(s)``: the value as it came,
    without surrounding whitespace (Douyin's tab) and unwrapped from Taobao's
    ``="..."``, the one wrapper platforms add (a value such as ``=1+1`` is kept
    whole); ``wb_id(s)``: the same, for ids; ``wb_mobile(s)``: the 11 digits
    of a mainland mobile number written with spaces, dashes or +86, else NULL;
    ``wb_phone(s)``: its HMAC; ``wb_mask_full(s)``: a full
    phone masked as the platforms mask it (``138****5678``), so full and masked phones compare.
    """
    ipad, opad = hmac_pads(salt)
    formats = ", ".join("'" + f.replace("'", "''") + "'" for f in datetime_formats if "%z" not in f)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP MACRO wb_hmac(s) AS
            CASE WHEN s IS NULL OR s = '' THEN NULL ELSE
            lower(sha256(unhex('{opad}') || unhex(sha256(unhex('{ipad}') || encode(s))))) END;
        CREATE OR REPLACE TEMP MACRO wb_clean(s) AS
            nullif(regexp_replace(s, '^\\s*(?:="\\s*(.*?)\\s*"|(.*?))\\s*$', '\\1\\2', 's'), '');
        CREATE OR REPLACE TEMP MACRO wb_id(s) AS wb_clean(s);
        CREATE OR REPLACE TEMP MACRO wb_amount(s) AS
            try_cast(nullif(regexp_replace(trim(s), '[¥￥,元\\s]', '', 'g'), '') AS DOUBLE);
        CREATE OR REPLACE TEMP MACRO wb_ts(s) AS
            CASE
              WHEN s IS NULL OR trim(s) = '' THEN NULL
              WHEN regexp_full_match(trim(s), '[1-9][0-9]{{4}}(\\.[0-9]+)?')
                THEN TIMESTAMP '1899-12-30'
                     + to_microseconds(round(trim(s)::DOUBLE * 86400000000)::BIGINT)
              WHEN regexp_full_match(trim(s), '.*T.*([+-][0-9]{{2}}:?[0-9]{{2}}|Z)')
                THEN timezone('Asia/Shanghai', try_strptime(trim(s), '%Y-%m-%dT%H:%M:%S%z'))
              ELSE try_strptime(trim(s), [{formats}])
            END;
        CREATE OR REPLACE TEMP MACRO wb_ts_as(s, f) AS
            CASE
              WHEN s IS NULL OR trim(s) = '' THEN NULL
              ELSE coalesce(try_strptime(trim(s), f), wb_ts(s))
            END;
        CREATE OR REPLACE TEMP MACRO wb_masked(s) AS
            nullif(regexp_replace(regexp_extract(s, '(1[0-9]{{2}})\\*+([0-9]{{4}})'),
                                  '\\*+', '****'), '');
        CREATE OR REPLACE TEMP MACRO wb_mobile(s) AS
            CASE WHEN regexp_full_match(regexp_replace(coalesce(s, ''), '[\\s-]|^\\+?86', '', 'g'),
                                        '1[0-9]{{10}}')
                 THEN regexp_replace(s, '[\\s-]|^\\+?86', '', 'g') END;
        CREATE OR REPLACE TEMP MACRO wb_mask_full(s) AS
            left(wb_mobile(s), 3) || '****' || right(wb_mobile(s), 4);
        CREATE OR REPLACE TEMP MACRO wb_phone(s) AS wb_hmac(wb_mobile(s));
        CREATE OR REPLACE TEMP MACRO wb_tokens(s) AS
            list_transform(regexp_extract_all(coalesce(s, ''), '[0-9]+|[^0-9号栋幢单元室\\s]+'),
                           x -> wb_hmac(x));
        CREATE OR REPLACE TEMP MACRO wb_chars(s) AS
            list_transform(string_split(regexp_replace(coalesce(s, ''), '\\s', '', 'g'), ''),
                           x -> wb_hmac(x));
        """
    )
