"""Measuring one step from the parent: a fresh process, its peak memory, a watchdog.

:func:`measure` starts ``python -m workbench.bench STEP ...`` (see
:mod:`workbench.bench.steps`), reads the process's resident set high-water mark
with ``os.wait4`` when it ends (interpreter and libraries included), and stops it
when its resident set passes a cap, so a reference that cannot fit is reported
as such instead of taking the machine down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.bench.steps import settings_arg
from workbench.config import SegmentSettings

TEMP_CAP_GB = 20.0
"""What a DuckDB step may spill to disk; past it the step fails rather than fill the disk
(DuckDB's own default is 90% of the free space)."""


@dataclass
class StepRun:
    """One run of one step, as the parent saw it."""

    step: str
    status: str  # ok | failed | memory_cap
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    baseline_rss_mb: float | None = None
    process_s: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


def total_ram_bytes() -> int:
    """The machine's memory in bytes (0 where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def _watch(pid: int, cap_mb: float, hit: threading.Event, done: threading.Event) -> None:
    """Kill ``pid`` when its resident set passes ``cap_mb``, so a reference that does not
    fit stops alone rather than taking the machine down."""
    page = os.sysconf("SC_PAGE_SIZE")
    while not done.wait(0.2):
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss = int(f.read().split()[1]) * page / 1e6
        except (OSError, ValueError, IndexError):
            return
        if rss > cap_mb:
            hit.set()
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return


def measure(
    step: str,
    root: Path,
    as_of: str,
    cap_mb: float,
    temp_cap_gb: float = TEMP_CAP_GB,
    settings: SegmentSettings | None = None,
) -> StepRun:
    """Run ``step`` in a fresh Python process; its peak RSS comes from ``os.wait4``.

    Parameters:
        step: ``ours``, ``pandas`` or ``sql``.
        root: the data folder of :func:`~workbench.bench.generate.generate`.
        as_of: the as-of date.
        cap_mb: the resident set at which the process is stopped.
        temp_cap_gb: what a DuckDB step may spill to disk before it fails.
        settings: the segment settings the step applies (``SegmentSettings()`` by default).

    Returns:
        The run: ``ok`` with its times, peak memory and result; ``failed`` with the
        end of its stderr; or ``memory_cap``.

    Example:
        >>> run = measure("sql", Path("/tmp/bench-data"), "2024-12-31", 8000.0)  # doctest: +SKIP
        >>> run.status, run.peak_rss_mb  # doctest: +SKIP
        ('ok', 2910.4)
    """
    settings = settings or SegmentSettings()
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        err = Path(tmp) / "stderr"
        cmd = [sys.executable, "-m", "workbench.bench", step, str(root), as_of]
        cmd += [str(temp_cap_gb), settings_arg(settings), str(result)]
        t0 = time.perf_counter()
        with open(err, "wb") as err_f:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_f)
            hit, done = threading.Event(), threading.Event()
            watcher = threading.Thread(target=_watch, args=(proc.pid, cap_mb, hit, done))
            watcher.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                done.set()
                watcher.join()
            proc.returncode = os.waitstatus_to_exitcode(status)
        process_s = time.perf_counter() - t0
        # ru_maxrss is in KiB on Linux, bytes on macOS.
        peak = usage.ru_maxrss / (1e6 if sys.platform == "darwin" else 1e3)
        run = StepRun(step, "ok", process_s=process_s, peak_rss_mb=peak)
        if hit.is_set():
            run.status = "memory_cap"
            run.error = f"stopped at the memory cap of {cap_mb / 1e3:.1f} GB"
            return run
        if proc.returncode != 0 or not result.exists():
            run.status = "failed"
            tail = err.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            run.error = f"exit {proc.returncode}: " + " | ".join(tail)
            return run
        out = json.loads(result.read_text(encoding="utf-8"))
    run.wall_s, run.cpu_s = out.pop("wall_s"), out.pop("cpu_s")
    run.baseline_rss_mb = out.pop("baseline_rss_mb")
    run.result = out
    return run
