"""Run a notebook with papermill into ``reports/<run-id>/`` and render its report.

Each run writes the executed ``.ipynb``, a self-contained ``.html`` and
``parameters.json`` (effective parameters and where each came from, timing,
status, version, data fingerprint). What the kernel process itself writes to
stderr, outside any cell (a fatal error, noise at its shutdown), goes to
``kernel.log`` beside them, kept when the run failed: after a good run it is
only shutdown noise (jupyter_client interrupts the kernel before it asks it
to stop, and ipykernel may log that). Parameters are checked
and resolved before anything is written or a kernel starts: a value the
notebook does not accept stops the run with one line and leaves ``reports/``
as it was. A failed run still gets its HTML, and never replaces the last good
report of the same notebook, parameters and warehouse: ``reports/latest/`` is
only updated on success, and ``reports/index.html`` lists every run.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from workbench import __version__
from workbench.config import Settings, load_settings
from workbench.errors import WorkbenchError
from workbench.report.params import (
    check_parameters,
    declared_parameters,
    effective_settings,
    notebook_jobs,
    resolve_parameters,
)

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one notebook run produced.

    A schedule entry that could not start (its notebook missing, a parameter
    refused) is a failed result without files: ``out_dir``, ``html`` and
    ``executed`` are ``None``.
    """

    run_id: str
    notebook: Path
    status: str  # "ok" | "failed"
    out_dir: Path | None
    html: Path | None
    executed: Path | None
    duration_s: float
    parameters: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def params_key(
    notebook: str | Path,
    parameters: Mapping[str, Any],
    settings: Settings | None = None,
    job_settings: Mapping[str, Any] | None = None,
) -> str:
    """Stable name of a notebook and what its results depend on, e.g. ``01_unify-3fa2c1``.

    Parameters:
        notebook: the notebook's path; only its name counts.
        parameters: the effective parameters of the run.
        settings: adds the settings that change results without being parameters:
            the engine and the warehouse file.
        job_settings: adds the effective settings of the jobs the notebook runs
            (:func:`~workbench.report.params.effective_settings`).

    Example:
        >>> params_key("notebooks/01_unify.ipynb", {"lang": "en"})[:9]
        '01_unify-'
    """
    blob: dict[str, Any] = {"parameters": dict(parameters)}
    if settings is not None:
        blob["engine"] = settings.engine
        blob["warehouse"] = str(settings.warehouse)
    if job_settings:
        blob["settings"] = dict(job_settings)
    text = json.dumps(blob, sort_keys=True, ensure_ascii=False, default=str)
    return f"{Path(notebook).stem}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


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


def data_fingerprint(settings: Settings, files: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """A short digest of the warehouse's data tables, their row counts, and the raw files.

    The digest covers the name, row count and content of every data table and
    nothing that records runs (:data:`BOOKKEEPING_TABLES`, tables whose name
    starts with ``_``): two reports with the same digest were computed from the
    same data, and re-running ingestion or identity resolution on the same
    exports keeps it. The raw files are counted beside it, not in it.

    Parameters:
        settings: the project's settings (where the warehouse and raw files are).
        files: the files a run reads beside the warehouse, by parameter name (an
            experiment table, a levers file): their contents are in the digest too.

    Returns:
        ``{"digest": 12 hex digits, "tables": {name: rows}, "raw_files": n, "raw_bytes": n}``,
        and ``"files": {parameter: 12 hex digits of the file's SHA-256}`` given files.
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
    read = {name: _file_digest(path) for name, path in sorted((files or {}).items())}
    blob = json.dumps(sorted(digests.items()))
    if read:
        blob += json.dumps(sorted(read.items()))
    out: dict[str, Any] = {
        "digest": hashlib.sha256(blob.encode()).hexdigest()[:12],
        "tables": {name: rows for name, (rows, _) in digests.items()},
        "raw_files": len(raw),
        "raw_bytes": sum(size for _, size in raw),
    }
    if read:
        out["files"] = read
    return out


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def input_files(values: Mapping[str, Any], root: Path) -> dict[str, Path]:
    """The files a run's parameters name (``*_file``, relative to the project root) that
    exist: what it reads beside the warehouse."""
    out = {}
    for name, value in values.items():
        if name.endswith("_file") and value:
            path = root / Path(str(value)).expanduser()
            if path.is_file():
                out[name] = path
    return out


HEADLESS = "WORKBENCH_HEADLESS"


@contextlib.contextmanager
def _kernel_env(settings: Settings) -> Iterator[None]:
    """Hand the run's settings to the kernel, which reads them from its environment.

    Every setting goes (:meth:`~workbench.config.Settings.to_env`); one left to a
    backend's default is removed, so the caller's environment cannot set it.
    ``WORKBENCH_HEADLESS`` tells interactive cells (explorers) that nobody will
    move their controls, so they show their static table instead.
    """
    values = {**settings.to_env(), HEADLESS: "1"}
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def _kernel_options(stderr_fd: int) -> dict[str, Any]:
    """papermill options: the kernel's own stderr to ``stderr_fd``, its sockets encrypted.

    A kernel process writes to its stderr outside any cell: a fatal error, or
    ipykernel's traceback when a message races the closing of its sockets at
    shutdown. Those lines are the kernel's, not the run's: they go to a file
    (:func:`_logged_kernel_manager`), so ``workbench run`` prints only its own.

    ipykernel writes "Kernel is running over TCP without encryption" to stderr
    whenever its sockets are plain; given CurveZMQ keys by the kernel manager
    (which it takes, as its kernelspec declares), it has nothing to say.
    """
    import zmq
    from traitlets.config import Config

    config: dict[str, Any] = {"LoggedKernelManager": {"stderr_fd": stderr_fd}}
    if zmq.has("curve"):
        config["KernelManager"] = {"transport_encryption": "auto"}
    return {"config": Config(config), "kernel_manager_class": _logged_kernel_manager()}


@functools.cache
def _logged_kernel_manager() -> type:
    """:class:`jupyter_client.AsyncKernelManager` that starts the kernel with its stderr
    on the file descriptor ``stderr_fd`` (a setting; -1 leaves it inherited).

    Built on first use, so that commands which start no kernel do not import
    jupyter_client.
    """
    from jupyter_client import AsyncKernelManager
    from traitlets import Int

    class LoggedKernelManager(AsyncKernelManager):
        stderr_fd = Int(-1, config=True, help="Where the kernel process's stderr goes.")

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            if self.stderr_fd >= 0:
                kw.setdefault("stderr", self.stderr_fd)
            await super().start_kernel(**kw)

    return LoggedKernelManager


@dataclass(frozen=True)
class Prepared:
    """A run's parameters, checked and resolved before anything is written.

    Attributes:
        values: every declared parameter with its effective value.
        sources: where each value came from (see :func:`~workbench.report.params.resolve_parameters`).
        data_range: first and last order dates in the warehouse, or ``None``.
        inject: the values papermill injects: all but those the notebook itself sets.
        lang: the report's language: the effective ``lang``, else the setting.
        settings: every setting of the jobs the notebook runs, as the run uses it
            (``segment.active_rc``); a parameter of the same name overrides its setting.
        setting_sources: where each of those came from.
    """

    values: dict[str, Any]
    sources: dict[str, str]
    data_range: tuple[str, str] | None
    inject: dict[str, Any]
    lang: str
    settings: dict[str, Any] = field(default_factory=dict)
    setting_sources: dict[str, str] = field(default_factory=dict)


def prepare_parameters(notebook: Path, given: Mapping[str, Any], settings: Settings) -> Prepared:
    """Check the given values against the notebook's declaration and resolve every parameter.

    Values given as text (``-p NAME VALUE``) are read by the declared type. A
    parameter left at ``None`` takes the setting of the same name or, for
    ``as_of``, the last order date in the warehouse, which is opened read-only
    for its date range. A notebook that declares no parameters gets none.

    Raises:
        ParameterError: an unknown name or a value the parameter does not accept.
        WorkbenchError: the notebook cannot be read.

    Example:
        >>> p = prepare_parameters(Path("notebooks/01_unify.ipynb"), {"lang": "en"}, load_settings())  # doctest: +SKIP
        >>> p.values["lang"], p.sources["lang"]
        ('en', 'given')
    """
    try:
        declared = declared_parameters(notebook)
        checked = check_parameters(notebook, given)
    except WorkbenchError:
        raise
    except Exception as exc:  # not JSON, or not a notebook
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WorkbenchError(f"notebook {notebook} cannot be read: {first}") from None
    values = {name: d.default for name, d in declared.items()}
    values.update(checked)
    con = _warehouse_reader(settings) if values else None
    try:
        resolved = resolve_parameters(values, settings, con, given=checked)
    finally:
        if con is not None:
            con.disconnect()
    inject = {k: v for k, v in resolved.values.items() if resolved.sources.get(k) != "notebook"}
    jobs = notebook_jobs(notebook)
    used, used_sources = effective_settings(jobs, resolved.values, resolved.sources, settings)
    return Prepared(
        values=dict(resolved.values),
        sources=dict(resolved.sources),
        data_range=resolved.data_range,
        inject=inject,
        lang=str(resolved.values.get("lang") or settings.lang),
        settings=used,
        setting_sources=used_sources,
    )


def _warehouse_reader(settings: Settings) -> Any | None:
    """The DuckDB warehouse opened read-only for its order dates; ``None`` if it cannot be."""
    if str(settings.warehouse) == ":memory:" or not settings.warehouse.exists():
        return None
    import duckdb

    from workbench.engine import duckdb_connect

    try:
        return duckdb_connect(settings.warehouse, settings, read_only=True)
    except (duckdb.Error, WorkbenchError) as exc:  # the notebook says so in the report
        log.warning("parameters: cannot open %s (%s)", settings.warehouse, exc)
        return None


def _error_of(nb_path: Path) -> dict[str, str]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return {"ename": out.get("ename", ""), "evalue": out.get("evalue", "")}
    return {"ename": "Error", "evalue": "the notebook failed"}


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def run_notebook(
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    show_code: bool = False,
    progress: bool = True,
    timeout_s: int | None = None,
) -> RunResult:
    """Check the parameters, execute ``notebook`` with papermill and render its report.

    Parameters:
        notebook: path of the ``.ipynb``; its parameters cell is tagged ``parameters``.
        parameters: values for the notebook's parameters, typed or as text.
        settings: where reports go (``settings.reports_dir``), and what the kernel gets.
        show_code: keep input cells in the HTML.
        progress: show a progress bar while cells run.
        timeout_s: per-cell timeout; ``None`` for none.

    Returns:
        A :class:`RunResult`; ``status`` is ``"failed"`` when a cell raised, and the
        HTML is written either way.

    Raises:
        FileNotFoundError: the notebook does not exist.
        ParameterError: a parameter the notebook does not declare or a value it does
            not accept; nothing is written and no kernel starts.

    Example:
        >>> r = run_notebook("notebooks/01_unify.ipynb", {"lang": "en"})  # doctest: +SKIP
        >>> r.html.name
        '01_unify.html'
    """
    settings = settings or load_settings()
    nb_path = Path(notebook).resolve()
    if not nb_path.is_file():
        raise FileNotFoundError(f"notebook {notebook} not found")
    prepared = prepare_parameters(nb_path, parameters or {}, settings)
    # Loaded only now, so that a refused parameter is reported without waiting for them.
    import papermill as pm

    from workbench.report.html import export_html, report_title
    from workbench.report.index import write_index

    started = datetime.now(settings.tzinfo)
    key = params_key(nb_path, prepared.values, settings, prepared.settings)
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
    kernel_log = out_dir / "kernel.log"
    try:
        with _kernel_env(settings), kernel_log.open("wb") as kernel_stderr:
            pm.execute_notebook(
                str(nb_path),
                str(executed),
                parameters=prepared.inject,
                progress_bar=progress,
                cwd=str(settings.root),
                execution_timeout=timeout_s,
                kernel_name="python3",
                **_kernel_options(kernel_stderr.fileno()),
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
    if status == "ok" or kernel_log.stat().st_size == 0:
        kernel_log.unlink()
    if status == "failed" and error and error["ename"] == "PapermillExecutionError":
        error = _error_of(executed)

    meta: dict[str, Any] = {
        "run_id": out_dir.name,
        "key": key,
        "notebook": _relative(nb_path, settings.root),
        "title": report_title(executed, prepared.lang),
        "lang": prepared.lang,
        "parameters": prepared.values,
        "parameter_sources": prepared.sources,
        "settings": prepared.settings,
        "setting_sources": prepared.setting_sources,
        "data_range": list(prepared.data_range) if prepared.data_range else None,
        "started": started.isoformat(timespec="seconds"),
        "timezone": settings.timezone,
        "duration_s": round(duration, 2),
        "status": status,
        "version": __version__,
        "engine": settings.engine,
        "warehouse": _relative(settings.warehouse, settings.root),
        "fingerprint": data_fingerprint(settings, input_files(prepared.values, settings.root)),
        "error": error,
        "html": html_path.name,
    }
    meta["html_bytes"] = export_html(
        executed, html_path, meta, show_code=show_code, lang=prepared.lang
    )
    (out_dir / "parameters.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    if status == "ok":
        latest = settings.reports_dir / "latest"
        latest.mkdir(exist_ok=True)
        shutil.copy(html_path, latest / f"{key}.html")
    write_index(settings.reports_dir, lang=settings.lang, timezone=settings.timezone)
    log.info("%s %s -> %s", status, nb_path.name, html_path)
    return RunResult(
        run_id=out_dir.name,
        notebook=nb_path,
        status=status,
        out_dir=out_dir,
        html=html_path,
        executed=executed,
        duration_s=duration,
        parameters=prepared.values,
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
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run every entry of a schedule in order, going on past failures.

    An entry that cannot start (its notebook missing, a parameter refused) is a
    failed result with its reason in ``error`` and no files; the next entry runs.

    Parameters:
        schedule: the YAML file (:func:`read_schedule`).
        settings: as for :func:`run_notebook`.
        show_code: keep input cells in the HTML.
        progress: show a progress bar while cells run.
        on_result: called with each result as soon as it is known.

    Raises:
        ValueError: the schedule itself cannot be read (nothing runs).
    """
    settings = settings or load_settings()
    results = []
    base = Path(schedule).resolve().parent
    for entry in read_schedule(schedule):
        nb = Path(entry.notebook)
        if not nb.is_absolute():
            # Relative to the project root, or else to the schedule file.
            nb = settings.root / nb if (settings.root / nb).exists() else base / nb
        try:
            result = run_notebook(nb, entry.parameters, settings, show_code, progress)
        except (FileNotFoundError, WorkbenchError) as exc:
            result = RunResult(
                run_id="",
                notebook=nb,
                status="failed",
                out_dir=None,
                html=None,
                executed=None,
                duration_s=0.0,
                parameters=dict(entry.parameters),
                error={"ename": type(exc).__name__, "evalue": str(exc)},
            )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
