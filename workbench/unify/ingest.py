"""Ingest: load every export under a raw directory into the warehouse, then resolve persons.

For each file, in its own transaction: read it (:mod:`workbench.sources.stage`),
normalise it (:mod:`workbench.unify.normalise`: parse amounts and dates, check
ids, hash personal data, reject or flag what cannot be read), upsert the
result, and log rows read, loaded and rejected (``ingest_log``). Loading is an
upsert by key, so re-ingesting a file or an overlapping export changes nothing.

What a damaged input gets:

- a file that cannot be read at all, or lacks a required column, is *refused*
  with a one-line reason (file, and row where known); the run goes on;
- an empty file (no bytes, or only a byte-order mark and blank lines), of any
  kind, is logged as *empty* and loads nothing;
- a row that cannot be loaded is *rejected* (``rejected_rows``: file, row,
  column, reason, and the value unless it is personal data);
- an optional value that cannot be read is *flagged* (``flagged_values``) and
  its row loaded.

Per file, rows read = rows loaded + rows rejected, each counted from what was
written; a file where that fails is a fault in the workbench and stops the run.
Identity resolution then rewrites the identity tables in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from workbench.config import Settings, load_settings
from workbench.engine import duckdb_config, open_duckdb, register_functions
from workbench.errors import DataError, WorkbenchError
from workbench.sources.detect import ExportFile, is_empty, walk
from workbench.sources.mapping import PLATFORM_CURRENCY, MappedSource
from workbench.sources.specs import DATETIME_FORMATS, LOAD_ORDER, ORDER_SPECS, OrderSpec
from workbench.sources.stage import ROW, Staged, flatten, read_export
from workbench.sources.tables import TABLE_SPECS, TableSpec
from workbench.unify.normalise import lacks_message, normalise
from workbench.unify.warehouse import (
    check_currency,
    check_salt,
    ensure_tables,
    mark_complete,
    mark_loading,
    record_currency,
    upsert,
)

log = logging.getLogger(__name__)


CHECKPOINT_EVERY = "1GB"  # of write-ahead log; DuckDB's default, 16 MB, checkpoints every few files


class NoExports(WorkbenchError):
    """The raw directory holds no export the workbench recognises."""


class ReconciliationError(RuntimeError):
    """Rows read != loaded + rejected for a file: a fault in the workbench, not in the data."""


@dataclass
class FileResult:
    """What happened to one file."""

    file: str
    platform: str
    format: str
    encoding: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_new: int = 0
    status: str = "loaded"  # loaded | refused | skipped | empty
    message: str = ""
    seconds: float = 0.0
    rows_flagged: int = 0


@dataclass
class IngestResult:
    files: list[FileResult] = field(default_factory=list)
    identity: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step, all files

    @property
    def refused(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "refused"]

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([f.__dict__ for f in self.files])


@dataclass(frozen=True)
class Job:
    """One file to load: where it is, how it is logged, and its format's spec."""

    path: Path
    rel: str
    platform: str
    spec: OrderSpec | TableSpec
    mapping: MappedSource | None = None

    @property
    def currency(self) -> str:
        """The ISO code of the file's amounts: its mapping's, else the platforms' CNY."""
        return self.mapping.currency if self.mapping else PLATFORM_CURRENCY


SPECS: dict[str, OrderSpec | TableSpec] = {**ORDER_SPECS, **TABLE_SPECS}
EMPTY = "the file is empty: nothing to load"


def plan(files: list[ExportFile]) -> tuple[list[Job], list[tuple[FileResult, Path]]]:
    """The files to load, in load order, and the results of those not loaded.

    A file whose header matches no format is skipped; one that is clearly a
    known format but lacks identifying columns, or whose header cannot be read,
    is refused; an empty file is logged as empty.
    """
    jobs: list[Job] = []
    others: list[tuple[FileResult, Path]] = []
    for f in files:
        if f.format in SPECS and not f.problem and not f.missing and not f.empty:
            jobs.append(Job(f.path, f.rel, f.platform, SPECS[f.format]))
            continue
        res = FileResult(f.rel, f.platform, f.format, f.encoding, status="refused")
        if f.empty:
            res.status, res.message = "empty", EMPTY
        elif f.problem:
            res.message = f.problem
        elif f.missing:
            res.message = (
                f"{f.rel}: looks like a {f.format} export but lacks column {', '.join(f.missing)}"
            )
        else:
            res.status = "skipped"
            res.message = (
                "format not recognised from the header"
                if f.format == "unknown"
                else "no loader for this format"
            )
        others.append((res, f.path))
    rank = {fmt: i for i, fmt in enumerate(LOAD_ORDER)}
    jobs.sort(key=lambda j: (rank.get(j.spec.format, len(rank)), j.rel))
    return jobs, others


def ingest(
    raw_dir: str | Path | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    wait: float = 0.0,
) -> IngestResult:
    """Load every export under ``raw_dir`` into the warehouse, then resolve persons.

    Parameters:
        raw_dir: directory of exports as downloaded; ``<data_dir>/raw`` by default.
        settings: warehouse location and the salt used to hash phones and names.
        progress: show a progress bar over files.
        wait: seconds to wait for another process to release the warehouse.

    Returns:
        Per file: rows read, loaded, rejected and new, or why the file was refused
        (unreadable, a required column missing) or skipped (not a known format).

    Raises:
        NoExports: nothing under ``raw_dir`` is a known export.
        SaltMismatch: the warehouse was built with another salt.
        WarehouseLocked: another process holds the warehouse.

    Example:
        >>> result = ingest("data/raw")  # doctest: +SKIP
        >>> result.summary()[["file", "rows_read", "rows_loaded", "rows_rejected"]]  # doctest: +SKIP
    """
    settings = settings or load_settings()
    root = Path(raw_dir) if raw_dir else settings.raw_dir
    if not root.is_dir():
        raise FileNotFoundError(
            f"raw directory {root} does not exist; run `workbench synth` first or name your export folder"
        )
    files = list(walk(root))
    jobs, others = plan(files)
    if not jobs and not any(r.status in ("refused", "empty") for r, _ in others):
        found = f"{len(files)} file(s), none of a known format" if files else "it is empty"
        raise NoExports(
            f"no exports found in {root}: {found}; data/README.md lists the formats recognised"
        )
    return _run(settings, jobs, others, progress, wait)


def ingest_mapped(
    mapping_file: str | Path,
    settings: Settings | None = None,
    progress: bool = True,
    wait: float = 0.0,
) -> IngestResult:
    """Load the order table(s) a mapping file describes (see ``sources.mapping``).

    Example:
        >>> ingest_mapped("data/mappings/cdnow.toml")  # doctest: +SKIP
    """
    settings = settings or load_settings()
    m = MappedSource.read_toml(mapping_file, settings.root)
    jobs = [Job(p, f"{m.name}/{p.name}", m.platform, m.spec, m) for p in m.files]
    return _run(settings, jobs, [], progress, wait)


def _run(
    settings: Settings,
    jobs: list[Job],
    others: list[tuple[FileResult, Path]],
    progress: bool,
    wait: float,
) -> IngestResult:
    """Load each file in its own transaction, then resolve the accounts into persons."""
    con = open_duckdb(settings.warehouse, settings, wait=wait)
    try:
        ensure_tables(con)
        check_salt(con, settings.salt, str(settings.warehouse))
        register_functions(con, settings.salt, DATETIME_FORMATS)
        mark_loading(con)
        # One checkpoint at the end instead of one every few files: each file's
        # commit then only appends to the write-ahead log.
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_EVERY}'")
        result = IngestResult()
        for job in tqdm(jobs, desc="ingest", unit="file", disable=not progress):
            try:
                if is_empty(job.path):
                    res = FileResult(job.rel, job.platform, job.spec.format, status="empty")
                    res.message = EMPTY
                    _log(con, res, _sha256(job.path))
                else:
                    res = _load_file(con, job, result.steps)
            except DataError as exc:
                res = FileResult(job.rel, job.platform, job.spec.format, status="refused")
                res.message = str(exc)
                _log(con, res, _sha256(job.path))
            result.files.append(res)
        for res, path in others:
            _log(con, res, _sha256(path))
            result.files.append(res)
        for res in result.refused:
            log.error("refused %s", res.message)
        for res in result.files:
            if res.status == "empty":
                log.info("%s: %s", res.file, res.message)
        import ibis

        from workbench.unify.identity import resolve_identities

        t0 = time.perf_counter()
        result.identity = resolve_identities(
            ibis.duckdb.from_connection(con),
            threshold=settings.link_threshold,
            config=duckdb_config(settings),
            on_commit=mark_complete,
        )
        result.steps["identity"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        con.execute("CHECKPOINT")
        result.steps["checkpoint"] = time.perf_counter() - t0
        log.info("ingest seconds per step: %s", {k: round(v, 1) for k, v in result.steps.items()})
        return result
    finally:
        con.close()


def _stage(job: Job) -> tuple[Staged, pa.Table]:
    """Read the file; flatten nested records. Returns the staged file and the table to load."""
    staged = job.mapping.read(job.path) if job.mapping else read_export(job.path)
    table = staged.table
    spec = job.spec
    if isinstance(spec, OrderSpec) and spec.explode:
        if spec.explode not in table.column_names:
            raise DataError(f"{job.rel}: a {spec.format} export lacks the list `{spec.explode}`")
        table = flatten(table, spec.explode, spec.paths)
    return staged, table


_DATA_ERRORS = (
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    duckdb.InvalidInputException,
)


def _engine_message(exc: Exception) -> str:
    """DuckDB's message without the values it quotes (they may be personal data)."""
    text = str(exc).splitlines()[0]
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)


def _load_file(con: Any, job: Job, steps: dict[str, float]) -> FileResult:
    t0 = time.perf_counter()
    spec = job.spec
    res = FileResult(job.rel, job.platform, spec.format)
    check_currency(con, job.currency, job.rel)
    staged, table = _stage(job)
    t_read = time.perf_counter()
    res.encoding = staged.encoding
    res.rows_read = staged.rows_read
    present = set(table.column_names) - {ROW}  # _line stays: it orders flattened lines
    lacks = lacks_message(spec, present, job.rel)
    if lacks:
        raise DataError(lacks)
    bad = pa.table(
        {
            ROW: pa.array([r for r, _ in staged.bad_rows], pa.int64()),
            "reason": pa.array([why for _, why in staged.bad_rows], pa.string()),
        }
    )
    con.register("source", table)
    con.register("bad_rows", bad)
    try:
        try:
            out = normalise(con, spec, present, job.rel)
        except _DATA_ERRORS as exc:
            raise DataError(
                f"{job.rel}: a value could not be read ({_engine_message(exc)})"
            ) from None
        t_norm = time.perf_counter()
        res.rows_rejected = _count(con, "SELECT count(DISTINCT _row) FROM rejections")
        res.rows_loaded = _count(con, out.loaded_rows)
        res.rows_flagged = _count(con, "SELECT count(*) FROM flags")
        if res.rows_read != res.rows_loaded + res.rows_rejected:
            raise ReconciliationError(
                f"{job.rel}: {res.rows_read:,} rows read but {res.rows_loaded:,} loaded and "
                f"{res.rows_rejected:,} rejected"
            )
        res.rows_new = _count(con, out.new_keys)
        sha = _sha256(job.path)
        con.execute("BEGIN TRANSACTION")
        try:
            if out.refund_deltas:
                _apply_late_refunds(con)
            for w in out.writes:
                upsert(con, w, replace_by="order_key" if w.target == "order_lines" else None)
            record_currency(con, job.currency)
            con.execute("DELETE FROM rejected_rows WHERE source_file = ?", [job.rel])
            con.execute(
                'INSERT INTO rejected_rows SELECT ?, _row, "column", reason, value FROM rejections',
                [job.rel],
            )
            con.execute("DELETE FROM flagged_values WHERE source_file = ?", [job.rel])
            con.execute(
                'INSERT INTO flagged_values SELECT ?, _row, "column", reason, value FROM flags',
                [job.rel],
            )
            res.seconds = time.perf_counter() - t0
            _log(con, res, sha)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("source")
        con.unregister("bad_rows")
    t_end = time.perf_counter()
    for step, secs in (
        ("read", t_read - t0),
        ("normalise", t_norm - t_read),
        ("write", t_end - t_norm),
    ):
        steps[step] = steps.get(step, 0.0) + secs
    return res


def _apply_late_refunds(con: Any) -> None:
    """Net refund tickets of orders loaded from earlier files into those orders.

    The change is the ticket's amount less what the stored ticket of the same
    key already gave, so a ticket seen again changes nothing.
    """
    con.execute(
        """
        UPDATE orders SET
            refund_amount = orders.refund_amount + d.delta,
            net_amount = orders.net_amount - d.delta,
            status = CASE
                WHEN orders.refund_amount + d.delta >= orders.paid_amount
                     AND orders.paid_amount > 0 THEN 'refunded'
                WHEN orders.refund_amount + d.delta > 0 THEN 'partially_refunded'
                ELSE 'paid' END
        FROM (
            SELECT n.order_key, sum(n.amount - coalesce(old.amount, 0)) AS delta
            FROM refunds_out n LEFT JOIN refunds old USING (refund_key)
            WHERE n.order_key NOT IN (SELECT order_key FROM orders_out)
            GROUP BY n.order_key
        ) d
        WHERE orders.order_key = d.order_key AND d.delta <> 0
        """
    )


def _count(con: Any, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _log(con: Any, res: FileResult, sha: str) -> None:
    con.execute(
        "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            res.file,
            sha,
            res.platform,
            res.format,
            res.encoding,
            res.rows_read,
            res.rows_loaded,
            res.rows_rejected,
            res.rows_new,
            res.status,
            res.message,
            datetime.now(),
            res.seconds,
        ],
    )
