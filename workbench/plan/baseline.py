"""The baseline of the coming edition per cell, its interval, and the gap to a target.

A cell's baseline GMV is its population today x its estimated repurchase rate
x its estimated order value per buyer (客单价: GMV over buyers, so that the
three multiply to the GMV). The estimate of a rate or an order value is a
weighted sum of the past editions' values: the last one, their mean, or the
linear trend carried one edition on (:func:`weights`).

The interval is a prediction interval for what the coming edition will show:
- sampling error: the binomial error of each past rate (Agresti-Coull, so a
  rate of 0 or 1 in a small cell still has one; the spread of each past
  edition's spend per buyer for the order value), carried through the weights,
  plus that of the coming edition itself;
- the spread from edition to edition: the variance of the past values around
  the estimator (around their mean for ``last`` and ``mean``, around the line
  for ``trend``) less what sampling alone explains, floored at 0, counted once
  for the coming edition and once through the weights.
Rate and order value are combined by the delta method. The total's interval
adds the cells' sampling variances and takes the larger of the cells' summed
spreads and the spread of the whole (the past editions' totals at today's
populations), so shocks that hit every cell at once are not averaged away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workbench.plan.history import CELL, NO_TIER, OUTSIDE

ESTIMATORS: tuple[str, ...] = ("last", "mean", "trend")


def weights(years: np.ndarray, estimator: str, target_year: int) -> np.ndarray:
    """The weight of each past edition in the estimate for ``target_year``.

    ``trend`` is the least-squares line through the editions, read at the target
    year; with a single edition every estimator is that edition.

    Example:
        >>> weights(np.array([2023, 2024, 2025]), "trend", 2026).round(4).tolist()
        [-0.6667, 0.3333, 1.3333]
    """
    k = len(years)
    if k == 0:
        return np.zeros(0)
    if estimator == "last" or k == 1:
        w = np.zeros(k)
        w[np.argmax(years)] = 1.0
        return w
    if estimator == "mean":
        return np.full(k, 1.0 / k)
    if estimator == "trend":
        x = years.astype(float)
        dx = x - x.mean()
        return 1.0 / k + (target_year - x.mean()) * dx / (dx * dx).sum()
    raise ValueError(f"estimator {estimator!r} is not one of {', '.join(ESTIMATORS)}")


def _spread(values: np.ndarray, years: np.ndarray, estimator: str) -> float:
    """The variance of the past values around the estimator's fit (0 with too few)."""
    k = len(values)
    if estimator == "trend" and k >= 3:
        slope, icept = np.polyfit(years.astype(float), values, 1)
        resid = values - (slope * years + icept)
        return float((resid**2).sum() / (k - 2))
    if k >= 2:
        return float(values.var(ddof=1))
    return 0.0


@dataclass(frozen=True)
class Estimate:
    """An estimate with its prediction variance, split into sampling and spread."""

    value: float
    sampling: float
    spread: float

    @property
    def variance(self) -> float:
        return self.sampling + self.spread


def estimate(
    values: np.ndarray,
    sampling: np.ndarray,
    years: np.ndarray,
    estimator: str,
    target_year: int,
    next_sampling: float,
) -> Estimate:
    """A weighted estimate of the next value and its prediction variance.

    Parameters:
        values: the past values.
        sampling: the sampling variance of each past value.
        years: their editions' years.
        estimator: ``last``, ``mean`` or ``trend``.
        target_year: the coming edition's year.
        next_sampling: the sampling variance of the coming edition's own value.
    """
    w = weights(years, estimator, target_year)
    value = float(w @ values)
    tau2 = max(0.0, _spread(values, years, estimator) - float(sampling.mean()))
    if len(values) < 2:
        tau2 = 0.0
    samp = float((w * w) @ sampling) + next_sampling
    return Estimate(value, samp, tau2 * (1.0 + float(w @ w)))


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def baseline(
    history: pd.DataFrame,
    populations: pd.DataFrame,
    target_year: int,
    estimator: str = "mean",
    confidence: float = 0.9,
) -> pd.DataFrame:
    """The baseline of each cell for the coming edition, with its interval.

    Parameters:
        history: :func:`workbench.plan.history.history`.
        populations: persons per cell today (:func:`workbench.plan.history.populations`).
        target_year: the coming edition's year.
        estimator: ``last``, ``mean`` or ``trend``.
        confidence: the intervals' level.

    Returns:
        One row per cell of today's populations (a cell never seen before takes no
        estimate, and says so in ``note``) and the ``outside`` row: ``population``,
        ``rate`` and ``aov`` estimated, ``buyers``, ``gmv``, ``gmv_low``, ``gmv_high``,
        ``gmv_sd``, ``gmv_sd_sampling``, ``editions`` (how many the estimate rests on),
        ``new`` and ``note``.
    """
    z = _z(confidence)
    rows = []
    keyed = {k: g for k, g in history.groupby(CELL, sort=False)}
    pops = populations.copy()
    if not (history["segment"] == OUTSIDE).any() or OUTSIDE in set(pops["segment"]):
        outside_rows = pops.iloc[0:0]
    else:
        outside_rows = pd.DataFrame(
            {"segment": [OUTSIDE], "member_tier": [NO_TIER], "new": [True], "population": [pd.NA]}
        )
    for cell in pd.concat([pops, outside_rows], ignore_index=True).itertuples(index=False):
        key = (cell.segment, cell.member_tier)
        past = keyed.get(key)
        row = {"segment": cell.segment, "member_tier": cell.member_tier, "new": bool(cell.new)}
        row["population"] = None if cell.segment == OUTSIDE else int(cell.population)
        row.update(_cell_estimate(past, row["population"], target_year, estimator))
        rows.append(row)
    out = pd.DataFrame(rows)
    out["gmv_low"] = (out["gmv"] - z * out["gmv_sd"]).clip(lower=0.0)
    out["gmv_high"] = out["gmv"] + z * out["gmv_sd"]
    out["population"] = out["population"].astype("Int64")
    return out


def rate_variance(buyers: Any, persons: Any) -> Any:
    """The sampling variance of a repurchase rate of ``buyers`` in ``persons``, by
    Agresti and Coull: the rate's binomial variance with two buyers and two non-buyers
    added, so that a rate of 0 or 1 in a small cell is not taken as sure.

    Example:
        >>> float(rate_variance(1, 1))  # one person, who bought: (3/5)(2/5)/5
        0.048
    """
    p = (buyers + 2.0) / (persons + 4.0)
    return p * (1.0 - p) / (persons + 4.0)


def _cell_estimate(
    past: pd.DataFrame | None, population: int | None, target_year: int, estimator: str
) -> dict[str, object]:
    empty = {
        "rate": np.nan,
        "aov": np.nan,
        "buyers": 0.0,
        "gmv": 0.0,
        "gmv_sd": 0.0,
        "gmv_sd_sampling": 0.0,
        "spread_var": 0.0,
        "editions": 0,
    }
    if past is None or past.empty:
        return {**empty, "note": "no history"}
    outside = population is None
    seen = past if outside else past[past["population"].astype("float64") > 0]
    if seen.empty:
        return {**empty, "note": "no history"}
    years = seen["year"].to_numpy()
    # aov: per-buyer spend variance of each edition (0 where one buyer or none)
    b = seen["buyers"].to_numpy(dtype=float)
    gmv = seen["gmv"].to_numpy(dtype=float)
    sq = seen["gmv_sq"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        aov = np.where(b > 0, gmv / b, np.nan)
        s2 = np.where(b > 1, (sq - b * aov * aov) / (b - 1), 0.0)
    s2 = np.clip(np.nan_to_num(s2), 0.0, None)
    if outside:
        count = estimate(b, b, years, estimator, target_year, 0.0)
        buyers_hat = max(count.value, 0.0)
        count = Estimate(buyers_hat, count.sampling + buyers_hat, count.spread)
        rate_est = None
    else:
        n = seen["population"].to_numpy(dtype=float)
        r = b / n
        rate_raw = estimate(r, rate_variance(b, n), years, estimator, target_year, 0.0)
        rate_hat = float(np.clip(rate_raw.value, 0.0, 1.0))
        pop = float(population or 0)
        nxt = float(rate_variance(rate_hat * pop, pop)) if pop > 0 else 0.0
        rate_est = Estimate(rate_hat, rate_raw.sampling + nxt, rate_raw.spread)
        buyers_hat = pop * rate_hat
    bought = b > 0
    if not bought.any():
        aov_est = Estimate(0.0, 0.0, 0.0)
    else:
        a = aov[bought]
        samp = s2[bought] / b[bought]
        s_next = float(np.average(s2[bought], weights=b[bought]))
        nxt = s_next / buyers_hat if buyers_hat >= 1 else 0.0
        aov_raw = estimate(a, samp, years[bought], estimator, target_year, nxt)
        aov_est = Estimate(max(aov_raw.value, 0.0), aov_raw.sampling, aov_raw.spread)
    a_hat = aov_est.value
    if outside:
        gmv_hat = buyers_hat * a_hat
        var_s = a_hat**2 * count.sampling + buyers_hat**2 * aov_est.sampling
        var_t = a_hat**2 * count.spread + buyers_hat**2 * aov_est.spread
        rate_value = np.nan
    else:
        assert rate_est is not None
        pop = float(population or 0)
        r_hat = rate_est.value
        gmv_hat = pop * r_hat * a_hat
        var_s = pop**2 * (a_hat**2 * rate_est.sampling + r_hat**2 * aov_est.sampling)
        var_t = pop**2 * (a_hat**2 * rate_est.spread + r_hat**2 * aov_est.spread)
        var_s += pop**2 * rate_est.variance * aov_est.variance
        rate_value = r_hat
    note = "" if len(seen) > 1 else "one edition"
    return {
        "rate": rate_value,
        "aov": a_hat,
        "buyers": buyers_hat,
        "gmv": gmv_hat,
        "gmv_sd": float(np.sqrt(var_s + var_t)),
        "gmv_sd_sampling": float(np.sqrt(var_s)),
        "spread_var": var_t,
        "editions": len(seen),
        "note": note,
    }


@dataclass(frozen=True)
class Total:
    """A total with its interval."""

    value: float
    low: float
    high: float
    sd: float


def total(
    base: pd.DataFrame,
    history: pd.DataFrame,
    target_year: int,
    estimator: str = "mean",
    confidence: float = 0.9,
    where: pd.Series | None = None,
) -> Total:
    """The baseline's total GMV (of the rows ``where`` holds) with its interval.

    The spread of the whole is that of the past editions' totals at today's
    populations (each edition's rates and order values applied to today's cells),
    around the estimator.
    """
    rows = base if where is None else base[where]
    value = float(rows["gmv"].sum())
    sampling = float((rows["gmv_sd_sampling"] ** 2).sum())
    cells_spread = float(rows["spread_var"].sum())
    whole = _whole_spread(rows, history, target_year, estimator)
    sd = float(np.sqrt(sampling + max(cells_spread, whole)))
    z = _z(confidence)
    return Total(value, max(value - z * sd, 0.0), value + z * sd, sd)


def _whole_spread(
    rows: pd.DataFrame, history: pd.DataFrame, target_year: int, estimator: str
) -> float:
    """The spread term of the total from the past editions' totals at today's populations."""
    if history.empty:
        return 0.0
    h = history.merge(rows[[*CELL, "population"]], on=CELL, suffixes=("", "_now"))
    is_out = h["segment"] == OUTSIDE
    h["now_gmv"] = np.where(
        is_out, h["gmv"], h["population_now"].astype("float64") * h["rate"] * h["aov"].fillna(0)
    )
    per = h.groupby("year")["now_gmv"].sum()
    if len(per) < 2:
        return 0.0
    years = per.index.to_numpy()
    w = weights(years, estimator, target_year)
    return _spread(per.to_numpy(dtype=float), years, estimator) * (1.0 + float(w @ w))


def gap(base: pd.DataFrame, target: float, target_new: float | None = None) -> pd.DataFrame:
    """Each cell's share of the gap between ``target`` and the baseline.

    The gap is shared in proportion to the cells' baseline GMV (as if every cell grew
    by the same factor); with ``target_new`` the new customers' part (never bought
    before, and buyers from outside the pool) and the returning customers' part each
    share their own gap.

    Returns:
        ``base`` with ``gap`` (GMV the cell must add) and ``gap_share``.

    Raises:
        ValueError: a target of zero or below, or a new customers' target outside
            ``[0, target]``.
    """
    if not target > 0:
        raise ValueError(f"target GMV {target!r} must be above 0")
    if target_new is not None and not 0 <= target_new <= target:
        raise ValueError(f"new customers' target {target_new!r} must lie in [0, {target}]")
    out = base.copy()
    parts = [
        (out["new"], target_new),
        (~out["new"], None if target_new is None else target - target_new),
    ]
    if target_new is None:
        parts = [(pd.Series(True, index=out.index), target)]
    out["gap"] = 0.0
    for mask, goal in parts:
        assert goal is not None
        part = out.loc[mask, "gmv"]
        missing = goal - float(part.sum())
        weight = part / part.sum() if part.sum() > 0 else 1.0 / max(len(part), 1)
        out.loc[mask, "gap"] = missing * weight
    total_gap = float(out["gap"].sum())
    out["gap_share"] = out["gap"] / total_gap if total_gap != 0 else 0.0
    return out
