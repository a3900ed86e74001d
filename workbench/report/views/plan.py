"""What the 03_plan report shows: a plan of :func:`workbench.plan.run`, labelled,
formatted and drawn in the report's language. Each function takes one job result and
the language."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from workbench.plan import PHASES, Exported, Plan
from workbench.plan.history import NO_TIER as NON_MEMBER
from workbench.plan.history import OUTSIDE
from workbench.report.format import count, currency, money, pct
from workbench.report.labels import label
from workbench.report.theme import PALETTE, Table, table
from workbench.report.views import common
from workbench.report.views.common import Note, Stack, Strip, number_axis, tip, title, with_data
from workbench.segment import MEMBER_TIERS
from workbench.segment.lifecycle import LEVEL1_ORDER, LEVEL2_ORDER, LEVEL3_ACTIVE, SCHEME_TWO

SEGMENT_ORDER: tuple[str, ...] = (
    *(r.tier for r in SCHEME_TWO),
    *LEVEL1_ORDER,
    *LEVEL2_ORDER,
    *LEVEL3_ACTIVE,
    OUTSIDE,
)
TIER_ORDER: tuple[str, ...] = (NON_MEMBER, *MEMBER_TIERS)


def edition_label(name: str, lang: str) -> str:
    """An edition's name in the report's language: ``双11-2026`` or ``Double 11-2026``."""
    promotion, dash, year = str(name).rpartition("-")
    return f"{label(f'promotion_{promotion}', lang)}{dash}{year}" if dash else str(name)


def cells_ordered(df: pd.DataFrame) -> pd.DataFrame:
    """Cells in segment order, then member tier order."""
    seg = {s: i for i, s in enumerate(SEGMENT_ORDER)}
    tier = {t: i for i, t in enumerate(TIER_ORDER)}
    out = df.assign(_s=df["segment"].map(seg).fillna(99), _t=df["member_tier"].map(tier).fillna(99))
    return out.sort_values(["_s", "_t"], kind="stable").drop(columns=["_s", "_t"])


def cells_named(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Cells with their segment and member tier in the report's language."""
    out = df.copy()
    out["segment"] = out["segment"].map(lambda s: label(s, lang))
    out["member_tier"] = out["member_tier"].map(lambda t: label(t, lang))
    return out


def _money(lang: str) -> Any:
    return lambda x: money(x, lang, short=False)


def _interval(low: float, high: float, lang: str) -> str:
    return f"{money(low, lang)} – {money(high, lang)}"


def headline(plan: Plan, lang: str = "zh") -> Strip:
    """Baseline, target, gap and the plan with its levers, each with its interval."""
    t = plan.total
    level = pct(plan.settings.confidence, 0)
    band = label("plan_interval_note", lang).format(
        level=level, low=money(t.low, lang), high=money(t.high, lang)
    )
    items = [(label("plan_baseline", lang), money(t.value, lang), band)]
    if plan.target is not None:
        gap = plan.target - t.value
        gap_band = label("plan_interval_note", lang).format(
            level=level,
            low=money(plan.target - t.high, lang),
            high=money(plan.target - t.low, lang),
        )
        items += [
            (label("target", lang), money(plan.target, lang), ""),
            (label("plan_gap", lang), money(gap, lang), gap_band),
            (label("plan_planned", lang), money(plan.planned, lang), ""),
            (label("plan_remaining", lang), money(plan.remaining_gap, lang), ""),
        ]
    for key, part in (
        ("plan_new_part", plan.total_new),
        ("plan_returning_part", plan.total_returning),
    ):
        items.append(
            (
                label(key, lang),
                money(part.value, lang),
                label("plan_interval_note", lang).format(
                    level=level, low=money(part.low, lang), high=money(part.high, lang)
                ),
            )
        )
    return Strip(items)


def data_notes(plan: Plan, lang: str = "zh") -> Stack | None:
    """What the plan could not do, one line each (as the job wrote it), and no target."""
    parts: list[Any] = [
        Note(
            label(f"notice_{n.key}", lang).format(**notice_values(n.values, lang)),
            warning=n.key != "no_target",
        )
        for n in plan.notes
    ]
    return Stack(parts) if parts else None


def notice_values(values: dict[str, str], lang: str) -> dict[str, str]:
    """A notice's values with edition names in the report's language."""
    return {k: edition_label(v, lang) if k == "edition" else v for k, v in values.items()}


def settings_table(plan: Plan, lang: str = "zh") -> Table:
    """Every plan setting the plan was made with, by its label."""
    return common.settings_table(
        plan.settings,
        lang,
        "plan_settings",
        worded={"estimator": "estimator_", "scheme": "scheme_", "promotion": "promotion_"},
    )


def editions_table(plan: Plan, lang: str = "zh") -> Table:
    """The coming edition's phases with their dates, and the past editions' windows."""
    rows = [
        {
            "plan_edition": edition_label(plan.coming.name, lang),
            "plan_phase": label(f"phase_{p}", lang),
            "plan_start": str(a),
            "plan_end": str(b),
            "plan_source": label(f"source_{plan.coming.source}", lang),
        }
        for p, a, b in plan.coming.phases()
    ]
    for e in reversed(plan.past):
        rows.append(
            {
                "plan_edition": edition_label(e.name, lang),
                "plan_phase": "–",
                "plan_start": str(e.start),
                "plan_end": str(e.end),
                "plan_source": label(f"source_{e.source}", lang),
            }
        )
    return table(pd.DataFrame(rows), lang=lang, name="editions")


def history_table(plan: Plan, lang: str = "zh") -> Table:
    """The history table as a planner reads it: one row per cell, and for each past
    edition its persons, repurchase rate, GMV per buyer and GMV side by side."""
    h = plan.history
    wide = h.pivot_table(
        index=["segment", "member_tier"],
        columns="edition",
        values=["population", "rate", "aov", "gmv"],
        aggfunc="first",
        dropna=False,
    )
    editions = [e.name for e in plan.past]
    measures = [
        ("population", "plan_population"),
        ("rate", "plan_rate"),
        ("aov", "plan_aov"),
        ("gmv", "plan_gmv"),
    ]
    out = cells_named(cells_ordered(wide.index.to_frame(index=False)), lang)
    keys = list(
        zip(
            *(
                cells_ordered(wide.index.to_frame(index=False))[c]
                for c in ("segment", "member_tier")
            ),
            strict=True,
        )
    )
    frame = pd.DataFrame(
        {
            label("plan_segment", lang): out["segment"].to_numpy(),
            label("member_tier", lang): out["member_tier"].to_numpy(),
        }
    )
    formats: dict[str, Any] = {}
    for e in editions:
        for col, key in measures:
            name = f"{edition_label(e, lang)} {label(key, lang)}"
            values = [wide.loc[k, (col, e)] if (col, e) in wide.columns else None for k in keys]
            frame[name] = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
            if col == "population":
                frame[name] = frame[name].astype("Int64")
            formats[name] = pct if col == "rate" else _money(lang) if col != "population" else None
    # a cell no edition saw (trial members who are not members) is not a row
    frame = frame[frame[list(formats)].notna().any(axis=1)].reset_index(drop=True)
    return table(frame, formats={k: v for k, v in formats.items() if v}, lang=lang, name="history")


def history_chart(plan: Plan, lang: str = "zh") -> alt.FacetChart:
    """Each segment's repurchase rate over the past editions, one small chart per
    segment, one line per member tier."""
    h = plan.history[plan.history["segment"] != OUTSIDE].copy()
    h = h[h["population"].fillna(0) > 0]
    h["segment_name"] = h["segment"].map(lambda s: label(s, lang))
    h["tier_name"] = h["member_tier"].map(lambda t: label(t, lang))
    h["edition"] = h["edition"].map(lambda e: edition_label(e, lang))
    order = [label(s, lang) for s in SEGMENT_ORDER if s in set(h["segment"])]
    tiers = [label(t, lang) for t in TIER_ORDER if t in set(h["member_tier"])]
    # the chart carries only what it shows, in the report's language
    h = h[["year", "edition", "segment_name", "tier_name", "population", "rate"]]
    base = alt.Chart(h).encode(
        x=alt.X("year:O", title=label("plan_edition", lang)),
        y=alt.Y("rate:Q", title=None, axis=alt.Axis(format="%")),
        color=alt.Color(
            "tier_name:N",
            title=label("member_tier", lang),
            scale=alt.Scale(domain=tiers, range=list(PALETTE[: len(tiers)])),
        ),
        tooltip=[
            tip("segment_name:N", "plan_segment", lang),
            tip("tier_name:N", "member_tier", lang),
            tip("edition:N", "plan_edition", lang),
            tip("population:Q", "plan_population", lang, ","),
            tip("rate:Q", "plan_rate", lang, ".1%"),
        ],
    )
    points = base.mark_point(filled=True).encode(
        size=alt.Size(
            "population:Q", title=label("plan_population", lang), scale=alt.Scale(range=[10, 160])
        )
    )
    layered = alt.layer(base.mark_line(opacity=0.7), points)
    return layered.properties(width=150, height=110).facet(
        facet=alt.Facet("segment_name:N", title=None, sort=order),
        columns=4,
        title=title("plan_history_title", lang),
    )


def baseline_table(plan: Plan, lang: str = "zh") -> Table:
    """The planning table: per cell the population today, the estimated rate and GMV
    per buyer, the baseline GMV with its interval and the cell's share of the gap."""
    c = cells_ordered(plan.cells)
    c = cells_named(c, lang)
    c["plan_new"] = c["new"].map(
        lambda n: label("plan_new_part" if n else "plan_returning_part", lang)
    )
    c["plan_interval"] = [
        _interval(lo, hi, lang) for lo, hi in zip(c["gmv_low"], c["gmv_high"], strict=True)
    ]
    c["plan_note"] = c["note"].map(lambda n: label(n.replace(" ", "_"), lang) if n else "")
    cols = {
        "segment": "plan_segment",
        "member_tier": "member_tier",
        "plan_new": "plan_new",
        "population": "plan_population",
        "rate": "plan_rate",
        "aov": "plan_aov",
        "buyers": "plan_est_buyers",
        "gmv": "plan_gmv",
        "plan_interval": "plan_interval",
        "gap": "plan_gap",
        "gap_share": "plan_gap_share",
        "editions": "plan_editions_used",
        "plan_note": "plan_note",
    }
    g = c[list(cols)].rename(columns=cols)
    g["plan_population"] = g["plan_population"].astype("Int64")
    if plan.target is None:
        g = g.drop(columns=["plan_gap", "plan_gap_share"])
    return table(
        g,
        lang=lang,
        formats={
            "plan_rate": pct,
            "plan_aov": _money(lang),
            "plan_est_buyers": lambda x: count(x, lang),
            "plan_gmv": _money(lang),
            "plan_gap": _money(lang),
            "plan_gap_share": pct,
        },
        name="baseline",
    )


def waterfall(plan: Plan, lang: str = "zh") -> alt.LayerChart | Note:
    """From the baseline through the levers to the target: what each lever adds and
    the gap that remains."""
    if plan.target is None:
        return Note(label("plan_no_target", lang))
    steps: list[tuple[str, float, str]] = [
        (label("plan_baseline", lang), plan.total.value, "total")
    ]
    lv = plan.cells[plan.cells["lever_gmv"] != 0]
    for r in cells_ordered(lv).itertuples():
        name = f"{label(r.segment, lang)} · {label(r.member_tier, lang)}"
        steps.append((name, float(r.lever_gmv), "step"))
    steps.append((label("plan_remaining", lang), plan.remaining_gap or 0.0, "gap"))
    rows, level = [], 0.0
    for name, amount, kind in steps:
        start = 0.0 if kind == "total" else level
        end = amount if kind == "total" else level + amount
        rows.append({"step": name, "start": start, "end": end, "amount": amount, "kind": kind})
        level = end
    rows.append(
        {
            "step": label("target", lang),
            "start": 0.0,
            "end": plan.target,
            "amount": plan.target,
            "kind": "target",
        }
    )
    df = pd.DataFrame(rows)
    colors = {"total": PALETTE[0], "step": PALETTE[2], "gap": PALETTE[3], "target": "#555555"}
    bars = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("step:N", sort=list(df["step"]), title=None, axis=alt.Axis(labelAngle=-30)),
            y=alt.Y("start:Q", title=label("plan_amount", lang), axis=number_axis(lang)),
            y2="end:Q",
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=list(colors), range=list(colors.values())),
                legend=None,
            ),
            tooltip=[
                tip("step:N", "plan_step", lang),
                tip("amount:Q", "plan_amount", lang, ",.2f"),
            ],
        )
    )
    return bars.properties(width=520, height=260, title=title("plan_waterfall_title", lang))


def levers_table(plan: Plan, lang: str = "zh") -> Table | Note:
    """The cells a lever changes: baseline and planned rate and GMV per buyer, what
    the lever adds, its measure, owner and note."""
    keys = set(zip(plan.levers["segment"], plan.levers["member_tier"], strict=True))
    has = [k in keys for k in zip(plan.cells["segment"], plan.cells["member_tier"], strict=True)]
    c = plan.cells[has]
    if c.empty:
        return Note(label("plan_no_levers", lang))
    c = cells_named(cells_ordered(c), lang)
    cols = {
        "segment": "plan_segment",
        "member_tier": "member_tier",
        "rate": "plan_rate",
        "planned_rate": "plan_rate_planned",
        "aov": "plan_aov",
        "planned_aov": "plan_aov_planned",
        "lever_gmv": "plan_lever_gmv",
        "measure": "plan_measure",
        "owner": "plan_owner",
        "lever_note": "plan_note",
    }
    g = c[[k for k in cols if k in c]].rename(columns=cols)
    return table(
        g,
        lang=lang,
        formats={
            "plan_rate": pct,
            "plan_rate_planned": pct,
            "plan_aov": _money(lang),
            "plan_aov_planned": _money(lang),
            "plan_lever_gmv": _money(lang),
        },
        name="levers",
    )


def suggestion_table(plan: Plan, lang: str = "zh") -> Table | Note:
    """Where the headroom is (:func:`workbench.plan.levers.suggest`), beside the baseline;
    never applied by itself."""
    s = plan.suggestion
    if s.empty:
        return Note(label("plan_no_headroom", lang))
    s = cells_named(s, lang)
    s["best_tier"] = s["best_tier"].map(lambda t: label(t, lang))
    s["best_edition"] = s["best_edition"].map(lambda e: edition_label(e, lang))
    s["taken"] = s["taken"].map(lambda t: "✓" if t else "")
    cols = {
        "segment": "plan_segment",
        "member_tier": "member_tier",
        "population": "plan_population",
        "rate": "plan_rate",
        "best_rate": "plan_best_rate",
        "best_edition": "plan_best_where",
        "best_tier": "plan_best_tier",
        "headroom": "plan_headroom",
        "proposed_rate": "plan_proposed_rate",
        "gain": "plan_gain",
        "cumulative": "plan_cumulative",
        "taken": "plan_taken",
    }
    g = s[list(cols)].rename(columns=cols)
    g["plan_population"] = g["plan_population"].astype("Int64")
    return table(
        g,
        lang=lang,
        formats={
            "plan_rate": pct,
            "plan_best_rate": pct,
            "plan_headroom": pct,
            "plan_proposed_rate": pct,
            "plan_gain": _money(lang),
            "plan_cumulative": _money(lang),
        },
        name="suggestion",
    )


def strategy_table(plan: Plan, lang: str = "zh") -> Table:
    """The phase strategy table: per target group the strategy, each phase's play
    (phase dates in the headers), channel and resources."""
    st = plan.strategy(lang)
    dates = {
        p: f"{label(f'phase_{p}', lang)} {a:%m-%d}–{b:%m-%d}" for p, a, b in plan.coming.phases()
    }
    out = pd.DataFrame(
        {
            label("plan_group", lang): st["group"].map(lambda g: label(g, lang)),
            label("plan_segments_covered", lang): st["segments"].map(
                lambda s: (
                    "、".join(label(x, lang) for x in s.split(","))
                    if lang == "zh"
                    else ", ".join(label(x, lang) for x in s.split(","))
                )
            ),
            label("plan_strategy", lang): st["strategy"],
            **{dates[p]: st[p].replace("", "–") for p in PHASES},
            label("plan_channel", lang): st["channel"],
            label("plan_resources", lang): st["resources"],
            label("plan_evidence", lang): [_evidence_text(r, lang) for r in st.itertuples()],
        }
    )
    return table(out, lang=lang, name="strategy")


def _evidence_text(r: Any, lang: str) -> str:
    """What a past review found for a group: the arm, its lift in the purchase rate with
    the interval, the units and the edition."""
    if r.evidence_arm is None or pd.isna(r.evidence_arm):
        return "–"
    return label("plan_evidence_text", lang).format(
        arm=label(str(r.evidence_arm), lang),
        lift=pct(r.evidence_lift, 2),
        low=pct(r.evidence_low, 2),
        high=pct(r.evidence_high, 2),
        n=count(r.evidence_n, lang),
        edition=edition_label(str(r.evidence_from), lang),
    )


def saved(version: int, plan: Plan, lang: str = "zh") -> Note:
    """Says under which name and version the plan was saved (:func:`workbench.plan.write`)."""
    return Note(label("plan_saved", lang).format(name=plan.name, version=version))


def backtest_table(bt: pd.DataFrame | None, plan: Plan, lang: str = "zh") -> Stack | Note:
    """The baseline against what the edition brought, per cell and in total, and how
    often the actual lies inside the interval (:func:`workbench.plan.backtest`)."""
    if bt is None:
        return Note(
            label("plan_not_over", lang).format(
                edition=edition_label(plan.coming.name, lang), end=plan.coming.end
            )
        )
    t = plan.total
    actual = float(bt["actual_gmv"].sum())
    inside_total = t.low <= actual <= t.high
    level = pct(plan.settings.confidence, 0)
    rated = bt[bt["gmv_high"] > 0]
    strip = Strip(
        [
            (
                label("plan_baseline", lang),
                money(t.value, lang),
                label("plan_interval_note", lang).format(
                    level=level, low=money(t.low, lang), high=money(t.high, lang)
                ),
            ),
            (
                label("plan_actual", lang),
                money(actual, lang),
                label("plan_inside" if inside_total else "plan_outside", lang),
            ),
            (
                label("plan_coverage", lang),
                pct(float(rated["inside"].mean()) if len(rated) else float("nan")),
                label("plan_coverage_note", lang).format(n=len(rated), level=level),
            ),
        ]
    )
    g = cells_named(cells_ordered(bt), lang)
    g["plan_interval"] = [
        _interval(lo, hi, lang) for lo, hi in zip(g["gmv_low"], g["gmv_high"], strict=True)
    ]
    g["inside"] = g["inside"].map(lambda x: "✓" if x else "✗")
    cols = {
        "segment": "plan_segment",
        "member_tier": "member_tier",
        "population": "plan_population",
        "rate": "plan_rate",
        "actual_rate": "plan_actual_rate",
        "gmv": "plan_gmv",
        "plan_interval": "plan_interval",
        "actual_gmv": "plan_actual",
        "inside": "plan_inside_short",
    }
    out = g[list(cols)].rename(columns=cols)
    out["plan_population"] = out["plan_population"].astype("Int64")
    return Stack(
        [
            strip,
            table(
                out,
                lang=lang,
                formats={
                    "plan_rate": pct,
                    "plan_actual_rate": pct,
                    "plan_gmv": _money(lang),
                    "plan_actual": _money(lang),
                },
                name="backtest",
            ),
        ]
    )


def pack_table(sizes: pd.DataFrame, lang: str = "zh") -> Table:
    """Persons per pack (target group and phase) by arm (:func:`workbench.plan.pack_sizes`)."""
    wide = sizes.pivot_table(
        index=["group_name", "phase"], columns="arm", values="persons", aggfunc="sum", fill_value=0
    )
    arms = ["control", *sorted(c for c in wide.columns if c != "control")]
    wide = wide.reindex(columns=[a for a in arms if a in wide.columns]).reset_index()
    phase = {p: i for i, p in enumerate(PHASES)}
    group = {g: i for i, g in enumerate(SEGMENT_ORDER)}
    wide = wide.assign(_g=wide["group_name"].map(group).fillna(99), _p=wide["phase"].map(phase))
    wide = wide.sort_values(["_g", "_p"]).drop(columns=["_g", "_p"])
    out = pd.DataFrame(
        {
            label("plan_group", lang): wide["group_name"].map(lambda g: label(g, lang)),
            label("plan_phase", lang): wide["phase"].map(lambda p: label(f"phase_{p}", lang)),
        }
    )
    for a in wide.columns[2:]:
        out[label(a, lang)] = wide[a].astype("int64").to_numpy()
    return table(out, lang=lang, name="pack_sizes")


def power_table(cells: pd.DataFrame, lang: str = "zh") -> Table:
    """Per cell: persons, baseline rate, the holdout, the minimum detectable lift in points
    and relative, the holdout share needed for the target lift, and whether it can be
    measured (:func:`workbench.plan.power`)."""
    c = cells_named(cells_ordered(cells), lang)
    c["power_status"] = c["power_status"].map(lambda x: label(f"power_{x}", lang))
    cols = {
        "segment": "plan_segment",
        "member_tier": "member_tier",
        "population": "plan_population",
        "rate": "plan_rate",
        "control": "control",
        "treated": "treatment",
        "mde_abs": "plan_mde",
        "mde_rel": "plan_mde_rel",
        "recommended_holdout": "plan_holdout_rec",
        "power_status": "plan_measurable",
    }
    g = c[list(cols)].rename(columns=cols)
    return table(
        g,
        lang=lang,
        formats={
            "plan_rate": pct,
            "control": lambda x: count(x, lang),
            "treatment": lambda x: count(x, lang),
            "plan_mde": lambda x: pct(x, 2),
            "plan_mde_rel": pct,
            "plan_holdout_rec": lambda x: pct(x, 0),
        },
        name="power",
    )


def deliverables(exported: Exported, plan: Plan, lang: str = "zh") -> Stack:
    """Writes the plan's workbook beside its pack files (:func:`workbench.plan.export`) and
    lists them: files per pack and channel with their persons and ids, and what was
    withheld."""
    from workbench.plan import pack_sizes
    from workbench.report.workbook import write_workbook

    book = write_workbook(
        plan,
        exported.folder / f"{plan.name}-v{exported.version}.xlsx",
        lang,
        pack_sizes=pack_sizes(plan),
        currency=currency(),
    )
    f = exported.files.copy()
    where = f"{exported.folder.parent.name}/{exported.folder.name}/"
    parts: list[Any] = [Note(with_data(label("plan_files", lang), path=where))]
    parts.append(Note(with_data(label("plan_workbook", lang), file=book.name)))
    if f.empty:
        parts.append(Note(label("plan_no_pack_files", lang)))
        return Stack(parts)
    wide = f.pivot_table(
        index=["group", "phase"], columns="channel", values="accounts", aggfunc="sum", fill_value=0
    )
    persons = f.groupby(["group", "phase"])["pack_persons"].max()
    withheld = f.groupby(["group", "phase"])["withheld_phone_like"].sum()
    keys = sorted(
        wide.index,
        key=lambda k: (
            SEGMENT_ORDER.index(k[0]) if k[0] in SEGMENT_ORDER else 99,
            PHASES.index(k[1]),
        ),
    )
    out = pd.DataFrame(
        {
            label("plan_group", lang): [label(g, lang) for g, _ in keys],
            label("plan_phase", lang): [label(f"phase_{p}", lang) for _, p in keys],
            label("plan_persons", lang): [int(persons[k]) for k in keys],
        }
    )
    for ch in wide.columns:
        if wide[ch].sum() > 0:
            out[f"{label(ch, lang)} {label('plan_ids', lang)}"] = [
                int(wide.loc[k, ch]) for k in keys
            ]
    out[label("plan_withheld", lang)] = [int(withheld[k]) for k in keys]
    parts.append(table(out, lang=lang, name="pack_files"))
    return Stack(parts)
