"""Power of a holdout: the smallest lift in a cell's repurchase rate its test can detect.

A cell of ``n`` persons with a baseline rate ``p`` is split into a control of
``n * h`` persons (the holdout share ``h``) and a treated group of the rest.
The test at the review is a two-sided test of two proportions at significance
``alpha``; the minimum detectable lift (MDE) is the rise of the treated
group's rate over ``p`` that the test finds with probability ``power``.

The calculation is statsmodels' normal power of Cohen's effect size for
proportions, ``h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p))`` (the arcsine transform
makes the variance of each group's rate ``1/n`` whatever the rate): the test
detects an effect ``h`` with power ``power`` when ``h * sqrt(n_t n_c / (n_t +
n_c))`` reaches a constant ``k`` that depends only on ``alpha`` and ``power``
(2.80 at 0.05 and 0.8). ``k`` is solved once, from
``statsmodels.stats.power.normal_power``, so a table of cells and a grid of
holdout shares is plain array arithmetic; ``h`` is turned back into a rate
``p2 = sin(asin(sqrt(p)) + h / 2) ** 2``. The MDE is ``p2 - p`` (absolute, in
rate points) and ``(p2 - p) / p`` (relative).

The recommended holdout share of a cell is the smallest share of a grid
(0.05 to 0.5 by default) whose relative MDE reaches the lift the analyst wants
to measure. The MDE falls as the share grows to one half, so a cell that
cannot reach the target at 0.5 is too small to measure it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from statsmodels.stats.power import normal_power

from workbench.errors import ParameterError
from workbench.plan.arms import check_share

DEFAULT_GRID: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 11))
"""Holdout shares tried for the recommendation: 0.05, 0.10, ..., 0.50."""

# Values of ``power_status``, one per cell.
MEASURABLE = "measurable"  # the plan's holdout share detects the target lift
NEEDS_LARGER_HOLDOUT = "needs_larger_holdout"  # a larger share of the grid would
TOO_SMALL = "too_small"  # not even half the cell held out detects the target lift
NO_PERSONS = "no_persons"  # the cell is empty
NO_RATE = "no_rate"  # the cell has no baseline rate
RATE_ZERO = "rate_zero"  # baseline 0: a relative lift is undefined
RATE_ONE = "rate_one"  # baseline 1: the rate cannot rise
POWER_STATUSES = (
    MEASURABLE,
    NEEDS_LARGER_HOLDOUT,
    TOO_SMALL,
    NO_PERSONS,
    NO_RATE,
    RATE_ZERO,
    RATE_ONE,
)

POWER_COLUMNS = (
    "holdout_share",
    "control",
    "treated",
    "mde_abs",
    "mde_rel",
    "target_lift",
    "recommended_holdout",
    "power_status",
)
"""The columns :func:`cell_power` adds."""


def _check_probability(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ParameterError(f"{what} {value!r} is outside (0, 1)")
    return float(value)


@functools.lru_cache(maxsize=64)
def detectable_effect(alpha: float = 0.05, power: float = 0.8) -> float:
    """The effect, in standard errors of the difference, a two-sided test detects.

    The root ``k`` of ``normal_power(k, nobs=1, alpha) = power`` (statsmodels,
    both tails counted): an effect ``k * se`` is found with probability
    ``power``. Close to ``z(1 - alpha/2) + z(power)``.

    Parameters:
        alpha: significance level of the two-sided test, in (0, 1).
        power: probability of detecting the effect, in (alpha, 1).

    Returns:
        ``k``, a positive number.

    Raises:
        ParameterError: ``alpha`` or ``power`` outside (0, 1), or power not above alpha.

    Example:
        >>> round(detectable_effect(0.05, 0.8), 4)
        2.8016
    """
    a = _check_probability(alpha, "significance level")
    b = _check_probability(power, "power")
    if b <= a:
        raise ParameterError(f"power {power!r} is not above the significance level {alpha!r}")

    def gap(k: float) -> float:
        return float(normal_power(k, 1.0, a, alternative="two-sided")) - b

    return float(brentq(gap, 0.0, 50.0, xtol=1e-12))


def _mde(
    n: np.ndarray, p: np.ndarray, share: np.ndarray, k: float
) -> tuple[np.ndarray, np.ndarray]:
    """Absolute and relative MDE, element by element; NaN where there is none."""
    control = n * share
    treated = n - control
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = (control >= 1) & (treated >= 1)
        effect = k * np.sqrt(1 / np.where(usable, control, 1) + 1 / np.where(usable, treated, 1))
        angle = np.arcsin(np.sqrt(p)) + effect / 2
        reachable = usable & (angle <= math.pi / 2) & (p < 1)
        mde_abs = np.where(reachable, np.sin(np.minimum(angle, math.pi / 2)) ** 2 - p, np.nan)
        mde_rel = np.where(reachable & (p > 0), mde_abs / np.where(p > 0, p, 1), np.nan)
    return mde_abs, mde_rel


def _check_grid(grid: Sequence[float]) -> np.ndarray:
    shares = [check_share(s, "holdout share of the grid") for s in grid]
    if not shares:
        raise ParameterError("the grid of holdout shares is empty; give at least one share")
    return np.array(sorted(shares))


def _column(cells: pd.DataFrame, name: str, what: str) -> np.ndarray:
    if name not in cells.columns:
        raise ParameterError(
            f"cells lack the column {name!r} ({what}); columns found: {', '.join(map(str, cells.columns))}"
        )
    values = pd.to_numeric(cells[name], errors="coerce")
    bad = values.isna() & cells[name].notna()
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise ParameterError(
            f"cells row {cells.index[i]!r}, column {name}: {cells[name].iloc[i]!r} is not a number"
        )
    return values.to_numpy(dtype="float64", na_value=np.nan)


def cell_power(
    cells: pd.DataFrame,
    holdout_share: float,
    *,
    target_lift: float = 0.10,
    power: float = 0.8,
    alpha: float = 0.05,
    persons: str = "persons",
    rate: str = "rate",
    grid: Sequence[float] = DEFAULT_GRID,
) -> pd.DataFrame:
    """Each cell's minimum detectable lift at the plan's holdout share, and the share it needs.

    Parameters:
        cells: one row per cell, with its number of persons and baseline rate
            (a repurchase rate, between 0 and 1; missing when the cell has no history).
        holdout_share: the share of each cell held out as control, in (0, 0.5].
        target_lift: the relative lift the analyst wants to be able to detect
            (0.10: a rise of the rate by a tenth of itself).
        power: probability of detecting a lift of the MDE (0.8).
        alpha: significance level of the two-sided test (0.05).
        persons: the column of ``cells`` holding the number of persons.
        rate: the column of ``cells`` holding the baseline rate.
        grid: the holdout shares tried for the recommendation, each in (0, 0.5].

    Returns:
        A copy of ``cells`` with :data:`POWER_COLUMNS` added: ``holdout_share``;
        ``control`` and ``treated``, the expected group sizes; ``mde_abs``
        (rate points) and ``mde_rel`` (share of the baseline), missing where no
        lift is detectable; ``target_lift``; ``recommended_holdout``, the
        smallest share of the grid whose MDE reaches the target, missing when
        none does; ``power_status``, one of :data:`POWER_STATUSES`.

    Raises:
        ParameterError: a share, lift, power or significance level out of
            range; a missing column; a cell whose persons are below 0 or whose
            rate lies outside [0, 1] (the message names the row and column).

    Example:
        >>> cells = pd.DataFrame({"persons": [100_000, 50_000, 300, 0], "rate": [0.1, 0.1, 0.2, 0.1]})
        >>> out = cell_power(cells, 0.1)
        >>> out["power_status"].tolist()
        ['measurable', 'needs_larger_holdout', 'too_small', 'no_persons']
        >>> out["mde_rel"].round(3).tolist()[:3], out["recommended_holdout"].tolist()[:3]
        ([0.09, 0.129, 1.24], [0.1, 0.2, nan])
    """
    share = check_share(holdout_share)
    if (
        isinstance(target_lift, bool)
        or not isinstance(target_lift, int | float)
        or not target_lift > 0
    ):
        raise ParameterError(f"target lift {target_lift!r} is not above 0; give e.g. 0.1 for 10%")
    k = detectable_effect(alpha, power)
    shares = _check_grid(grid)
    n = _column(cells, persons, "the number of persons")
    p = _column(cells, rate, "the baseline rate")
    for values, name, ok in ((n, persons, n >= 0), (p, rate, (p >= 0) & (p <= 1))):
        bad = ~ok & ~np.isnan(values)
        if bad.any():
            i = int(np.argmax(bad))
            allowed = "at least 0" if name == persons else "between 0 and 1"
            raise ParameterError(
                f"cells row {cells.index[i]!r}, column {name}: {cells[name].iloc[i]} is not {allowed}"
            )

    mde_abs, mde_rel = _mde(n, p, np.full_like(n, share), k)
    # Every cell against every share of the grid: cells x grid.
    _, grid_rel = _mde(n[:, None], p[:, None], shares[None, :], k)
    with np.errstate(invalid="ignore"):
        reaches = grid_rel <= target_lift
    first = np.where(reaches.any(axis=1), shares[np.argmax(reaches, axis=1)], np.nan)

    status = np.select(
        [
            np.isnan(n) | (n == 0),
            np.isnan(p),
            p == 0,
            p == 1,
            np.nan_to_num(mde_rel, nan=np.inf) <= target_lift,
            ~np.isnan(first),
        ],
        [NO_PERSONS, NO_RATE, RATE_ZERO, RATE_ONE, MEASURABLE, NEEDS_LARGER_HOLDOUT],
        default=TOO_SMALL,
    )
    unmeasured = np.isin(status, [NO_PERSONS, NO_RATE, RATE_ZERO, RATE_ONE])
    out = cells.copy()
    out["holdout_share"] = share
    out["control"] = n * share
    out["treated"] = n - n * share
    out["mde_abs"] = np.where(np.isin(status, [NO_PERSONS, NO_RATE]), np.nan, mde_abs)
    out["mde_rel"] = mde_rel
    out["target_lift"] = float(target_lift)
    out["recommended_holdout"] = np.where(unmeasured, np.nan, first)
    out["power_status"] = status
    return out


def minimum_detectable_lift(
    persons: float,
    rate: float,
    holdout_share: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """The smallest rise of one cell's rate that its holdout test detects.

    Parameters:
        persons: the cell's number of persons.
        rate: its baseline rate, between 0 and 1.
        holdout_share: the share held out as control, in (0, 0.5].
        power: probability of detecting a rise of that size.
        alpha: significance level of the two-sided test.

    Returns:
        ``(absolute, relative)``: the rise in rate points and as a share of
        ``rate``; NaN where there is none (an empty cell, a group of fewer than
        one person, a rate of 1, or a rise that would pass 100%; the relative
        rise also at a rate of 0).

    Example:
        >>> absolute, relative = minimum_detectable_lift(20_000, 0.05, 0.1)
        >>> round(absolute, 4), round(relative, 3)
        (0.0154, 0.307)
    """
    out = cell_power(
        pd.DataFrame({"persons": [persons], "rate": [rate]}),
        holdout_share,
        power=power,
        alpha=alpha,
    )
    return float(out["mde_abs"].iat[0]), float(out["mde_rel"].iat[0])


def recommended_holdout(
    persons: float,
    rate: float,
    target_lift: float = 0.10,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    grid: Sequence[float] = DEFAULT_GRID,
) -> float | None:
    """The smallest holdout share of ``grid`` that detects ``target_lift`` in one cell.

    Parameters:
        persons: the cell's number of persons.
        rate: its baseline rate, between 0 and 1.
        target_lift: the relative rise to detect (0.10 for 10%).
        power: probability of detecting it.
        alpha: significance level of the two-sided test.
        grid: the holdout shares tried, each in (0, 0.5].

    Returns:
        The share, or ``None`` when the cell is too small to measure the lift
        even with half of it held out (or is empty, or its rate is 0 or 1).

    Example:
        >>> recommended_holdout(50_000, 0.1)
        0.2
        >>> recommended_holdout(300, 0.2) is None
        True
    """
    out = cell_power(
        pd.DataFrame({"persons": [persons], "rate": [rate]}),
        float(_check_grid(grid)[-1]),
        target_lift=target_lift,
        power=power,
        alpha=alpha,
        grid=grid,
    )
    share = out["recommended_holdout"].iat[0]
    return None if pd.isna(share) else float(share)
