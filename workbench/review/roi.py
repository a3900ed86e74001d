"""Incremental GMV, cost and ROI of each arm against the control, with intervals.

An arm's incremental GMV is what its units bought beyond what the same
number of units would have bought without the campaign: its revenue per
head less the control's, times its units. Its interval is Welch's interval
for the difference of means (:mod:`workbench.review.lift`) times the units.

ROI here is incremental GMV over the campaign's cost of the arm (yuan of
extra sales per yuan spent: 1 is as much sold as spent). The cost is given
one of three ways:

- ``cost``: the arm's total cost, a known number: the ROI is the incremental
  GMV over it, and its interval is the incremental GMV's interval over it
  (exact, since the cost does not vary);
- ``cost_per_unit``: a known cost of each unit of the arm (a message, a
  gift): the same, with the cost per unit times the arm's units;
- neither: the experiment's per-unit ``cost`` column (coupon face value
  used, points given; 0 in the control), whose total varies with who
  responded. Then ROI = (arm's revenue per head - control's) / arm's cost per
  head, and its interval is the delta method: a first-order normal
  approximation whose variance adds the two revenue means' variances, the
  cost mean's variance times ROI^2 and, as revenue and cost rise together,
  subtracts twice ROI times their covariance in the arm (all from the
  engine's per-arm aggregates).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workbench.review.experiment import ExperimentError, Summary, check_confidence
from workbench.review.lift import MIN_UNITS, lifts

Cost = float | Mapping[Hashable, float]

COLUMNS: tuple[str, ...] = (
    "segment",
    "arm",
    "units_arm",
    "lift",
    "lift_low",
    "lift_high",
    "incremental_gmv",
    "incremental_gmv_low",
    "incremental_gmv_high",
    "cost",
    "roi",
    "roi_low",
    "roi_high",
    "roi_interval",
    "confidence",
    "status",
    "reason",
    "srm_broken",
)
"""The columns of an ROI table, in order."""
ROI_INTERVALS: dict[str, str] = {
    "exact": "the incremental GMV's Welch interval over a known cost",
    "delta": "delta method (normal) on revenue lift over the arm's cost per head",
}
"""What each ``roi_interval`` key of an ROI table means."""


def roi(
    summary: Summary,
    revenue: str,
    *,
    cost: Cost | None = None,
    cost_per_unit: Cost | None = None,
    confidence: float = 0.95,
    min_units: int = MIN_UNITS,
) -> pd.DataFrame:
    """Incremental GMV, cost and ROI of each arm, with intervals.

    Parameters:
        summary: :func:`~workbench.review.experiment.summarise` of the experiment (split
            by segment, one row per segment and arm; a total ``cost`` cannot be split).
        revenue: the outcome column of revenue per unit (GMV in the window).
        cost: each arm's total cost, one number for every arm or ``{arm: yuan}``.
        cost_per_unit: each unit's cost, one number or ``{arm: yuan}``.
        confidence: the intervals' level, in (0, 1).
        min_units: the fewest units an arm or the control needs to be tested.

    Returns:
        One row per segment and arm other than the control, with the columns of
        :data:`COLUMNS`; ``roi_interval`` is a key of :data:`ROI_INTERVALS`. An arm too
        small to test (``status`` as in :func:`~workbench.review.lift.lifts`), or of no
        cost, has no interval (no ROI either without a cost).

    Raises:
        ExperimentError: ``revenue`` is not an outcome; no cost is given and the experiment
            has no cost column; both ``cost`` and ``cost_per_unit`` are given; an arm has
            no cost in the mapping; a cost is negative; or a total cost with segments.

    Example:
        >>> import ibis
        >>> from workbench.review.experiment import experiment, summarise
        >>> t = ibis.memtable({"u": range(8), "arm": ["c", "t"] * 4,
        ...                    "gmv": [1.0, 2.0, 2.0, 4.0, 3.0, 6.0, 2.0, 4.0]})
        >>> s = summarise(experiment(t, unit="u", arm="arm", control="c", outcomes=["gmv"]))
        >>> r = roi(s, "gmv", cost_per_unit=1.0, min_units=2).iloc[0]
        >>> [float(r[c]) for c in ("incremental_gmv", "cost", "roi")]
        [8.0, 4.0, 2.0]
    """
    confidence = check_confidence(confidence)
    exp = summary.experiment
    if revenue not in summary.kinds:
        raise ExperimentError(f"revenue column {revenue!r} is not an outcome of the experiment")
    if cost is not None and cost_per_unit is not None:
        raise ExperimentError("give either cost (per arm) or cost_per_unit, not both")
    if cost is None and cost_per_unit is None and exp.cost is None:
        raise ExperimentError("no cost given: pass cost=, cost_per_unit= or a cost column")
    if cost is not None and summary.by is not None:
        raise ExperimentError(
            "a total cost per arm cannot be split by segment; give cost_per_unit or a cost column"
        )
    arms = summary.arms[1:]
    given = cost if cost is not None else cost_per_unit
    per_arm = _per_arm(given, arms, "cost" if cost is not None else "cost_per_unit")
    lift = lifts(summary, confidence=confidence, min_units=min_units)
    lift = lift[lift["outcome"] == revenue]
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows = []
    for r in lift.itertuples(index=False):
        n = int(r.units_arm)
        row: dict[str, Any] = {
            "segment": r.segment,
            "arm": r.arm,
            "units_arm": n,
            "lift": r.lift,
            "lift_low": r.lift_low,
            "lift_high": r.lift_high,
            "incremental_gmv": r.lift * n,
            "incremental_gmv_low": r.lift_low * n,
            "incremental_gmv_high": r.lift_high * n,
            "confidence": confidence,
            "status": r.status,
            "reason": r.reason,
            "srm_broken": r.srm_broken,
        }
        if per_arm is not None:
            total = per_arm[r.arm] * (n if cost_per_unit is not None else 1)
            row |= _known_cost(total, row)
        else:
            row |= _cost_column(summary, r.segment, r.arm, revenue, z, float(r.lift), r.status)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _per_arm(
    given: Cost | None, arms: tuple[Hashable, ...], what: str
) -> dict[Hashable, float] | None:
    if given is None:
        return None
    if isinstance(given, Mapping):
        missing = [a for a in arms if a not in given]
        if missing:
            raise ExperimentError(f"{what} has no value for arm {missing[0]!r}")
        values = {a: given[a] for a in arms}
    else:
        values = dict.fromkeys(arms, given)
    for a, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
            raise ExperimentError(f"{what} of arm {a!r} is {v!r}; give a number of 0 or more")
    return {a: float(v) for a, v in values.items()}


def _known_cost(total: float, row: dict[str, Any]) -> dict[str, Any]:
    nan = math.nan
    if total <= 0:
        return {"cost": total, "roi": nan, "roi_low": nan, "roi_high": nan, "roi_interval": "exact"}
    return {
        "cost": total,
        "roi": row["incremental_gmv"] / total,
        "roi_low": row["incremental_gmv_low"] / total,
        "roi_high": row["incremental_gmv_high"] / total,
        "roi_interval": "exact",
    }


def _cost_column(
    summary: Summary,
    segment: Hashable,
    arm: Hashable,
    revenue: str,
    z: float,
    lift: float,
    status: str,
) -> dict[str, Any]:
    nan = math.nan
    exp = summary.experiment
    assert exp.cost is not None
    ctrl = summary.aggregates(exp.control, segment)
    treat = summary.aggregates(arm, segment)
    if treat is None:
        return {"cost": 0.0, "roi": nan, "roi_low": nan, "roi_high": nan, "roi_interval": "delta"}
    n_t = treat.count()
    per_head = treat.mean(exp.cost)
    total = per_head * n_t
    out: dict[str, Any] = {"cost": total, "roi": nan, "roi_low": nan, "roi_high": nan}
    out["roi_interval"] = "delta"
    if not per_head > 0:
        return out
    ratio = lift / per_head
    out["roi"] = ratio
    if status != "ok" or ctrl is None:
        return out
    n_c = ctrl.count()
    cov = treat.cov(revenue, exp.cost) if revenue != exp.cost else treat.var(revenue)
    var = (
        treat.var(revenue) / n_t
        + ctrl.var(revenue) / n_c
        + ratio * ratio * treat.var(exp.cost) / n_t
        - 2 * ratio * cov / n_t
    ) / (per_head * per_head)
    half = z * math.sqrt(max(var, 0.0))
    out["roi_low"], out["roi_high"] = ratio - half, ratio + half
    return {k: float(v) if isinstance(v, np.floating) else v for k, v in out.items()}
