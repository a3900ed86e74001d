"""Levers that close the gap, and a suggestion of where the headroom is.

A lever sets a cell's repurchase rate and/or order value for the plan, with
the measure that is to achieve it, its owner and a note: every number changed
is a commitment. :func:`apply_levers` recomputes the cells and the remaining
gap. :func:`suggest` proposes where to raise rates: in the cells with the most
headroom, the distance from the cell's baseline rate to the best rate seen for
it in history or in its neighbouring member tiers (at that rate's lower
confidence bound, so that a cell of three persons who all bought claims no
100%), never beyond the analyst's cap. The proposal is shown beside the
baseline and never applied by itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from workbench.plan.history import CELL, NO_TIER, OUTSIDE
from workbench.segment import MEMBER_TIERS

LEVER_COLUMNS = [*CELL, "rate", "aov", "measure", "owner", "note"]
TIER_ORDER: tuple[str, ...] = (NO_TIER, *MEMBER_TIERS)


def empty_levers() -> pd.DataFrame:
    """A lever table with no lever."""
    return pd.DataFrame(columns=LEVER_COLUMNS)


def read_levers(levers: pd.DataFrame | str | Path | None) -> pd.DataFrame:
    """Levers as a table: a table as given, a CSV file read (UTF-8, with or without a
    byte-order mark), ``None`` as no lever.

    Raises:
        ValueError: the file cannot be read, or lacks the columns ``segment`` and
            ``member_tier``; the message names the file.
    """
    if levers is None:
        return empty_levers()
    if isinstance(levers, pd.DataFrame):
        return levers
    path = Path(levers)
    try:
        table = pd.read_csv(path, encoding="utf-8-sig", dtype={"segment": str, "member_tier": str})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValueError(f"levers file {path}: {exc}") from None
    missing = [c for c in CELL if c not in table.columns]
    if missing:
        raise ValueError(f"levers file {path}: no column {', '.join(missing)}")
    return table


def check_levers(levers: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """``levers`` with its columns completed, checked against the plan's cells.

    Raises:
        ValueError: a lever names a cell the plan does not have, gives a rate outside
            [0, 1] or an order value below 0; the message names the lever's row.
    """
    out = levers.copy()
    for c in LEVER_COLUMNS:
        if c not in out:
            out[c] = np.nan if c in ("rate", "aov") else ""
    out = out[LEVER_COLUMNS].reset_index(drop=True)
    known = set(map(tuple, cells[CELL].astype(str).to_numpy()))
    for i, r in out.iterrows():
        where = f"lever {int(str(i)) + 1} ({r['segment']} x {r['member_tier']})"
        if (str(r["segment"]), str(r["member_tier"])) not in known:
            raise ValueError(f"{where}: the plan has no such cell")
        rate, aov = r["rate"], r["aov"]
        if pd.notna(rate) and not 0.0 <= float(rate) <= 1.0:
            raise ValueError(f"{where}: rate {rate} is not between 0 and 1")
        if pd.notna(aov) and float(aov) < 0:
            raise ValueError(f"{where}: order value {aov} is below 0")
        if r["segment"] == OUTSIDE and pd.notna(rate):
            raise ValueError(f"{where}: buyers from outside the pool have no rate to set")
    if out.duplicated(CELL).any():
        dup = out[out.duplicated(CELL)].iloc[0]
        raise ValueError(f"two levers for the cell {dup['segment']} x {dup['member_tier']}")
    return out


def apply_levers(cells: pd.DataFrame, levers: pd.DataFrame) -> pd.DataFrame:
    """The cells with the levers applied: ``planned_rate``, ``planned_aov``,
    ``planned_gmv``, ``lever_gmv`` (what the lever adds) and the lever's ``measure``,
    ``owner`` and ``lever_note``; the
    remaining gap is the target less ``planned_gmv.sum()``."""
    lv = check_levers(levers, cells).rename(columns={"note": "lever_note"})
    out = cells.merge(lv, on=CELL, how="left", suffixes=("", "_lever"))
    out["planned_rate"] = out["rate_lever"].fillna(out["rate"])
    out["planned_aov"] = out["aov_lever"].fillna(out["aov"])
    is_out = out["segment"] == OUTSIDE
    planned = out["population"].astype("float64") * out["planned_rate"] * out["planned_aov"]
    outside = out["buyers"] * out["planned_aov"]
    out["planned_gmv"] = np.where(is_out, outside, planned)
    out["planned_gmv"] = out["planned_gmv"].fillna(0.0)
    out["lever_gmv"] = out["planned_gmv"] - out["gmv"]
    text = ["measure", "owner", "lever_note"]
    out[text] = out[text].fillna("").astype(str)
    return out.drop(columns=["rate_lever", "aov_lever"])


def best_seen(history: pd.DataFrame, confidence: float = 0.9) -> pd.DataFrame:
    """For each cell, the best repurchase rate seen in history for it or for its
    neighbouring member tiers (the next tier below and above, same segment), at the
    rate's lower confidence bound (Wilson), and where it was seen."""
    h = history[(history["segment"] != OUTSIDE) & (history["population"].fillna(0) > 0)].copy()
    if h.empty:
        return pd.DataFrame(columns=[*CELL, "best_rate", "best_edition", "best_tier"])
    low, _ = proportion_confint(
        h["buyers"].to_numpy(),
        h["population"].astype("int64").to_numpy(),
        alpha=1 - confidence,
        method="wilson",
    )
    h["low"] = low
    rank = {t: i for i, t in enumerate(TIER_ORDER)}
    h["rank"] = h["member_tier"].map(rank).fillna(-9)
    rows = []
    for (seg, tier), _ in h.groupby(CELL):
        r0 = rank.get(tier, -9)
        near = h[(h["segment"] == seg) & ((h["rank"] - r0).abs() <= 1)]
        best = near.loc[near["low"].idxmax()]
        rows.append(
            {
                "segment": seg,
                "member_tier": tier,
                "best_rate": float(best["low"]),
                "best_edition": str(best["edition"]),
                "best_tier": str(best["member_tier"]),
            }
        )
    return pd.DataFrame(rows)


def suggest(
    cells: pd.DataFrame,
    history: pd.DataFrame,
    target: float | None,
    cap: float,
    confidence: float = 0.9,
) -> pd.DataFrame:
    """Where raising rates would close the gap between the baseline and ``target``.

    Cells are taken by the GMV their headroom (capped at ``cap`` points of rate)
    would add, largest first, until the gap is closed; the last one taken only as
    far as needed.

    Returns:
        One row per cell with headroom: ``rate`` (baseline), ``best_rate`` and where it
        was seen (``best_edition``, ``best_tier``), ``headroom``, ``proposed_rate``, ``gain`` (GMV added),
        ``cumulative`` and ``taken`` (whether the proposal uses it).
    """
    if not cap > 0:
        raise ValueError(f"headroom cap {cap!r} must be above 0")
    if target is None:
        target = float(cells["gmv"].sum())
    c = cells[(cells["segment"] != OUTSIDE) & (cells["population"].fillna(0) > 0)]
    c = c[c["rate"].notna()].merge(best_seen(history, confidence), on=CELL, how="inner")
    c = c.assign(headroom=(c["best_rate"] - c["rate"]).clip(lower=0.0, upper=cap))
    c = c[c["headroom"] > 0].copy()
    c["potential"] = c["population"].astype("float64") * c["headroom"] * c["aov"].fillna(0)
    c = c.sort_values("potential", ascending=False, kind="stable")
    need = max(target - float(cells["gmv"].sum()), 0.0)
    gains, taken = [], []
    for p in c["potential"]:
        g = min(p, need)
        gains.append(g)
        taken.append(g > 0)
        need -= g
    c["gain"] = gains
    c["taken"] = taken
    per_point = c["population"].astype("float64") * c["aov"].fillna(0)
    c["proposed_rate"] = c["rate"] + np.where(per_point > 0, c["gain"] / per_point, 0.0)
    c["cumulative"] = c["gain"].cumsum()
    cols = [
        *CELL,
        "population",
        "rate",
        "aov",
        "best_rate",
        "best_edition",
        "best_tier",
        "headroom",
        "proposed_rate",
        "gain",
        "cumulative",
        "taken",
    ]
    return c[cols].reset_index(drop=True)
