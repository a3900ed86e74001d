"""The benchmark: generate the data, run every step on it in turn, check they agree, write JSON.

:func:`run_benchmark` is what ``workbench bench`` calls; each run of each step is
a fresh process (:func:`workbench.bench.harness.measure`), and the report keeps
the machine, the load, the package versions and every run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from workbench.bench import harness
from workbench.bench.generate import generate
from workbench.bench.harness import TEMP_CAP_GB, StepRun, total_ram_bytes
from workbench.bench.report import compare
from workbench.bench.steps import STEPS
from workbench.bench.world import AS_OF
from workbench.config import SegmentSettings

log = logging.getLogger(__name__)

TARGETS: dict[int, dict[str, float]] = {
    1_000_000: {"ours/pandas": 1 / 5, "ours/sql": 1.3},
    10_000_000: {"ours/pandas": 1 / 10, "ours_peak_gb": 8.0},
}
"""The targets: at 1M persons ours at least 5x faster than pandas and at most 1.3x
the hand-written SQL; at 10M at least 10x faster than pandas under 8 GB."""


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("duckdb", "ibis-framework", "pandas", "pyarrow", "numpy", "retail-workbench"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(total_ram_bytes() / 1e9, 1),
        "platform": platform.platform(),
    }


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _summary(runs: list[StepRun]) -> dict[str, Any]:
    ok = [r for r in runs if r.status == "ok"]
    out: dict[str, Any] = {
        "status": "ok" if len(ok) == len(runs) else runs[-1].status if not ok else "partly",
        "runs": [
            {
                k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in vars(r).items()
                if k not in ("step", "result")
            }
            for r in runs
        ],
    }
    peaks = [r.peak_rss_mb for r in runs if r.peak_rss_mb is not None]
    if peaks:
        out["peak_rss_mb"] = round(max(peaks), 1)
    if ok:
        walls = sorted(r.wall_s for r in ok if r.wall_s is not None)
        out["wall_s"] = round(walls[0], 3)
        out["wall_s_median"] = round(walls[len(walls) // 2], 3)
        out["cpu_s"] = round(min(r.cpu_s for r in ok if r.cpu_s is not None), 3)
        out["baseline_rss_mb"] = round(min(r.baseline_rss_mb or 0.0 for r in ok), 1)
    else:
        out["error"] = runs[-1].error
    return out


def run_benchmark(
    persons: int = 1_000_000,
    seed: int = 42,
    out: str | Path = "bench/results",
    *,
    data: str | Path | None = None,
    steps: tuple[str, ...] = STEPS,
    repeat: int = 1,
    memory_cap_gb: float | None = None,
    temp_cap_gb: float = TEMP_CAP_GB,
    as_of: str = AS_OF,
    settings: SegmentSettings | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate the data, time every step on it, check they agree and write the JSON.

    Parameters:
        persons: persons to generate.
        seed: the generator's seed.
        out: folder of the result, ``<date>-<persons>.json``.
        data: a folder to keep the generated data in (and reuse it from on the next
            run with the same persons and seed); ``None``: a temporary folder.
        steps: which of ``ours``, ``pandas``, ``sql`` to run.
        repeat: runs of each step, taken in turn; the fastest is reported, every
            run kept in the JSON.
        memory_cap_gb: a step whose resident set passes this is stopped and reported
            as such (default: 90% of the machine's memory). DuckDB's own limit is the
            ``memory_limit`` setting (``WORKBENCH_MEMORY_LIMIT``; by default 80% of RAM).
        temp_cap_gb: what a DuckDB step may spill to disk; past it the step fails.
        as_of: the as-of date.
        settings: the segment settings every step applies (``SegmentSettings()``, the
            segment step's defaults, unless given).
        progress: a progress bar while generating.

    Returns:
        What the JSON holds; ``result["agree"]`` is false when the steps' counts differ.

    Example:
        >>> report = run_benchmark(200_000, steps=("ours", "sql"), out="/tmp/bench")  # doctest: +SKIP
        >>> report["agree"], report["ratios"]["ours/sql"]  # doctest: +SKIP
        (True, 1.21)
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise ValueError(f"steps must be some of {', '.join(STEPS)}; got {', '.join(steps)}")
    if persons < 10:
        raise ValueError(f"persons must be at least 10; got {persons}")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1; got {repeat}")
    settings = (settings or SegmentSettings()).check()
    cap_mb = (memory_cap_gb * 1e3) if memory_cap_gb else 0.9 * total_ram_bytes() / 1e6
    started = dt.datetime.now().astimezone()
    load_start = _load()
    with _data_folder(data) as root:
        gen = generate(persons, seed, root, progress=progress)
        runs: dict[str, list[StepRun]] = {s: [] for s in steps}
        for _ in range(repeat):
            for step in steps:
                log.info("bench: running %s", step)
                run = harness.measure(step, gen.root, as_of, cap_mb, temp_cap_gb, settings)
                runs[step].append(run)
    results: dict[str, dict[str, Any]] = {}
    consistency: list[str] = []
    for step, step_runs in runs.items():
        done = [r.result for r in step_runs if r.result is not None]
        if done:
            results[step] = done[0]
            for other in done[1:]:
                consistency += [
                    f"{step} (a repeat) {p}" for p in compare({"a": done[0], "b": other})
                ]
    mismatches = compare(results) + consistency
    summaries = {s: _summary(r) for s, r in runs.items()}
    for s, summary in summaries.items():
        if s in results and "engine" in results[s]:
            summary["engine"] = results[s]["engine"]
        if s == "ours" and s in results:
            summary["round_trips"] = results[s].get("round_trips", [])
    ratios: dict[str, float] = {}
    ours = summaries.get("ours", {})
    for ref in ("pandas", "sql"):
        other = summaries.get(ref, {})
        if "wall_s" in ours and "wall_s" in other and other["wall_s"] > 0:
            ratios[f"ours/{ref}"] = round(ours["wall_s"] / other["wall_s"], 3)
            ratios[f"ours/{ref} cpu"] = round(ours["cpu_s"] / max(other["cpu_s"], 1e-9), 3)
    first = next(iter(results.values()), None)
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "persons": persons,
        "seed": seed,
        "as_of": as_of,
        "repeat": repeat,
        "data": {"rows": gen.rows, "generate_s": round(gen.seconds, 2)},
        "machine": _machine(),
        "load_average": {"start": load_start, "end": _load()},
        "versions": _versions(),
        "method": (
            "each step in a fresh Python process; wall_s and cpu_s from just before the "
            "step to its materialised result (imports and interpreter start left out), the "
            "fastest of the repeats; peak_rss_mb is the process's ru_maxrss from os.wait4, "
            "interpreter and libraries included (baseline_rss_mb, measured before the step)"
        ),
        "steps": summaries,
        "ratios": ratios,
        "targets": TARGETS.get(persons, {}),
        "agree": not mismatches and len(results) == len(steps),
        "compared": sorted(results),
        "mismatches": mismatches,
        "counts": first["counts"] if first else {},
        "totals": first["totals"] if first else {},
        "rc": {s: r["rc"] for s, r in results.items()},
    }
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{started.date().isoformat()}-{persons}.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    report["path"] = str(path)
    return report


@contextmanager
def _data_folder(data: str | Path | None) -> Iterator[Path]:
    if data is not None:
        yield Path(data)
        return
    tmp = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    try:
        yield tmp / "data"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
