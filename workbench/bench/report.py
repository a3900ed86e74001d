"""Reading the runs: whether the steps agree, and the short table ``workbench bench`` prints."""

from __future__ import annotations

import json
import math
from typing import Any


def compare(results: dict[str, dict[str, Any]]) -> list[str]:
    """Every difference between the steps' counts, totals and RC, one line each.

    Parameters:
        results: per step, what it found: ``counts`` (per column, value -> persons),
            ``totals`` and ``rc`` (category -> RC days, compared to 1e-9).

    Returns:
        One line per difference; empty when the steps agree (or fewer than two ran).

    Example:
        >>> a = {"counts": {"tier_l1": {"active": 3}}, "totals": {"persons": 3}, "rc": {}}
        >>> b = {"counts": {"tier_l1": {"active": 2}}, "totals": {"persons": 3}, "rc": {}}
        >>> compare({"ours": a, "sql": b})
        ['tier_l1 = active: ours 3, sql 2']
    """
    steps = list(results)
    problems: list[str] = []
    if len(steps) < 2:
        return problems
    first = steps[0]
    for section in ("counts", "totals"):
        keys = sorted({k for s in steps for k in results[s][section]})
        for key in keys:
            values = {s: results[s][section].get(key) for s in steps}
            if isinstance(values[first], dict) or any(isinstance(v, dict) for v in values.values()):
                labels = sorted({lab for v in values.values() for lab in (v or {})})
                for lab in labels:
                    got = {s: (values[s] or {}).get(lab, 0) for s in steps}
                    if len(set(got.values())) > 1:
                        shown = ", ".join(f"{s} {n:,}" for s, n in got.items())
                        problems.append(f"{key} = {lab}: {shown}")
            elif len({json.dumps(v) for v in values.values()}) > 1:
                shown = ", ".join(f"{s} {v}" for s, v in values.items())
                problems.append(f"{section} {key}: {shown}")
    cats = sorted({k for s in steps for k in results[s]["rc"]})
    for c in cats:
        got = {s: results[s]["rc"].get(c) for s in steps}
        vals = [v for v in got.values() if v is not None]
        if len(vals) < len(steps) or not all(math.isclose(v, vals[0], rel_tol=1e-9) for v in vals):
            shown = ", ".join(f"{s} {v}" for s, v in got.items())
            problems.append(f"rc_days of {c}: {shown}")
    return problems


def format_report(report: dict[str, Any]) -> str:
    """The short table ``workbench bench`` prints.

    Parameters:
        report: what :func:`~workbench.bench.run.run_benchmark` returns.

    Returns:
        The machine's DuckDB settings, a line per step (wall and CPU seconds, peak
        GB, status), the ratios against their targets, and whether the steps agree
        (every mismatch under ``MISMATCH``).

    Example:
        >>> print(format_report(run_benchmark(1000, out="/tmp/bench")))  # doctest: +SKIP
    """
    rows = report["data"]["rows"]
    lines = [
        f"segment step on {report['persons']:,} persons ({rows['orders']:,} orders, "
        f"{rows['order_lines']:,} lines; seed {report['seed']}, as of {report['as_of']}), "
        f"best of {report['repeat']}",
        f"{'step':8} {'wall s':>8} {'cpu s':>8} {'peak GB':>8}  status",
    ]
    engine = next((s["engine"] for s in report["steps"].values() if "engine" in s), None)
    if engine:
        lines.insert(
            1,
            f"DuckDB: {engine['threads']} threads, memory_limit {engine['memory_limit']}, "
            f"spill cap {engine.get('max_temp', '-')}",
        )
    for step, s in report["steps"].items():
        wall = f"{s['wall_s']:8.2f}" if "wall_s" in s else f"{'-':>8}"
        cpu = f"{s['cpu_s']:8.2f}" if "cpu_s" in s else f"{'-':>8}"
        peak = f"{s['peak_rss_mb'] / 1e3:8.2f}" if "peak_rss_mb" in s else f"{'-':>8}"
        status = s["status"] if s["status"] == "ok" else f"{s['status']}: {s.get('error', '')}"
        lines.append(f"{step:8} {wall} {cpu} {peak}  {status}")
    targets = report.get("targets", {})
    ratios = report["ratios"]
    ours = report["steps"].get("ours", {})
    for ref in ("pandas", "sql"):
        name = f"ours/{ref}"
        if name in ratios:
            target = targets.get(name)
            want = f"  (target <= {target:.2f})" if target is not None else ""
            lines.append(
                f"{name:12} {ratios[name]:6.2f} wall, {ratios[name + ' cpu']:6.2f} cpu{want}"
            )
    if "ours_peak_gb" in targets and "peak_rss_mb" in ours:
        lines.append(
            f"ours peak {ours['peak_rss_mb'] / 1e3:.2f} GB (target < {targets['ours_peak_gb']:.0f} GB)"
        )
    trips = [t for t in ours.get("round_trips", []) if t["call"] == "execute"]
    if trips:
        lines.append(
            f"ours ran {len(trips)} queries before writing the table "
            f"({sum(t['seconds'] for t in trips):.1f} s of {ours['wall_s']:.1f} s)"
        )
    if report["mismatches"]:
        lines.append("MISMATCH: the steps do not agree:")
        lines += [f"  {m}" for m in report["mismatches"]]
    elif len(report["compared"]) > 1:
        n = sum(len(v) for v in report["counts"].values())
        lines.append(
            f"{', '.join(report['compared'])} agree on {n} counts of "
            f"{', '.join(report['counts'])}, the totals and the RC"
        )
    lines.append(f"results: {report['path']}")
    return "\n".join(lines)
