"""The one place that opens a backend.

Relational work is written once as Ibis expressions.  :func:`connect` gives
an Ibis backend on DuckDB (embedded, on ``data/warehouse.duckdb``) or, when
``engine == "spark"``, on a Spark session (local or the configured master).
Backend differences that the jobs need stay inside this module.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend

from workbench.config import Settings, load_settings

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


def duckdb_connect(
    path: str | Path, settings: Settings | None = None, *, read_only: bool = False
) -> BaseBackend:
    """Open an Ibis DuckDB backend on ``path`` (``":memory:"`` for a scratch database)."""
    config: dict[str, Any] = {}
    if settings is not None and settings.threads:
        config["threads"] = settings.threads
    if settings is not None and settings.memory_limit:
        config["memory_limit"] = settings.memory_limit
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if read_only and not Path(path).exists():
            raise FileNotFoundError(
                f"warehouse {path} does not exist yet; run `workbench ingest` first"
            )
    log.info("engine: DuckDB on %s", path)
    return ibis.duckdb.connect(str(path), read_only=read_only, **config)


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
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def backend_name(con: BaseBackend) -> str:
    """``"duckdb"`` or ``"pyspark"``: for the rare place that must know."""
    return str(con.name)


def excel_extension_path() -> Path | None:
    """The DuckDB Excel extension shipped by the ``duckdb-ext-excel`` wheel, if installed.

    DuckDB would download extensions on first use; the wheel brings the binary
    for the pinned DuckDB release so that reading and writing ``.xlsx`` works offline.
    """
    import duckdb

    try:
        import duckdb_ext
    except ImportError:
        return None
    version = duckdb.__version__
    for root in getattr(duckdb_ext, "__path__", []):
        for candidate in Path(root).glob(f"extensions/v{version}/*/excel.duckdb_extension"):
            return candidate
    return None


def load_excel(con: Any) -> None:
    """Load the Excel extension into a raw ``duckdb`` connection (``read_xlsx``, ``COPY ... xlsx``)."""
    path = excel_extension_path()
    if path is None:
        raise RuntimeError(
            "the DuckDB Excel extension is missing: install the pinned "
            "`duckdb-ext-excel` wheel (make test and make demo do)"
        )
    con.execute(f"LOAD '{path}'")
