"""The planning job's entry: one plan for the coming edition of a promotion, and where it is
stored.

:func:`run` is what the CLI (``workbench plan``), the 03_plan notebook and the
review job all call: history, baseline with intervals, gap, levers, the
suggestion, the strategy table and the audience packs. :func:`write` saves a
plan under its name as a new version (``plans``, ``plan_cells``,
``audience_packs``) in one transaction; :func:`stored` reads one back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.config import PlanSettings, SegmentSettings
from workbench.engine import is_spark, writing
from workbench.plan import baseline as base_mod
from workbench.plan import editions as ed
from workbench.plan import history as hist_mod
from workbench.plan import levers as lever_mod
from workbench.plan import strategy as strat
from workbench.plan.arms import GLOBAL_CONTROL, assign, global_control
from workbench.plan.export import export_packs
from workbench.plan.power import cell_power
from workbench.schema import AUDIENCE_PACKS, PLAN_CELLS, PLANS
from workbench.unify import last_order_day, order_days

NAME = re.compile(r"^[^\W][\w.\-]{0,79}$")
"""A plan name: letters (any script), digits, ``_``, ``-`` and ``.``, not starting with
a dot or a dash, at most 80 characters; it names files, so nothing else."""


@dataclass(frozen=True)
class Plan:
    """One plan for the coming edition of a promotion.

    Attributes:
        name: the plan's name (files and the review find it by this).
        as_of: the date today's populations are counted at.
        settings: the plan settings it was made with.
        coming: the edition planned.
        past: the past editions its history holds, oldest first.
        history: :func:`workbench.plan.history.history`.
        cells: the planning table: baseline per cell with its interval, the gap's
            share (``gap``) and the levers applied (``planned_*``).
        total, total_new, total_returning: the baseline's totals with intervals.
        target, target_new: the GMV target and its new customers' part (``None``: not split).
        levers: the levers (:func:`workbench.plan.levers.check_levers`).
        suggestion: :func:`workbench.plan.levers.suggest`.
        library: the strategy library the plan's strategy table comes from.
        persons: today's persons with their cell and target group (for the packs).
        notes: what the plan could not do, in one line each.
        made: eves whose segment snapshot was made (and stored) for this plan.
        evidence: what past reviews found (``review_evidence``), shown in the strategy
            table beside each group's defaults.
    """

    name: str
    as_of: dt.date
    settings: PlanSettings
    coming: ed.Edition
    past: list[ed.Edition]
    history: pd.DataFrame
    cells: pd.DataFrame
    total: base_mod.Total
    total_new: base_mod.Total
    total_returning: base_mod.Total
    target: float | None
    target_new: float | None
    levers: pd.DataFrame
    suggestion: pd.DataFrame
    library: list[strat.Group]
    persons: ir.Table
    salt: str
    notes: list[ed.Notice] = field(default_factory=list)
    made: list[dt.date] = field(default_factory=list)
    evidence: pd.DataFrame | None = None

    @property
    def planned(self) -> float:
        """The plan's GMV with the levers applied."""
        return float(self.cells["planned_gmv"].sum())

    @property
    def remaining_gap(self) -> float | None:
        """What the levers leave of the gap to the target (``None``: no target)."""
        return None if self.target is None else self.target - self.planned

    def strategy(self, lang: str = "zh") -> pd.DataFrame:
        """The strategy table (:func:`workbench.plan.strategy.strategy_table`)."""
        segments = [s for s in self.cells["segment"].unique() if s != hist_mod.OUTSIDE]
        return strat.strategy_table(segments, self.library, self.coming, lang, self.evidence)

    def packs(self) -> ir.Table:
        """The audience packs: ``person_id``, ``phase``, ``group_name``, ``segment``,
        ``member_tier``, ``arm``. Each target group has a pack in each phase its
        strategy row has a play for; a person keeps one arm across the plan's phases
        (salted hash of the person and the plan name); persons in this year's
        global control group are left out."""
        return packs(self)


def backtest(con: Any, plan: Plan, link_threshold: float | None = None) -> pd.DataFrame | None:
    """The plan's baseline against what the edition brought, per cell, when it is over.

    The actual of a cell is measured as the history measures a past edition: the
    persons of the plan's snapshot (as of ``plan.as_of``) who bought in the window.

    Returns:
        ``None`` while the edition is not over (its last day is after the last order);
        else one row per cell: ``segment``, ``member_tier``, ``population``, ``gmv``,
        ``gmv_low``, ``gmv_high`` (the baseline), ``actual_rate``, ``actual_gmv`` and
        ``inside`` (whether the actual lies in the interval).
    """
    last = last_order_day(con)
    if last is None or last < plan.coming.end:
        return None
    from workbench.segment import stored as stored_snapshot

    snap = stored_snapshot(con, plan.as_of)
    actual = hist_mod.edition_rows(
        con, plan.coming, hist_mod.cells(snap, plan.settings.scheme), link_threshold
    )
    actual = actual.rename(columns={"rate": "actual_rate", "gmv": "actual_gmv"})
    cols = ["segment", "member_tier", "population", "rate", "gmv", "gmv_low", "gmv_high"]
    out = plan.cells[cols].merge(
        actual[["segment", "member_tier", "actual_rate", "actual_gmv"]],
        on=["segment", "member_tier"],
        how="left",
    )
    out["actual_gmv"] = out["actual_gmv"].fillna(0.0)
    out["inside"] = (out["actual_gmv"] >= out["gmv_low"] - 0.005) & (
        out["actual_gmv"] <= out["gmv_high"] + 0.005
    )
    return out


def check_name(name: str) -> str:
    """``name`` if it is a valid plan name.

    Raises:
        ValueError: the name could not name a file.
    """
    text = str(name).strip()
    if not NAME.match(text):
        raise ValueError(
            f"plan name {name!r} is not a valid file name: use letters, digits, _ - and ., "
            "at most 80 characters, not starting with . or -"
        )
    return text


def run(
    con: Any,
    as_of: dt.date,
    name: str,
    target: float | None,
    settings: PlanSettings | None = None,
    *,
    target_new: float | None = None,
    target_growth: float | None = None,
    edition_dates: str | None = None,
    levers: pd.DataFrame | str | Path | None = None,
    strategy_file: str | Path | None = None,
    segment_settings: SegmentSettings | None = None,
    link_threshold: float | None = None,
    salt: str = "",
) -> Plan:
    """Plan the coming edition of the settings' promotion, as of ``as_of``.

    Parameters:
        con: an Ibis backend on the warehouse (a read-only one will do; the segment
            snapshots of the editions' eves are stored when missing).
        as_of: the date today's populations are counted at (before the edition starts).
        name: the plan's name.
        target: the GMV target of the coming edition (``None``: the baseline alone,
            without a gap or a suggestion).
        settings: the plan settings (their defaults if ``None``).
        target_new: the new customers' part of the target (``None``: not split).
        target_growth: with no ``target``, the target is this multiple of the last past
            edition's GMV (1.2: grow by a fifth).
        edition_dates: the coming edition's dates as text (see
            :func:`workbench.plan.editions.given_edition`); ``None``: from the campaigns
            table, else the calendar.
        levers: the levers (columns of :data:`workbench.plan.levers.LEVER_COLUMNS`), or
            a CSV file of them.
        strategy_file: an edited copy of the strategy library (``None``: the default).
        segment_settings: the settings of the segment snapshots made for the plan.
        link_threshold: the link threshold persons are resolved at.
        salt: the secret the holdout's hash is salted with.

    Raises:
        ValueError: one line naming the value: a target of zero or below, an unknown
            promotion, edition dates out of order or overlapping the history, an
            as-of date after the edition starts or before any past edition, a bad
            lever, an invalid plan name.
    """
    name = check_name(name)
    settings = (settings or PlanSettings()).check()
    if target is not None and not target > 0:
        raise ValueError(f"target GMV {target!r} must be above 0")
    if target_growth is not None and not target_growth > 0:
        raise ValueError(f"target growth {target_growth!r} must be above 0")
    promotion = ed.canonical(settings.promotion)
    if edition_dates:
        coming = ed.given_edition(promotion, edition_dates)
    else:
        coming = ed.next_edition(con, promotion, as_of)
    if as_of >= coming.start:
        raise ValueError(
            f"as-of date {as_of} is not before the edition {coming.name}, which starts "
            f"{coming.start}"
        )
    days = order_days(con)
    first = None if days is None else days[0]
    past, notes = ed.past_editions(con, coming, settings.editions, as_of, first)
    if not past:
        raise ValueError(
            f"no past edition of {promotion} lies wholly between the first order "
            f"({first}) and the as-of date {as_of}: there is no history to plan from"
        )
    ed.check_editions([*past, coming])
    if len(past) < settings.editions:
        notes.append(ed.Notice("fewer_editions", found=len(past), wanted=settings.editions))
    # every snapshot the plan reads, made at once where missing: the eves' snapshots read
    # the order facts of the latest
    snaps, made = hist_mod.snapshots(
        con, [*(e.eve for e in past), as_of], segment_settings, link_threshold
    )
    history, _ = hist_mod.history(con, past, settings.scheme, segment_settings, link_threshold)
    if target is None and target_growth is not None:
        last = history[history["year"] == history["year"].max()]
        target = round(float(last["gmv"].sum()) * target_growth, 2)
    snap = snaps[as_of]
    pops = hist_mod.populations(snap, settings.scheme)
    if set(pops["member_tier"]) <= {hist_mod.NO_TIER}:
        notes.append(ed.Notice("no_members"))
    if not any(e.source == "campaigns" for e in [*past, coming]):
        notes.append(ed.Notice("calendar_dates"))
    cells = base_mod.baseline(history, pops, coming.year, settings.estimator, settings.confidence)
    if target is None:
        cells = cells.assign(gap=float("nan"), gap_share=float("nan"))
    else:
        cells = base_mod.gap(cells, target, target_new)
    lv = lever_mod.check_levers(lever_mod.read_levers(levers), cells)
    cells = lever_mod.apply_levers(cells, lv)
    args = (history, coming.year, settings.estimator, settings.confidence)
    total = base_mod.total(cells, *args)
    total_new = base_mod.total(cells, *args, where=cells["new"])
    total_ret = base_mod.total(cells, *args, where=~cells["new"])
    suggestion = lever_mod.suggest(
        cells, history, target, settings.headroom_cap, settings.confidence
    )
    if target is None:
        notes.append(ed.Notice("no_target"))
    library = strat.load_library(strategy_file)
    persons = hist_mod.cells(snap, settings.scheme)
    group = ibis.cases(
        *((persons.segment.isin(list(g.tiers)), g.key) for g in library),
        else_=ibis.null("string"),
    )
    persons = persons.mutate(group_name=group)
    return Plan(
        name=name,
        as_of=as_of,
        settings=settings,
        coming=coming,
        past=past,
        history=history,
        cells=cells,
        total=total,
        total_new=total_new,
        total_returning=total_ret,
        target=None if target is None else float(target),
        target_new=target_new,
        levers=lv,
        suggestion=suggestion,
        library=library,
        persons=persons,
        salt=salt,
        notes=notes,
        made=made,
        evidence=_evidence(con),
    )


def _evidence(con: Any) -> pd.DataFrame | None:
    """The stored review evidence (``review_evidence``), if any review was stored."""
    if "review_evidence" not in con.list_tables():
        return None
    return con.table("review_evidence").to_pandas()


LEVER_RESULT = (
    "planned_rate",
    "planned_aov",
    "planned_gmv",
    "lever_gmv",
    "measure",
    "owner",
    "lever_note",
)


def with_levers(plan: Plan, levers: pd.DataFrame | str | Path | None) -> Plan:
    """``plan`` with other levers: the cells recomputed, everything else kept.

    Raises:
        ValueError: a lever names a cell the plan does not have, or a value out of range.
    """
    base = plan.cells.drop(columns=[c for c in LEVER_RESULT if c in plan.cells])
    lv = lever_mod.check_levers(lever_mod.read_levers(levers), base)
    return dataclasses.replace(plan, levers=lv, cells=lever_mod.apply_levers(base, lv))


def packs(plan: Plan) -> ir.Table:
    """The audience packs of ``plan`` (see :meth:`Plan.packs`)."""
    s = plan.settings
    persons = plan.persons.filter(plan.persons.group_name.notnull())
    if s.global_control_share > 0:
        persons = global_control(persons, plan.salt, s.global_control_share, plan.coming.year)
    armed = assign(persons, plan.name, plan.salt, s.holdout_share, s.arm_names)
    armed = armed.filter(armed.arm != GLOBAL_CONTROL)
    phases = []
    for g in plan.library:
        for phase in ed.PHASES:
            if g.text[phase]["zh"].strip() or g.text[phase]["en"].strip():
                phases.append({"group_name": g.key, "phase": phase})
    if not phases:
        return armed.select(
            "person_id",
            phase=ibis.literal("", "string"),
            group_name="group_name",
            segment="segment",
            member_tier="member_tier",
            arm="arm",
        ).limit(0)
    plays = ibis.memtable(pd.DataFrame(phases))
    j = armed.join(plays, "group_name")
    return j.select("person_id", "phase", "group_name", "segment", "member_tier", "arm")


def pack_sizes(plan: Plan) -> pd.DataFrame:
    """The persons of each audience pack by arm, counted in the engine: ``phase``,
    ``group_name``, ``arm``, ``persons``."""
    p = packs(plan)
    counts = p.group_by(["phase", "group_name", "arm"]).agg(persons=p.count()).to_pandas()
    counts["persons"] = counts["persons"].astype("int64")
    return counts.sort_values(["group_name", "phase", "arm"]).reset_index(drop=True)


def power(plan: Plan) -> pd.DataFrame:
    """Per cell with persons: the minimum detectable lift of its repurchase rate at the
    plan's holdout share, power and significance, and the holdout share it needs to
    detect the settings' ``min_lift`` (:func:`workbench.plan.power.cell_power`)."""
    s = plan.settings
    c = plan.cells[(plan.cells["segment"] != hist_mod.OUTSIDE)]
    c = c[["segment", "member_tier", "population", "rate"]].copy()
    c["population"] = c["population"].fillna(0).astype("int64")
    return cell_power(
        c,
        s.holdout_share,
        target_lift=s.min_lift,
        power=s.power,
        alpha=s.alpha,
        persons="population",
        rate="rate",
    )


@dataclass(frozen=True)
class Exported:
    """Where a saved plan's files went: its folder and the pack files with their counts."""

    folder: Path
    version: int
    files: pd.DataFrame


def export(con: Any, plan: Plan, version: int, reports_dir: str | Path) -> Exported:
    """Write the packs of a saved plan as CSV files, one per pack and channel, listing each
    treated person's own account ids on that channel
    (:func:`workbench.plan.export.export_packs`), into
    ``<reports_dir>/plans/<name>-v<version>``."""
    folder = Path(reports_dir) / "plans" / f"{plan.name}-v{version}"
    p = packs(plan).rename(group="group_name")
    if "members" in con.list_tables():
        members = con.table("members")
    else:
        members = ibis.memtable(
            {"member_id": [], "tmall_account": [], "jd_account": []},
            schema={"member_id": "string", "tmall_account": "string", "jd_account": "string"},
        )
    files = export_packs(p, con.table("accounts"), members, plan.name, folder)
    return Exported(folder, version, files)


def write(con: Any, plan: Plan, wait: float = 0.0) -> int:
    """Save ``plan`` under its name as a new version, in one transaction; return the
    version.

    Raises:
        WarehouseLocked: another process holds the warehouse after ``wait`` seconds.
    """
    with writing(con, wait) as w:
        version = _next_version(w, plan.name)
        record = ibis.memtable(_record(plan, version), schema=PLANS.schema)
        cells = ibis.memtable(_cells_rows(plan, version), schema=PLAN_CELLS.schema)
        members = packs(plan).mutate(
            plan=ibis.literal(plan.name), version=ibis.literal(version, "int64")
        )
        members = members.select(*AUDIENCE_PACKS.schema.names)
        _insert_all(w, [("plans", record), ("plan_cells", cells), ("audience_packs", members)])
    return version


def _insert_all(con: Any, parts: list[tuple[str, ir.Table]]) -> None:
    """Insert each table's rows, all or none (one transaction on DuckDB)."""
    tables = {t.name: t for t in (PLANS, PLAN_CELLS, AUDIENCE_PACKS)}
    for name, _ in parts:
        if name not in con.list_tables():
            con.create_table(name, schema=tables[name].schema)
    if is_spark(con):
        for name, rows in parts:
            con.insert(name, rows)
        return
    raw = con.con
    raw.execute("BEGIN TRANSACTION")
    try:
        for name, rows in parts:
            con.insert(name, rows)
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise


def _next_version(con: Any, name: str) -> int:
    if "plans" not in con.list_tables():
        return 1
    p = con.table("plans")
    found = p.filter(p.name == name).version.max().execute()
    return 1 if found is None or pd.isna(found) else int(found) + 1


def _record(plan: Plan, version: int) -> dict[str, list[Any]]:
    e = plan.coming
    editions = {
        "coming": {
            "name": e.name,
            "source": e.source,
            "campaign_id": e.campaign_id,
            "phases": [[p, str(a), str(b)] for p, a, b in e.phases()],
        },
        "past": [{"name": p.name, "start": str(p.start), "end": str(p.end)} for p in plan.past],
    }
    return {
        "name": [plan.name],
        "version": [version],
        "created": [dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        "promotion": [e.promotion],
        "edition": [e.name],
        "as_of": [plan.as_of],
        "target": [plan.target],
        "target_new": [plan.target_new],
        "baseline": [plan.total.value],
        "baseline_low": [plan.total.low],
        "baseline_high": [plan.total.high],
        "planned": [plan.planned],
        "parameters": [json.dumps(dataclasses.asdict(plan.settings), ensure_ascii=False)],
        "editions": [json.dumps(editions, ensure_ascii=False)],
        "levers": [plan.levers.to_json(orient="records", force_ascii=False)],
        "strategy": [json.dumps(strat.library_records(plan.library), ensure_ascii=False)],
    }


def _cells_rows(plan: Plan, version: int) -> pd.DataFrame:
    c = plan.cells
    out = pd.DataFrame(
        {
            "plan": plan.name,
            "version": version,
            "segment": c["segment"].astype(str),
            "member_tier": c["member_tier"].astype(str),
            "new": c["new"].astype(bool),
            "population": c["population"].astype("Int64"),
        }
    )
    for col in (
        "rate",
        "aov",
        "buyers",
        "gmv",
        "gmv_low",
        "gmv_high",
        "gap",
        "planned_rate",
        "planned_aov",
        "planned_gmv",
    ):
        out[col] = c[col].astype("float64")
    for col, src in (("measure", "measure"), ("owner", "owner"), ("note", "lever_note")):
        out[col] = c[src].fillna("").astype(str)
    return out[list(PLAN_CELLS.schema.names)]


@dataclass(frozen=True)
class Stored:
    """A saved plan read back: its record, its planning table and its packs."""

    record: dict[str, Any]
    cells: pd.DataFrame
    packs: ir.Table

    @property
    def name(self) -> str:
        return str(self.record["name"])

    @property
    def version(self) -> int:
        return int(self.record["version"])


def stored(con: Any, name: str, version: int | None = None) -> Stored:
    """The plan saved as ``name`` (its latest version, or ``version``).

    Raises:
        LookupError: no such plan or version; the message lists those saved.
    """
    if "plans" not in con.list_tables():
        raise LookupError("no plan is saved yet: run `workbench plan`")
    p = con.table("plans")
    rows = p.filter(p.name == name).to_pandas()
    if rows.empty:
        names = sorted(p.select("name").distinct().to_pandas()["name"])
        raise LookupError(f"no plan named {name!r}; saved: {', '.join(names) or 'none'}")
    if version is None:
        row = rows.loc[rows["version"].idxmax()]
    else:
        hit = rows[rows["version"] == version]
        if hit.empty:
            found = ", ".join(str(v) for v in sorted(rows["version"]))
            raise LookupError(f"plan {name!r} has no version {version}; saved: {found}")
        row = hit.iloc[0]
    v = int(row["version"])
    c = con.table("plan_cells")
    cells = c.filter((c.plan == name) & (c.version == v)).to_pandas()
    a = con.table("audience_packs")
    return Stored(row.to_dict(), cells, a.filter((a.plan == name) & (a.version == v)))
