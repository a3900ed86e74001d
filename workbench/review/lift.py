"""Lift of each arm against the control, with intervals, corrected for the number of tests.

For each outcome, segment and arm the lift is the arm's value less the
control's, absolute and relative to the control, with an interval at the
given confidence level; tea-tasting computes each from the engine's per-arm
aggregates (:mod:`workbench.review.experiment`):

- a response rate (a 0/1 outcome): the difference of two proportions with
  the Wald interval (normal approximation, each arm's own binomial variance,
  no continuity correction) and the z-test that this interval inverts; the
  relative lift's interval is Katz's interval for the ratio of proportions
  (normal on the log scale). With tens of thousands of units an arm it is as
  good as the score-based intervals: on Hillstrom (21,000 units an arm) its
  bounds lie within 0.00003 of Newcombe's, for a 0.6% conversion rate too.
  Its weak spot, no event (or only events) on one side, is refused below.
- revenue per head (any other outcome): Welch's t interval for a difference
  of means (unequal variances, Welch-Satterthwaite degrees of freedom), the
  same as ``scipy.stats.ttest_ind(equal_var=False)``; the relative lift's
  interval is the delta method on the log of the ratio of means.
- with CUPED (``cuped=True``), the outcome less theta times the centred
  pre-period covariate, theta = cov(outcome, covariate) / var(covariate) over
  the control and the arm together (Deng et al. 2013), then Welch's t.
  ``variance_removed`` is the share of the outcome's variance the covariate
  explains there, corr(outcome, covariate)^2: the adjusted outcome keeps
  1 - corr^2 of the variance, and the interval narrows about as the square
  root of that.

Several arms (and segments) are tested at once, so each outcome's p-values
are corrected together, across its arms and segments, by Holm (the chance of
any false winner stays below 1 - confidence) or Benjamini-Hochberg (the
expected share of false winners does): ``significant`` reads the corrected
p-value. The intervals themselves are not widened by the correction.

An arm too small to test gets no interval, and says why in ``status``:
fewer units than ``min_units`` on either side, or, for a rate, no unit
with the response (or every unit) on one side, where the Wald interval
would claim a certainty the data do not have, or no variation at all in a
mean. Every row carries ``srm_broken``: a broken split
(:func:`~workbench.review.srm.sample_ratio`) marks every result drawn from it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import tea_tasting as tt
from statsmodels.stats.multitest import multipletests
from tea_tasting.aggr import Aggregates

from workbench.review.experiment import (
    ALL,
    Experiment,
    ExperimentError,
    Kind,
    Summary,
    check_confidence,
    summarise,
)
from workbench.review.srm import sample_ratio

Correction = Literal["holm", "bh"]
CORRECTIONS: dict[str, str] = {"holm": "holm", "bh": "fdr_bh"}
"""Correction names and statsmodels' ``multipletests`` methods."""
MIN_UNITS = 30
"""An arm or control with fewer units than this in a cell is too small to test."""
INTERVALS: dict[str, str] = {
    "wald": "Wald interval for a difference of proportions; Katz interval for the ratio",
    "welch": "Welch t interval for a difference of means; delta method on the log ratio",
    "welch_cuped": "Welch t interval on the CUPED-adjusted outcome",
}
"""What each ``interval`` key of a lift table means."""
STATUSES: dict[str, str] = {
    "ok": "tested",
    "too_few_units": "{side} has {units} units, fewer than {min_units}",
    "no_events": "no unit of {side} has {outcome}",
    "all_events": "every unit of {side} has {outcome}",
    "no_variation": "{outcome} does not vary within either arm",
}
"""Each ``status`` of a lift table and the sentence its ``reason`` column gives."""
COLUMNS: tuple[str, ...] = (
    "segment",
    "outcome",
    "kind",
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
    "p_value",
    "p_adjusted",
    "significant",
    "interval",
    "correction",
    "confidence",
    "status",
    "reason",
    "srm_broken",
)
"""The columns of a lift table, in order (``variance_removed`` follows with CUPED)."""


def check_correction(correction: Any) -> str:
    """``correction`` when it is ``holm`` or ``bh``; otherwise a one-line error.

    Example:
        >>> check_correction("bh")
        'bh'
    """
    if correction not in CORRECTIONS:
        raise ExperimentError(f"correction {correction!r} is not one of holm, bh")
    return str(correction)


def check_min_units(min_units: Any) -> int:
    """``min_units`` when it is a whole number of at least 2; otherwise a one-line error.

    Example:
        >>> check_min_units(30)
        30
    """
    if isinstance(min_units, bool) or not isinstance(min_units, int) or min_units < 2:
        raise ExperimentError(f"minimum units {min_units!r} must be a whole number of at least 2")
    return min_units


def correct(
    p_values: Sequence[float] | np.ndarray, method: Correction = "holm", alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values and rejections of a family of tests (statsmodels ``multipletests``).

    A NaN p-value (a test not run) stays NaN, is not rejected, and does not count
    in the family.

    Parameters:
        p_values: the family's p-values.
        method: ``holm`` (family-wise error rate) or ``bh`` (Benjamini-Hochberg, false
            discovery rate).
        alpha: the level at which a hypothesis is rejected.

    Returns:
        The adjusted p-values and a boolean array, ``True`` where the hypothesis is
        rejected (adjusted p-value at or below ``alpha``).

    Example:
        >>> adjusted, reject = correct([0.01, 0.04, 0.03], "holm")
        >>> adjusted.round(2).tolist(), reject.tolist()
        ([0.03, 0.06, 0.06], [True, False, False])
    """
    check_correction(method)
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    reject = np.zeros(p.shape, dtype=bool)
    tested = ~np.isnan(p)
    if tested.any():
        rej, adj, _, _ = multipletests(p[tested], alpha=alpha, method=CORRECTIONS[method])
        adjusted[tested] = adj
        reject[tested] = rej
    return adjusted, reject


def lifts(
    summary: Summary,
    *,
    confidence: float = 0.95,
    correction: Correction = "holm",
    min_units: int = MIN_UNITS,
    cuped: bool = False,
) -> pd.DataFrame:
    """The lift of every arm over the control, per outcome (and segment), with intervals.

    Parameters:
        summary: :func:`~workbench.review.experiment.summarise` of the experiment; split
            by a segment column, it gives one row per segment, outcome and arm, and the
            correction runs across all of an outcome's segments and arms.
        confidence: the intervals' level, in (0, 1); one minus it is the level at which
            a corrected p-value is significant.
        correction: ``holm`` or ``bh`` (Benjamini-Hochberg).
        min_units: the fewest units an arm or the control needs in a cell to be tested.
        cuped: adjust every outcome by the experiment's pre-period covariate (CUPED).

    Returns:
        One row per segment, outcome and arm other than the control, with the columns
        of :data:`COLUMNS` (``segment`` is :data:`~workbench.review.experiment.ALL` when
        the summary is not split), plus ``variance_removed`` with ``cuped``. ``lift`` is
        the arm's rate or mean less the control's, ``rel_lift`` that over the control's;
        ``interval`` is a key of :data:`INTERVALS`, ``status`` one of :data:`STATUSES`
        (no interval and no p-value unless ``ok``).

    Raises:
        ExperimentError: a confidence level outside (0, 1), an unknown correction, a
            minimum below 2, or ``cuped`` without a covariate.

    Example:
        >>> import ibis
        >>> from workbench.review.experiment import experiment, summarise
        >>> t = ibis.memtable({"u": range(8), "arm": ["c", "t"] * 4,
        ...                    "spend": [1.0, 2.0, 2.0, 4.0, 3.0, 6.0, 2.0, 4.0]})
        >>> s = summarise(experiment(t, unit="u", arm="arm", control="c", outcomes=["spend"]))
        >>> row = lifts(s, min_units=2).iloc[0]
        >>> [round(float(row[c]), 3) for c in ("lift", "lift_low", "lift_high")]
        [2.0, -0.444, 4.444]
    """
    confidence = check_confidence(confidence)
    check_correction(correction)
    check_min_units(min_units)
    exp = summary.experiment
    if cuped and exp.covariate is None:
        raise ExperimentError("CUPED needs a pre-period covariate; name it with covariate=")
    broken = sample_ratio(summary).broken
    control = exp.control
    rows = []
    for seg in summary.segments:
        for outcome, kind in summary.kinds.items():
            for arm in summary.arms[1:]:
                rows.append(
                    _compare(
                        summary.aggregates(control, seg),
                        summary.aggregates(arm, seg),
                        outcome=outcome,
                        kind=kind,
                        covariate=exp.covariate if cuped else None,
                        confidence=confidence,
                        min_units=min_units,
                        names=(control, arm),
                    )
                    | {"segment": seg, "outcome": outcome, "kind": kind, "arm": arm}
                )
    out = pd.DataFrame(rows)
    out["control"] = [control] * len(out)
    out["correction"] = correction
    out["confidence"] = confidence
    out["srm_broken"] = broken
    out["p_adjusted"] = np.nan
    out["significant"] = False
    for _, idx in out.groupby("outcome", sort=False).groups.items():
        adjusted, reject = correct(out.loc[idx, "p_value"].to_numpy(), correction, 1 - confidence)
        out.loc[idx, "p_adjusted"] = adjusted
        out.loc[idx, "significant"] = reject
    columns = list(COLUMNS) + (["variance_removed"] if cuped else [])
    out["significant"] = out["significant"].astype(bool)
    return out[columns]


def _compare(
    ctrl: Aggregates | None,
    treat: Aggregates | None,
    *,
    outcome: str,
    kind: Kind,
    covariate: str | None,
    confidence: float,
    min_units: int,
    names: tuple[Hashable, Hashable],
) -> dict[str, Any]:
    """One arm against the control in one cell: values, lift, interval, p-value, status."""
    nan = float("nan")
    n_c = ctrl.count() if ctrl is not None else 0
    n_t = treat.count() if treat is not None else 0
    row: dict[str, Any] = {
        "units_control": n_c,
        "units_arm": n_t,
        "value_control": ctrl.mean(outcome) if ctrl is not None else nan,
        "value_arm": treat.mean(outcome) if treat is not None else nan,
    }
    row["lift"] = row["value_arm"] - row["value_control"]
    interval = "welch_cuped" if covariate else ("wald" if kind == "rate" else "welch")
    stats = dict.fromkeys(
        ["lift_low", "lift_high", "rel_lift", "rel_lift_low", "rel_lift_high", "p_value"], nan
    )
    row |= stats | {"interval": interval}
    if covariate is not None:
        row["variance_removed"] = nan
    status, values = cell_status(ctrl, treat, outcome, kind, min_units, names)
    row["status"] = status
    row["reason"] = STATUSES[status].format(**values, outcome=outcome, min_units=min_units)
    if ctrl is None or treat is None or status != "ok":
        return row
    metric: Any
    if covariate is not None:
        metric = tt.Mean(
            outcome, covariate, confidence_level=confidence, equal_var=False, use_t=True
        )
    elif kind == "rate":
        metric = tt.Proportion(
            outcome, method="norm", confidence_level=confidence, correction=False, equal_var=False
        )
    else:
        metric = tt.Mean(outcome, confidence_level=confidence, equal_var=False, use_t=True)
    r = metric.analyze_aggregates(ctrl, treat)
    row |= {
        "value_control": r.control,
        "value_arm": r.treatment,
        "lift": r.effect_size,
        "lift_low": r.effect_size_ci_lower,
        "lift_high": r.effect_size_ci_upper,
        "rel_lift": r.rel_effect_size,
        "rel_lift_low": r.rel_effect_size_ci_lower,
        "rel_lift_high": r.rel_effect_size_ci_upper,
        "p_value": r.pvalue,
    }
    if covariate is not None:
        row["variance_removed"] = _explained(ctrl + treat, outcome, covariate)
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in row.items()}


def cell_status(
    ctrl: Aggregates | None,
    treat: Aggregates | None,
    outcome: str,
    kind: Kind,
    min_units: int,
    names: tuple[Hashable, Hashable],
) -> tuple[str, dict[str, Any]]:
    sides = list(zip(names, (ctrl, treat), strict=True))
    for name, agg in sides:
        units = agg.count() if agg is not None else 0
        if units < min_units:
            return "too_few_units", {"side": f"arm {name!r}", "units": units}
    assert ctrl is not None and treat is not None
    if kind == "rate":
        for name, agg in sides:
            assert agg is not None
            events = round(agg.mean(outcome) * agg.count())
            if events == 0:
                return "no_events", {"side": f"arm {name!r}"}
            if events == agg.count():
                return "all_events", {"side": f"arm {name!r}"}
    elif not (ctrl.var(outcome) > 0 or treat.var(outcome) > 0):
        return "no_variation", {}
    return "ok", {}


def _explained(total: Aggregates, outcome: str, covariate: str) -> float:
    """corr(outcome, covariate)^2 over the units of both groups: the variance CUPED removes."""
    var_y, var_x = total.var(outcome), total.var(covariate)
    if not (var_y > 0 and var_x > 0):
        return 0.0
    cov = total.cov(outcome, covariate)
    return float(cov * cov / (var_y * var_x))


def cuped(
    summary: Summary,
    *,
    confidence: float = 0.95,
    correction: Correction = "holm",
    min_units: int = MIN_UNITS,
) -> pd.DataFrame:
    """The CUPED-adjusted lifts beside the unadjusted ones, and the variance removed.

    Parameters:
        summary: :func:`~workbench.review.experiment.summarise` of an experiment with a
            pre-period covariate.
        confidence, correction, min_units: as for :func:`lifts`.

    Returns:
        :func:`lifts` with ``cuped=True``, plus the unadjusted ``raw_lift``,
        ``raw_lift_low`` and ``raw_lift_high`` and ``width_ratio`` (the adjusted
        interval's width over the unadjusted one's: below 1 where CUPED narrowed it).

    Raises:
        ExperimentError: the experiment has no covariate, or a setting is out of range.

    Example:
        >>> # cuped(summarise(exp)) on Hillstrom with covariate="history"; see the tests
    """
    adjusted = lifts(
        summary, confidence=confidence, correction=correction, min_units=min_units, cuped=True
    )
    raw = lifts(summary, confidence=confidence, correction=correction, min_units=min_units)
    out = adjusted.copy()
    for c in ("lift", "lift_low", "lift_high"):
        out[f"raw_{c}"] = raw[c].to_numpy()
    width = out["lift_high"] - out["lift_low"]
    out["width_ratio"] = width / (out["raw_lift_high"] - out["raw_lift_low"])
    return out


def segment_lifts(
    exp: Experiment,
    segment: str,
    *,
    confidence: float = 0.95,
    correction: Correction = "holm",
    min_units: int = MIN_UNITS,
    cuped: bool = False,
) -> pd.DataFrame:
    """The lift of every arm in every segment, corrected across segments and arms.

    Equal to ``lifts(summarise(exp, by=segment), ...)``: one engine query over
    segment and arm.

    Parameters:
        exp: the experiment.
        segment: the column that names each unit's segment (lifecycle tier, RFM segment).
        confidence, correction, min_units, cuped: as for :func:`lifts`.

    Returns:
        :func:`lifts`' table, one row per segment, outcome and arm.

    Example:
        >>> # segment_lifts(exp, "tier") gives a row per tier, outcome and arm
    """
    check_confidence(confidence)
    return lifts(
        summarise(exp, by=segment),
        confidence=confidence,
        correction=correction,
        min_units=min_units,
        cuped=cuped,
    )


@dataclass(frozen=True)
class Winner:
    """The arm that beat the control by most on an outcome, if any did significantly.

    Attributes:
        outcome: the outcome judged.
        arm: the winning arm, ``None`` for no winner.
        lift, lift_low, lift_high: its lift over the control and interval (NaN without
            a winner).
        rel_lift, rel_lift_low, rel_lift_high: the same relative to the control.
        p_adjusted: its corrected p-value.
        correction: the correction applied.
        confidence: the intervals' level.
        srm_broken: the split is broken, so the verdict is not to be trusted.
    """

    outcome: str
    arm: Hashable | None
    lift: float
    lift_low: float
    lift_high: float
    rel_lift: float
    rel_lift_low: float
    rel_lift_high: float
    p_adjusted: float
    correction: str
    confidence: float
    srm_broken: bool

    def text(self) -> str:
        """One line: the winner with its interval, or ``no winner``."""
        flag = " (sample ratio mismatch: not to be trusted)" if self.srm_broken else ""
        if self.arm is None:
            return f"{self.outcome}: no winner{flag}"
        return (
            f"{self.outcome}: {self.arm} wins, {self.lift:+.4g} "
            f"[{self.lift_low:.4g}, {self.lift_high:.4g}] at {self.confidence:.0%}{flag}"
        )


def winner(table: pd.DataFrame, outcome: str, segment: Hashable = ALL) -> Winner:
    """The arm with the largest lift among those significantly above the control.

    Only an arm whose corrected p-value is significant and whose lift is positive
    can win; when none is, there is no winner. The lift table's correction already
    counted every arm, so naming the largest of the significant ones tests nothing
    more.

    Parameters:
        table: :func:`lifts`' table.
        outcome: the outcome to judge.
        segment: the segment to judge in (the whole experiment by default).

    Returns:
        A :class:`Winner`; its ``arm`` is ``None`` for no winner.

    Raises:
        ExperimentError: the table has no row for the outcome in the segment.

    Example:
        >>> # winner(lifts(summary), "spend").text() -> "spend: A wins, +0.77 [0.49, 1.05] at 95%"
    """
    rows = table[(table["outcome"] == outcome) & (table["segment"] == segment)]
    if rows.empty:
        raise ExperimentError(f"the lift table has no outcome {outcome!r} in segment {segment!r}")
    first = rows.iloc[0]
    good = rows[(rows["status"] == "ok") & rows["significant"] & (rows["lift"] > 0)]
    best = good.loc[good["lift"].idxmax()] if not good.empty else None

    def value(column: str) -> float:
        return math.nan if best is None else float(best[column])

    return Winner(
        outcome=outcome,
        arm=None if best is None else best["arm"],
        lift=value("lift"),
        lift_low=value("lift_low"),
        lift_high=value("lift_high"),
        rel_lift=value("rel_lift"),
        rel_lift_low=value("rel_lift_low"),
        rel_lift_high=value("rel_lift_high"),
        p_adjusted=value("p_adjusted"),
        correction=str(first["correction"]),
        confidence=float(first["confidence"]),
        srm_broken=bool(rows["srm_broken"].any()),
    )
