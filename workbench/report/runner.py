"""Run a notebook with papermill into ``reports/<run-id>/`` and render its report.

Each run writes the executed ``.ipynb``, a self-contained ``.html`` and
``parameters.json`` (parameters, timing, status, version, data fingerprint).
A failed run still gets its HTML, and never replaces the last good report of
the same notebook and parameters: ``reports/latest/`` is only updated on
success, and ``reports/index.html`` lists every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import papermill as pm
import yaml

from workbench import __version__
from workbench.config import Settings, load_settings
from workbench.errors import WorkbenchError
from workbench.report.html import export_html
from workbench.report.index import write_index

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one notebook run produced."""

    run_id: str
    notebook: Path
    status: str  # "ok" | "failed"
    out_dir: Path
    html: Path
    executed: Path
    duration_s: float
    parameters: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def params_key(notebook: str | Path, parameters: Mapping[str, Any]) -> str:
    """Stable name of a notebook + parameters pair, e.g. ``01_unify-3fa2c1``."""
    blob = json.dumps(dict(parameters), sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:6]
    return f"{Path(notebook).stem}-{digest}"


def coerce(value: str) -> Any:
    """Read a ``-p NAME VALUE`` string as YAML numbers, booleans and lists; else keep the text.

    Dates stay text (``2026-11-20``), as the notebooks' parameters expect ISO strings.
    """
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    scalar = (bool, int, float, str)
    if isinstance(parsed, scalar) or (
        isinstance(parsed, list) and all(isinstance(x, scalar) for x in parsed)
    ):
        return parsed
    return value


BOOKKEEPING_TABLES: frozenset[str] = frozenset({"ingest_log", "identity_runs", "warehouse_meta"})
"""Tables that record runs rather than data (a leading ``_`` marks scratch tables)."""

_FLOATS = ("DOUBLE", "FLOAT", "REAL")


def is_data_table(name: str) -> bool:
    """Whether table ``name`` holds data, not run bookkeeping nor scratch work.

    Example:
        >>> is_data_table("orders"), is_data_table("ingest_log"), is_data_table("_next_persons")
        (True, False, False)
    """
    return name not in BOOKKEEPING_TABLES and not name.startswith("_")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_digests(con: Any) -> dict[str, tuple[int, str]]:
    """Row count and an order-free content digest of each data table on a raw DuckDB connection.

    The digest is the sum of DuckDB's ``hash`` of every row, so the order rows were
    written in does not count; floating-point columns are rounded to 6 decimals
    first, so neither do the last bits of a re-estimated weight.
    """
    columns: dict[str, list[str]] = {}
    for table, column, kind in con.execute(
        "SELECT c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "USING (table_catalog, table_schema, table_name) "
        "WHERE t.table_catalog = current_database() AND t.table_schema = 'main' "
        "AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position"
    ).fetchall():
        if is_data_table(table):
            quoted = _quote(column)
            columns.setdefault(table, []).append(
                f"round({quoted}, 6)" if str(kind).upper() in _FLOATS else quoted
            )
    out: dict[str, tuple[int, str]] = {}
    for table, cols in sorted(columns.items()):
        row = con.execute(
            f"SELECT count(*), sum(hash({', '.join(cols)})) FROM {_quote(table)}"
        ).fetchone()
        out[table] = (int(row[0]), str(row[1] or 0)) if row else (0, "0")
    return out


def data_fingerprint(settings: Settings) -> dict[str, Any]:
    """A short digest of the warehouse's data tables, their row counts, and the raw files.

    The digest covers the name, row count and content of every data table and
    nothing that records runs (:data:`BOOKKEEPING_TABLES`, tables whose name
    starts with ``_``): two reports with the same digest were computed from the
    same data, and re-running ingestion or identity resolution on the same
    exports keeps it. The raw files are counted beside it, not in it.

    Returns:
        ``{"digest": 12 hex digits, "tables": {name: rows}, "raw_files": n, "raw_bytes": n}``.
    """
    digests: dict[str, tuple[int, str]] = {}
    if str(settings.warehouse) != ":memory:" and settings.warehouse.exists():
        import duckdb

        from workbench.engine import open_duckdb

        try:
            con = open_duckdb(settings.warehouse, settings, read_only=True)
        except (duckdb.Error, WorkbenchError) as exc:  # locked by a writer, or not a DuckDB file
            log.warning("fingerprint: cannot open %s (%s)", settings.warehouse, exc)
        else:
            try:
                digests = table_digests(con)
            finally:
                con.close()
    raw: list[tuple[str, int]] = []
    if settings.raw_dir.exists():
        raw = sorted(
            (str(p.relative_to(settings.raw_dir)), p.stat().st_size)
            for p in settings.raw_dir.rglob("*")
            if p.is_file()
        )
    blob = json.dumps(sorted(digests.items()))
    return {
        "digest": hashlib.sha256(blob.encode()).hexdigest()[:12],
        "tables": {name: rows for name, (rows, _) in digests.items()},
        "raw_files": len(raw),
        "raw_bytes": sum(size for _, size in raw),
    }


@contextlib.contextmanager
def _kernel_env(settings: Settings) -> Iterator[None]:
    """Hand the run's settings to the kernel, which reads them from its environment."""
    values = {
        "WORKBENCH_ROOT": str(settings.root),
        "WORKBENCH_DATA_DIR": str(settings.data_dir),
        "WORKBENCH_WAREHOUSE": str(settings.warehouse),
        "WORKBENCH_REPORTS_DIR": str(settings.reports_dir),
        "WORKBENCH_ENGINE": settings.engine,
        "WORKBENCH_SPARK_MASTER": settings.spark_master,
        "WORKBENCH_SALT": settings.salt,
        "WORKBENCH_LANG": settings.lang,
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _error_of(nb_path: Path) -> dict[str, str]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return {"ename": out.get("ename", ""), "evalue": out.get("evalue", "")}
    return {"ename": "Error", "evalue": "the notebook failed"}


def run_notebook(
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    show_code: bool = False,
    progress: bool = True,
    timeout_s: int | None = None,
) -> RunResult:
    """Execute ``notebook`` with papermill and render its report.

    Parameters:
        notebook: path of the ``.ipynb``; its parameters cell is tagged ``parameters``.
        parameters: values injected after the parameters cell.
        settings: where reports go (``settings.reports_dir``).
        show_code: keep input cells in the HTML.
        progress: show a progress bar while cells run.
        timeout_s: per-cell timeout; ``None`` for none.

    Returns:
        A :class:`RunResult`; ``status`` is ``"failed"`` when a cell raised, and the
        HTML is written either way.

    Example:
        >>> r = run_notebook("notebooks/01_unify.ipynb", {"lang": "en"})  # doctest: +SKIP
        >>> r.html.name
        '01_unify.html'
    """
    settings = settings or load_settings()
    nb_path = Path(notebook).resolve()
    if not nb_path.is_file():
        raise FileNotFoundError(f"notebook {notebook} not found")
    params = dict(parameters or {})
    started = datetime.now().astimezone()
    key = params_key(nb_path, params)
    run_id = f"{started:%Y%m%dT%H%M%S}-{key}"
    out_dir = settings.reports_dir / run_id
    suffix = 1
    while out_dir.exists():
        suffix += 1
        out_dir = settings.reports_dir / f"{run_id}-{suffix}"
    out_dir.mkdir(parents=True)
    executed = out_dir / nb_path.name
    html_path = out_dir / f"{nb_path.stem}.html"

    t0 = time.perf_counter()
    error: dict[str, str] | None = None
    try:
        with _kernel_env(settings):
            pm.execute_notebook(
                str(nb_path),
                str(executed),
                parameters=params,
                progress_bar=progress,
                cwd=str(settings.root),
                execution_timeout=timeout_s,
                kernel_name="python3",
            )
        status = "ok"
    except pm.PapermillExecutionError as exc:
        status = "failed"
        error = {"ename": exc.ename, "evalue": str(exc.evalue)}
    except Exception as exc:  # the kernel died, or the notebook could not be read
        status = "failed"
        error = {"ename": type(exc).__name__, "evalue": str(exc)}
        if not executed.exists():
            shutil.copy(nb_path, executed)
    duration = time.perf_counter() - t0
    if status == "failed" and error and error["ename"] == "PapermillExecutionError":
        error = _error_of(executed)

    meta: dict[str, Any] = {
        "run_id": out_dir.name,
        "key": key,
        "notebook": str(nb_path.relative_to(settings.root))
        if nb_path.is_relative_to(settings.root)
        else str(nb_path),
        "title": nb_path.stem,
        "parameters": params,
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(duration, 2),
        "status": status,
        "version": __version__,
        "engine": settings.engine,
        "fingerprint": data_fingerprint(settings),
        "error": error,
        "html": html_path.name,
    }
    lang = str(params.get("lang", settings.lang))
    meta["html_bytes"] = export_html(executed, html_path, meta, show_code=show_code, lang=lang)
    (out_dir / "parameters.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    if status == "ok":
        latest = settings.reports_dir / "latest"
        latest.mkdir(exist_ok=True)
        shutil.copy(html_path, latest / f"{key}.html")
    write_index(settings.reports_dir, lang=settings.lang)
    log.info("%s %s -> %s", status, nb_path.name, html_path)
    return RunResult(
        run_id=out_dir.name,
        notebook=nb_path,
        status=status,
        out_dir=out_dir,
        html=html_path,
        executed=executed,
        duration_s=duration,
        parameters=params,
        error=error,
    )


@dataclass(frozen=True)
class ScheduleEntry:
    notebook: str
    parameters: dict[str, Any]


def read_schedule(path: str | Path) -> list[ScheduleEntry]:
    """Read a schedule: a YAML list (or ``runs:`` list) of ``{notebook, parameters}``.

    Raises:
        ValueError: naming the entry that lacks ``notebook`` or has bad parameters.
    """
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    entries = doc.get("runs") if isinstance(doc, dict) else doc
    if not isinstance(entries, list) or not entries:
        raise ValueError(
            f"{path}: expected a list of runs (or a `runs:` list), found {type(doc).__name__}"
        )
    out = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "notebook" not in entry:
            raise ValueError(f"{path}: run #{i} has no `notebook` key: {entry!r}")
        params = entry.get("parameters") or {}
        if not isinstance(params, dict):
            raise ValueError(f"{path}: run #{i} `parameters` must be a mapping, found {params!r}")
        out.append(ScheduleEntry(str(entry["notebook"]), params))
    return out


def run_all(
    schedule: str | Path,
    settings: Settings | None = None,
    show_code: bool = False,
    progress: bool = True,
) -> list[RunResult]:
    """Run every entry of a schedule in order, going on past failures."""
    settings = settings or load_settings()
    results = []
    base = Path(schedule).resolve().parent
    for entry in read_schedule(schedule):
        nb = Path(entry.notebook)
        if not nb.is_absolute():
            # Relative to the project root, or else to the schedule file.
            nb = settings.root / nb if (settings.root / nb).exists() else base / nb
        results.append(run_notebook(nb, entry.parameters, settings, show_code, progress))
    return results
