"""The review job's entry: one post-promotion review, and where its evidence is stored.

:func:`run` reviews a saved plan (by name: its cells against what the edition
brought, and the campaign it ran), a campaign by its id, or any experiment table
(a file or a warehouse table, with its column names): the CLI
(``workbench review``), the 04_review notebook and the next plan all call it.
:func:`write` stores the lifts by segment and arm as evidence
(``review_evidence``), which the next plan's strategy table shows beside its
defaults; :func:`evidence` reads it back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.config import PlanSettings, ReviewSettings
from workbench.engine import is_spark, writing
from workbench.plan import Edition, Stored
from workbench.plan import stored as stored_plan
from workbench.plan.editions import Notice, edition
from workbench.plan.history import cells
from workbench.review import actual as act
from workbench.review import reach as rch
from workbench.review.experiment import ALL, Experiment, Summary, experiment, summarise
from workbench.review.lift import Winner, cuped, lifts, segment_lifts, winner
from workbench.review.roi import roi
from workbench.review.srm import SampleRatio, sample_ratio
from workbench.schema import REVIEW_EVIDENCE
from workbench.segment import stored as stored_snapshot
from workbench.unify import last_order_day


@dataclass(frozen=True)
class Columns:
    """The columns of an experiment table given as a file or a table.

    Attributes:
        arm: the column of each unit's arm.
        control: the control arm's name.
        outcomes: the outcome columns (a 0/1 column is a rate, any other a mean).
        revenue: the outcome that is revenue per unit (for incremental GMV and ROI).
        unit: the unit's id column (``None``: each row is a unit).
        covariate: a pre-period column for CUPED.
        segment: a segment column for the lift by segment.
        holdout: the control's designed share, the other arms sharing the rest equally,
            for the sample-ratio check (``None``: every arm an equal share).
    """

    arm: str
    control: str
    outcomes: tuple[str, ...]
    revenue: str | None = None
    unit: str | None = None
    covariate: str | None = None
    segment: str | None = None
    holdout: float | None = None


@dataclass(frozen=True)
class Review:
    """One review: its source, the plan's cells against the actual, the campaign's reach,
    coupons and retention, and the experiment's statistics.

    Parts that the source cannot give (a table has no plan, no touches, no coupons)
    are ``None``, and ``notes`` says why in one line each.
    """

    name: str
    settings: ReviewSettings
    source: str  # plan | campaign | table
    plan: Stored | None
    campaign_id: str | None
    edition: Edition | None
    outcomes: tuple[str, ...]
    revenue: str | None
    experiment: Experiment
    summary: Summary
    ratio: SampleRatio
    lifts: pd.DataFrame
    cuped: pd.DataFrame | None
    segments: pd.DataFrame | None
    roi: pd.DataFrame | None
    vs_actual: pd.DataFrame | None = None
    totals: dict[str, float] | None = None
    reach: pd.DataFrame | None = None
    coupons: pd.DataFrame | None = None
    coupon_stores: pd.DataFrame | None = None
    coupon_orders: pd.DataFrame | None = None
    retention: pd.DataFrame | None = None
    excluded: int = 0
    notes: list[Notice] = field(default_factory=list)

    def winner(self, outcome: str) -> Winner:
        """The winning arm on ``outcome``, if any beat the control significantly."""
        return winner(self.lifts, outcome, ALL)

    def lessons(self) -> pd.DataFrame | None:
        """For the next plan, per segment and outcome: the arm that lifted it most among
        those significantly above the control (``arm`` empty when none did), its lift
        and interval, and the units tested (every arm's and the control's). ``None``
        without a lift by segment."""
        if self.segments is None:
            return None
        seg = self.segments.assign(segment=self.segments["segment"].astype(str))
        rows = []
        for outcome in self.outcomes:
            for name, sub in seg[seg["outcome"] == outcome].groupby("segment", sort=False):
                w = winner(seg, outcome, name)
                rows.append(
                    {
                        "segment": name,
                        "outcome": outcome,
                        "arm": w.arm,
                        "lift": w.lift,
                        "lift_low": w.lift_low,
                        "lift_high": w.lift_high,
                        "units": int(sub["units_arm"].sum() + sub["units_control"].max()),
                    }
                )
        return pd.DataFrame(rows)


def read_table(con: Any, path: str | Path) -> ir.Table:
    """An experiment table from a CSV (plain or gzipped) or Parquet file, read by the engine.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"experiment table {file} not found")
    name = file.name.lower()
    if name.endswith(".parquet"):
        return con.read_parquet(str(file))
    return con.read_csv(str(file))


def run(
    con: Any,
    settings: ReviewSettings | None = None,
    *,
    plan_name: str | None = None,
    plan_version: int | None = None,
    campaign_id: str | None = None,
    table: ir.Table | str | Path | None = None,
    columns: Columns | Mapping[str, Any] | None = None,
    link_threshold: float | None = None,
) -> Review:
    """Review a saved plan, a campaign, or any experiment table.

    Parameters:
        con: an Ibis backend on the warehouse (a read-only one will do).
        settings: the review settings (their defaults if ``None``).
        plan_name: a saved plan: its cells against the actual, and its campaign (the
            campaign that ran its edition, else the plan's own audience packs).
        plan_version: the plan's version (``None``: the latest).
        campaign_id: a campaign of the campaigns table, without a plan.
        table: an experiment table, or the path of a file holding one; ``columns``
            names its columns.
        columns: the experiment table's columns, as :class:`Columns`, a mapping of its
            fields (``outcomes`` may be comma-separated text), or a notebook's parameters
            (:data:`PARAMETERS`: ``arm_column``, ``control_arm``...).
        link_threshold: the link threshold persons are resolved at.

    Raises:
        ValueError: one line naming the problem: no source or two, a plan or campaign
            that does not exist, an edition not over, a bad experiment table (one arm,
            an empty arm, a unit in two arms, a missing column), a setting out of range.
    """
    s = (settings or ReviewSettings()).check()
    given = [x for x in (plan_name, campaign_id, table) if x is not None]
    if len(given) > 1:
        raise ValueError("review one source: a plan name, a campaign id or an experiment table")
    if table is not None:
        return _review_table(con, s, table, _columns(columns))
    if not given:
        campaign_id = latest_campaign(con)
    notes: list[Notice] = []
    plan: Stored | None = None
    if plan_name is not None:
        try:
            plan = stored_plan(con, plan_name, plan_version)
        except LookupError as exc:
            raise ValueError(str(exc)) from None
        ed = act.plan_edition(plan)
        campaign_id = ed.campaign_id
    else:
        ed = _campaign_edition(con, str(campaign_id))
    assert ed is not None
    _check_over(con, ed)
    snap = stored_or_none(con, ed.eve)
    segments = cells(snap if snap is not None else _no_snapshot(con, ed), s.segment_scheme)
    excluded = 0
    if campaign_id is not None:
        t, excluded = rch.campaign_experiment(
            con, campaign_id, ed, segments, s.pre_days, link_threshold
        )
        t = _with_coupon_cost(con, campaign_id, t, link_threshold)
        shares: dict[Hashable, float] | None = None
    else:
        assert plan is not None
        t, shares = _pack_experiment(con, plan, ed, segments, s.pre_days, link_threshold)
        notes.append(Notice("packs_as_audience", plan=plan.name))
    exp = experiment(
        t,
        unit="person_id",
        arm="arm",
        control=rch.CONTROL,
        outcomes={"bought": "rate", "gmv": "mean"},
        covariate="pre_gmv",
        cost="cost",
        shares=shares or _design_shares(t, s.design_holdout),
    )
    review = _statistics(exp, s, "gmv", "segment")
    vs = totals = None
    if plan is not None:
        vs = act.estimate_vs_actual(con, plan, link_threshold)
        totals = act.totals(vs, plan)
    parts: dict[str, Any] = {}
    if campaign_id is not None:
        parts = {
            "reach": rch.reach(con, campaign_id, ed, link_threshold),
            "coupons": rch.coupons(con, campaign_id, ed, link_threshold),
            "coupon_stores": rch.coupon_stores(con, campaign_id, ed, link_threshold),
            "coupon_orders": rch.coupon_orders(con, campaign_id, ed, link_threshold),
        }
    else:
        notes.append(Notice("no_campaign", edition=ed.name))
    if excluded:
        notes.append(Notice("mixed_arms", n=excluded))
    return Review(
        name=plan.name if plan is not None else str(campaign_id),
        settings=s,
        source="plan" if plan is not None else "campaign",
        plan=plan,
        campaign_id=campaign_id,
        edition=ed,
        outcomes=("bought", "gmv"),
        revenue="gmv",
        experiment=exp,
        vs_actual=vs,
        totals=totals,
        retention=rch.retention(con, ed, link_threshold),
        excluded=excluded,
        notes=notes,
        **review,
        **parts,
    )


def latest_campaign(con: Any) -> str:
    """The campaign whose edition ended last, among those over.

    Raises:
        ValueError: the warehouse has no campaign that is over.
    """
    last = last_order_day(con)
    if "campaigns" in con.list_tables() and last is not None:
        c = con.table("campaigns")
        if "tail_end" in c.columns:
            over = c.filter(c.tail_end <= last).order_by(ibis.desc("tail_end"))
            found = over.select("campaign_id").limit(1).to_pandas()
            if not found.empty:
                return str(found["campaign_id"].iat[0])
    raise ValueError(
        "no campaign in the warehouse is over: name a plan, a campaign or an experiment table"
    )


PARAMETERS: dict[str, str] = {
    "arm_column": "arm",
    "control_arm": "control",
    "outcome_columns": "outcomes",
    "revenue_column": "revenue",
    "unit_column": "unit",
    "covariate_column": "covariate",
    "segment_column": "segment",
    "table_holdout": "holdout",
}
"""The 04_review notebook's parameters that name an experiment table's columns."""


def _columns(columns: Columns | Mapping[str, Any] | None) -> Columns | None:
    if columns is None or isinstance(columns, Columns):
        return columns
    if any(k in PARAMETERS for k in columns):
        columns = {PARAMETERS[k]: v for k, v in columns.items() if k in PARAMETERS}
    values = {k: v for k, v in columns.items() if v is not None}
    outcomes = values.get("outcomes", ())
    if isinstance(outcomes, str):
        outcomes = tuple(o.strip() for o in outcomes.split(",") if o.strip())
    values["outcomes"] = tuple(outcomes)
    try:
        return Columns(**values)
    except TypeError as exc:
        raise ValueError(f"experiment table columns: {exc}") from None


def stored_or_none(con: Any, as_of: dt.date) -> ir.Table | None:
    """The segment snapshot stored for ``as_of``, ``None`` if there is none."""
    try:
        return stored_snapshot(con, as_of)
    except LookupError:
        return None


def _no_snapshot(con: Any, ed: Edition) -> ir.Table:
    """The segment snapshot of the edition's eve, made and stored when missing."""
    from workbench.plan.history import snapshot

    snap, _ = snapshot(con, ed.eve)
    return snap


def _campaign_edition(con: Any, campaign_id: str) -> Edition:
    if "campaigns" not in con.list_tables():
        raise ValueError(f"campaign {campaign_id!r}: the warehouse has no campaigns")
    c = con.table("campaigns")
    if not {"campaign_id", "festival", "year"} <= set(c.columns):
        raise ValueError(
            f"campaign {campaign_id!r}: the campaigns table lacks its festival and year, so "
            "its edition's dates are unknown; review a plan or an experiment table instead"
        )
    row = c.filter(c.campaign_id == campaign_id).select("festival", "year").to_pandas()
    if row.empty:
        known = c.select("campaign_id").to_pandas()["campaign_id"].tolist()
        raise ValueError(f"campaign {campaign_id!r} does not exist; known: {', '.join(known)}")
    found = edition(con, str(row["festival"].iat[0]), int(row["year"].iat[0]))
    assert found is not None
    return found


def _check_over(con: Any, ed: Edition) -> None:
    day = last_order_day(con)
    if day is None or day < ed.end:
        raise ValueError(
            f"{ed.name} is not over: it ends {ed.end}, and the last order is of {day}; "
            "there are no orders in its window to review yet"
        )


def _design_shares(t: ir.Table, holdout: float) -> dict[Hashable, float]:
    """The shares the split was designed with: the holdout, and the arms equally."""
    arms = [a for a in t.select("arm").distinct().to_pandas()["arm"] if a != rch.CONTROL]
    share = (1.0 - holdout) / max(len(arms), 1)
    out: dict[Hashable, float] = {rch.CONTROL: holdout}
    out.update({a: share for a in arms})
    return out


def _with_coupon_cost(
    con: Any, campaign_id: str, t: ir.Table, link_threshold: float | None
) -> ir.Table:
    """``t`` with each person's ``cost``: the face value of the campaign's coupons they used."""
    c = con.table("coupons")
    c = c.filter((c.campaign_id == campaign_id) & c.used_at.notnull())
    persons = rch.member_persons(con, link_threshold)
    j = c.join(persons, "member_id")
    used = j.group_by("person_id").agg(cost=j.face_value.sum().cast("float64"))
    out = rch.joined(t, used)
    return out.mutate(cost=out.cost.fill_null(0.0))


def _pack_experiment(
    con: Any,
    plan: Stored,
    ed: Edition,
    segments: ir.Table,
    pre_days: int,
    link_threshold: float | None,
) -> tuple[ir.Table, dict[Hashable, float]]:
    """The experiment table from a plan's own audience packs, its persons resolved to
    today's ids (a split counts only if made after the plan), and the shares the plan
    split them by."""
    packs = plan.packs.select("person_id", "arm").distinct()
    if "person_ids" in con.list_tables():
        from workbench.unify import current_person_ids

        packs = (
            current_person_ids(
                con, packs, since=pd.Timestamp(plan.record["created"]).to_pydatetime()
            )
            .select(person_id="current_person_id", arm="arm")
            .filter(ibis._.person_id.notnull())
        )
    t = rch.outcomes(con, packs, ed, segments, pre_days, link_threshold)
    params = json.loads(str(plan.record["parameters"]))
    holdout = float(params["holdout_share"])
    arms = PlanSettings().updated({"arms": params.get("arms", "")}).arm_names or ("treatment",)
    shares: dict[Hashable, float] = {rch.CONTROL: holdout}
    shares.update({a: (1 - holdout) / len(arms) for a in arms})
    return t.mutate(cost=ibis.literal(0.0)), shares


def _statistics(
    exp: Experiment, s: ReviewSettings, revenue: str | None, segment: str | None
) -> dict[str, Any]:
    summary = summarise(exp)
    kw = {"confidence": s.confidence, "correction": s.correction, "min_units": s.min_units}
    lift_table = lifts(summary, **kw)  # type: ignore[arg-type]
    out: dict[str, Any] = {
        "summary": summary,
        "ratio": sample_ratio(summary),
        "lifts": lift_table,
        "cuped": cuped(summary, **kw) if exp.covariate else None,  # type: ignore[arg-type]
        "segments": segment_lifts(exp, segment, **kw) if segment else None,  # type: ignore[arg-type]
        "roi": None,
    }
    if revenue is not None:
        out["roi"] = roi(
            summary,
            revenue,
            cost_per_unit=None if exp.cost else 0.0,
            confidence=s.confidence,
            min_units=s.min_units,
        )
    return out


def _review_table(
    con: Any, s: ReviewSettings, table: ir.Table | str | Path, columns: Columns | None
) -> Review:
    if columns is None:
        raise ValueError("an experiment table needs its columns named (arm, control, outcomes)")
    t = table if isinstance(table, ir.Table) else read_table(con, table)
    unit = columns.unit
    if unit is None:
        t = t.mutate(_unit=ibis.row_number())
        unit = "_unit"
    missing = [c for c in (columns.arm, *columns.outcomes) if c not in t.columns]
    if missing:
        raise ValueError(f"experiment table: no column {', '.join(missing)}")
    shares: dict[Hashable, float] | None = None
    if columns.holdout is not None:
        if not 0 < columns.holdout < 1:
            raise ValueError(f"experiment table: holdout share {columns.holdout} is not in (0, 1)")
        arms = [a for a in t.select(columns.arm).distinct().to_pandas()[columns.arm]]
        others = [a for a in arms if a != columns.control]
        shares = {columns.control: columns.holdout}
        shares.update({a: (1 - columns.holdout) / max(len(others), 1) for a in others})
    exp = experiment(
        t,
        unit=unit,
        arm=columns.arm,
        control=columns.control,
        outcomes=list(columns.outcomes),
        covariate=columns.covariate,
        shares=shares,
    )
    review = _statistics(exp, s, columns.revenue, columns.segment)
    name = Path(str(table)).name if not isinstance(table, ir.Table) else "table"
    notes = [Notice("table_only")]
    return Review(
        name=name,
        settings=s,
        source="table",
        plan=None,
        campaign_id=None,
        edition=None,
        outcomes=columns.outcomes,
        revenue=columns.revenue,
        experiment=exp,
        notes=notes,
        **review,
    )


def write(con: Any, review: Review, wait: float = 0.0) -> int:
    """Store the review's lifts by segment and arm as evidence (``review_evidence``),
    replacing that review's earlier rows; return the rows stored."""
    seg = review.segments if review.segments is not None else review.lifts
    rows = seg.assign(
        review=review.name,
        campaign_id=review.campaign_id or "",
        edition=review.edition.name if review.edition else "",
        created=dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )
    rows = rows.rename(columns={"units_arm": "n_arm", "units_control": "n_control"})
    rows["segment"] = rows["segment"].astype(str)
    rows["arm"] = rows["arm"].astype(str)
    cols = list(REVIEW_EVIDENCE.schema.names)
    frame = rows[cols].copy()
    for c in ("lift", "lift_low", "lift_high", "rel_lift", "p_adjusted"):
        frame[c] = frame[c].astype("float64")
    frame["significant"] = frame["significant"].fillna(False).astype(bool)
    frame["srm_broken"] = frame["srm_broken"].fillna(False).astype(bool)
    t = ibis.memtable(frame, schema=REVIEW_EVIDENCE.schema)
    with writing(con, wait) as w:
        if "review_evidence" not in w.list_tables():
            w.create_table("review_evidence", schema=REVIEW_EVIDENCE.schema)
        if is_spark(w):
            w.insert("review_evidence", t)
        else:
            raw = w.con
            raw.execute("BEGIN TRANSACTION")
            try:
                raw.execute('DELETE FROM "review_evidence" WHERE "review" = ?', [review.name])
                w.insert("review_evidence", t)
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise
    return len(frame)


def evidence(con: Any) -> pd.DataFrame:
    """Every stored review's lifts by segment and arm (empty when none is stored)."""
    if "review_evidence" not in con.list_tables():
        return pd.DataFrame(columns=list(REVIEW_EVIDENCE.schema.names))
    return con.table("review_evidence").to_pandas()
