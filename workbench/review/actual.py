"""Estimate vs target vs actual: a saved plan's cells against what the edition brought.

The actual of a cell is measured as the plan's history measures a past edition:
the persons of the plan's snapshot (the segment snapshot as of the plan's
as-of date, stored by the segment job) who bought in the edition's window, with
their GMV. The difference between actual and estimate is split into three
effects whose sum is the difference exactly (a sequential decomposition):

- population: (persons actual - persons estimated) x rate estimated x GMV per buyer estimated;
- rate: persons actual x (rate actual - rate estimated) x GMV per buyer estimated;
- order value: persons actual x rate actual x (GMV per buyer actual - estimated).

For buyers from outside the pool the count of buyers takes the place of
persons x rate.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd

from workbench.plan import Edition, Stored
from workbench.plan.history import OUTSIDE, cells, edition_rows
from workbench.segment import stored as stored_snapshot
from workbench.unify import last_order_day


def plan_edition(plan: Stored) -> Edition:
    """The edition a saved plan was made for, from its record."""
    rec = json.loads(str(plan.record["editions"]))["coming"]
    phases = rec["phases"]
    starts = tuple(dt.date.fromisoformat(p[1]) for p in phases)
    end = dt.date.fromisoformat(phases[-1][2])
    name = str(rec["name"])
    promotion, _, year = name.rpartition("-")
    return Edition(promotion, int(year), starts, end, str(rec["source"]), rec.get("campaign_id"))


def plan_scheme(plan: Stored) -> str:
    """The segment scheme a saved plan's rows come from."""
    return str(json.loads(str(plan.record["parameters"]))["scheme"])


def estimate_vs_actual(con: Any, plan: Stored, link_threshold: float | None = None) -> pd.DataFrame:
    """Per cell of a saved plan: the estimate (baseline), the plan with its levers, the
    actual, and the difference split into population, rate and order-value effects.

    Raises:
        LookupError: the plan's snapshot is no longer stored.
        ValueError: the edition is not over (its last day is after the last order).
    """
    edition = plan_edition(plan)
    last = last_order_day(con)
    if last is None or last < edition.end:
        raise ValueError(
            f"{edition.name} is not over: it ends {edition.end}, the last order is of "
            f"{last or 'never'}"
        )
    as_of = pd.Timestamp(plan.record["as_of"]).date()
    snap = stored_snapshot(con, as_of)
    actual = edition_rows(con, edition, cells(snap, plan_scheme(plan)), link_threshold)
    est = plan.cells.rename(
        columns={
            "population": "est_population",
            "rate": "est_rate",
            "aov": "est_aov",
            "buyers": "est_buyers",
            "gmv": "est_gmv",
        }
    )
    act = actual.rename(
        columns={
            "population": "act_population",
            "rate": "act_rate",
            "aov": "act_aov",
            "buyers": "act_buyers",
            "gmv": "act_gmv",
        }
    )[["segment", "member_tier", "act_population", "act_buyers", "act_rate", "act_aov", "act_gmv"]]
    out = est.merge(act, on=["segment", "member_tier"], how="outer")
    out["new"] = out["new"].fillna(False).astype(bool)
    for c in ("est_buyers", "est_gmv", "act_buyers", "act_gmv", "planned_gmv"):
        out[c] = out[c].astype("float64").fillna(0.0)
    return decompose(out)


def decompose(t: pd.DataFrame) -> pd.DataFrame:
    """Add ``difference`` (actual - estimate) and its three effects, which sum to it.

    Takes ``est_population``, ``est_rate``, ``est_aov``, ``est_buyers``, ``est_gmv`` and
    the same with ``act_``; a cell missing on one side counts as zero there.
    """
    out = t.copy()
    is_out = out["segment"] == OUTSIDE
    n_e = out["est_population"].astype("float64").fillna(0.0)
    n_a = out["act_population"].astype("float64").fillna(0.0)
    r_e = out["est_rate"].astype("float64").fillna(0.0)
    r_a = out["act_rate"].astype("float64").fillna(0.0)
    a_e = out["est_aov"].astype("float64").fillna(0.0)
    a_a = out["act_aov"].astype("float64").fillna(0.0)
    b_e = out["est_buyers"].astype("float64")
    b_a = out["act_buyers"].astype("float64")
    out["difference"] = out["act_gmv"] - out["est_gmv"]
    pop = np.where(is_out, 0.0, (n_a - n_e) * r_e * a_e)
    rate = np.where(is_out, (b_a - b_e) * a_e, n_a * (r_a - r_e) * a_e)
    aov = np.where(is_out, b_a * (a_a - a_e), n_a * r_a * (a_a - a_e))
    # what the identity misses (a cell that bought nothing has no order value) goes to
    # the order-value effect, so the three always add up
    aov = aov + (out["difference"].to_numpy() - (pop + rate + aov))
    out["population_effect"] = pop
    out["rate_effect"] = rate
    out["aov_effect"] = aov
    return out


def totals(t: pd.DataFrame, plan: Stored) -> dict[str, float]:
    """Target, estimate (with its interval), plan with levers and actual, in total."""
    rec = plan.record
    return {
        "target": float(rec["target"]) if pd.notna(rec["target"]) else float("nan"),
        "estimate": float(t["est_gmv"].sum()),
        "estimate_low": float(rec["baseline_low"]),
        "estimate_high": float(rec["baseline_high"]),
        "planned": float(t["planned_gmv"].sum()),
        "actual": float(t["act_gmv"].sum()),
        "population_effect": float(t["population_effect"].sum()),
        "rate_effect": float(t["rate_effect"].sum()),
        "aov_effect": float(t["aov_effect"].sum()),
    }
