"""A bootstrap interval for the lift in revenue per head, for heavy-tailed revenue.

Welch's interval rests on the mean being close to normal, which the central
limit theorem gives on thousands of units, but revenue per head is mostly
zeros and a few large orders: on a small arm, or with a handful of very large
buyers, the normal shape may not have arrived yet. The bootstrap makes no
such assumption: it resamples the units of each arm with replacement
(``n_resamples`` times), recomputes the difference of means each time, and
reads the interval from the spread of those differences, by the percentile
method (the default) or the bias-corrected and accelerated (BCa) one, which
is more accurate on skewed data but needs a jackknife pass over every unit
(seconds at 20,000 units, impractical at millions). tea-tasting's
``Bootstrap`` runs ``scipy.stats.bootstrap``.

Resampling needs the values themselves, so this is the one place that reads
per-unit data into memory: one numeric column per arm (the outcome, nothing
else), resampled in batches of at most :data:`BATCH_VALUES` values. It gives
an interval but no p-value, so it takes no part in the multiple-testing
correction: read it beside :func:`~workbench.review.lift.lifts` to see
whether Welch's interval holds.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import tea_tasting as tt

from workbench.review.experiment import ALL, ExperimentError, Summary, check_confidence
from workbench.review.lift import MIN_UNITS, STATUSES, cell_status, check_min_units
from workbench.review.srm import sample_ratio

BATCH_VALUES = 10_000_000
"""Resampled values held at once (80 MB of float64): a batch is this over the units."""
METHODS = ("percentile", "bca")

COLUMNS: tuple[str, ...] = (
    "segment",
    "outcome",
    "arm",
    "control",
    "units_control",
    "units_arm",
    "value_control",
    "value_arm",
    "lift",
    "lift_low",
    "lift_high",
    "rel_lift",
    "rel_lift_low",
    "rel_lift_high",
    "interval",
    "resamples",
    "confidence",
    "status",
    "reason",
    "srm_broken",
)
"""The columns of a bootstrap lift table, in order."""


def bootstrap_lifts(
    summary: Summary,
    outcome: str,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    method: Literal["percentile", "bca"] = "percentile",
    seed: int = 0,
    min_units: int = MIN_UNITS,
) -> pd.DataFrame:
    """Bootstrap intervals for each arm's lift in the mean of ``outcome`` over the control.

    Parameters:
        summary: :func:`~workbench.review.experiment.summarise` of the experiment (not
            split by segment); it gives the arms, their units and the split's check.
        outcome: the outcome column (revenue per head).
        confidence: the intervals' level, in (0, 1).
        n_resamples: resamples of each arm.
        method: ``percentile`` or ``bca`` (bias-corrected and accelerated).
        seed: the random generator's seed; the same seed gives the same intervals.
        min_units: the fewest units an arm or the control needs to be tested.

    Returns:
        One row per arm other than the control, with the columns of :data:`COLUMNS`;
        ``interval`` is ``bootstrap_percentile`` or ``bootstrap_bca``; an arm too small
        to test gets no interval and says why in ``status`` and ``reason``.

    Raises:
        ExperimentError: ``outcome`` is not an outcome of the experiment, the summary is
            split by segment, an unknown method, too few resamples, or a setting out of
            range.

    Example:
        >>> # bootstrap_lifts(summarise(exp), "spend") on Hillstrom: Mens E-Mail
        >>> # +0.770 [0.49, 1.07], beside Welch's [0.485, 1.055]
    """
    confidence = check_confidence(confidence)
    check_min_units(min_units)
    exp = summary.experiment
    if outcome not in summary.kinds:
        raise ExperimentError(f"{outcome!r} is not an outcome of the experiment")
    if summary.by is not None:
        raise ExperimentError(
            "the bootstrap runs on the whole experiment; summarise it without by="
        )
    if method not in METHODS:
        raise ExperimentError(f"bootstrap method {method!r} is not one of {', '.join(METHODS)}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 100:
        raise ExperimentError(f"n_resamples {n_resamples!r} must be a whole number of at least 100")
    broken = sample_ratio(summary).broken
    control = exp.control
    ctrl_agg = summary.aggregates(control)
    ctrl_values: pa.Table | None = None
    rows = []
    for arm in summary.arms[1:]:
        treat_agg = summary.aggregates(arm)
        assert ctrl_agg is not None and treat_agg is not None
        status, values = cell_status(
            ctrl_agg, treat_agg, outcome, "mean", min_units, (control, arm)
        )
        row: dict[str, Any] = dict.fromkeys(COLUMNS, float("nan"))
        row |= {
            "segment": ALL,
            "outcome": outcome,
            "arm": arm,
            "control": control,
            "units_control": ctrl_agg.count(),
            "units_arm": treat_agg.count(),
            "value_control": ctrl_agg.mean(outcome),
            "value_arm": treat_agg.mean(outcome),
            "interval": f"bootstrap_{method}",
            "resamples": n_resamples,
            "confidence": confidence,
            "status": status,
            "reason": STATUSES[status].format(**values, outcome=outcome, min_units=min_units),
            "srm_broken": broken,
        }
        row["lift"] = row["value_arm"] - row["value_control"]
        if status == "ok":
            if ctrl_values is None:
                ctrl_values = _column(summary, control, outcome)
            treat_values = _column(summary, arm, outcome)
            units = ctrl_values.num_rows + treat_values.num_rows
            metric = tt.Bootstrap(
                outcome,
                np.mean,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                batch=max(1, BATCH_VALUES // units),
                rng=seed,
            )
            r = metric.analyze_granular(ctrl_values, treat_values)
            row |= {
                "lift_low": r.effect_size_ci_lower,
                "lift_high": r.effect_size_ci_upper,
                "rel_lift": r.rel_effect_size,
                "rel_lift_low": r.rel_effect_size_ci_lower,
                "rel_lift_high": r.rel_effect_size_ci_upper,
            }
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _column(summary: Summary, arm: Any, outcome: str) -> pa.Table:
    """One arm's values of one outcome, as floats: the only per-unit read of the package."""
    exp = summary.experiment
    t = exp.table
    return t.filter(t[exp.arm] == arm).select(t[outcome].cast("float64").name(outcome)).to_pyarrow()
