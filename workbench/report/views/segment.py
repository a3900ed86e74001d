"""What the 02_segment report shows: the snapshot of :func:`workbench.segment.run` and
the small tables the job makes of it, labelled, formatted and drawn in the report's
language. Each function takes one job result and the language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd

from workbench.evaluation import SegmentChecks
from workbench.report.format import count, fixed, money, pct, with_unit
from workbench.report.labels import label, relabel
from workbench.report.theme import PALETTE, Table, table
from workbench.report.views import common
from workbench.report.views.common import Code, Note, Stack, Strip, number_axis, tip, title
from workbench.segment import MEMBER_TIERS, AudienceProfile, Intervals, Migration, Snapshot
from workbench.segment.lifecycle import LEVEL1_ORDER, LEVEL2_ORDER, LEVEL3_ACTIVE, SCHEME_TWO
from workbench.segment.rfm import QUADRANTS, RFM_SEGMENTS, SENSITIVITY
from workbench.segment.summary import NON_MEMBER

WIDTH = 520
LEVEL1_COLORS = dict(
    zip(LEVEL1_ORDER, ["#8c8c8c", PALETTE[2], PALETTE[1], PALETTE[3]], strict=True)
)


def summary(figures: Mapping[str, Any], lang: str = "zh") -> Strip:
    """The headline strip (:func:`workbench.segment.summary.headline`)."""
    return Strip(
        [
            (label("segment_persons", lang), count(figures["persons"], lang, short=True), ""),
            (label("buyers_total", lang), count(figures["buyers"], lang, short=True), ""),
            (label("active_share", lang), pct(figures["active_share"]), ""),
            (label("lost_share", lang), pct(figures["lost_share"]), ""),
            (label("loyal_fans", lang), count(figures["loyal"], lang, short=True), ""),
            (label("active_net_amount", lang), money(figures["active_net_amount"], lang), ""),
        ]
    )


def rc_table(rc: pd.DataFrame, lang: str = "zh") -> Table:
    """RC per category by both methods, the one used and why
    (:func:`workbench.segment.summary.rc_table`)."""
    g = rc.copy()
    g["category"] = g["category"].fillna(label("all_categories", lang))
    g["method"] = g["method"].map(lambda m: label(m, lang))
    g["reason"] = g["reason"].map(lambda r: label(r, lang))
    g["rc_inductive_ci"] = _intervals(g)
    g = g[
        [
            "category",
            "rc_usage",
            "rc_inductive",
            "rc_inductive_ci",
            "p90_interval",
            "repeaters",
            "rc_days",
            "method",
            "reason",
        ]
    ]
    one = fixed(1)
    return table(
        g,
        lang=lang,
        formats={"rc_usage": one, "rc_inductive": one, "p90_interval": one, "rc_days": one},
        name="repurchase_cycles",
    )


def _intervals(g: pd.DataFrame) -> list[str]:
    """Each row's 95% interval of the inductive RC, as text."""
    return [
        _bounds(lo, hi)
        for lo, hi in zip(g["rc_inductive_low"], g["rc_inductive_high"], strict=True)
    ]


def _bounds(low: float | None, high: float | None) -> str:
    """A 95% interval as text: ``a – b``, or ``≥ a`` / ``≤ b`` when one bound is unknown."""
    one = fixed(1)
    has_low, has_high = pd.notna(low), pd.notna(high)
    if has_low and has_high:
        return f"{one(low)} – {one(high)}"
    if has_low:
        return f"≥ {one(low)}"
    return f"≤ {one(high)}" if has_high else one(None)


def interval_chart(iv: Intervals, lang: str = "zh") -> alt.LayerChart:
    """Repeat customers by mean interval between purchase days, with the p90 line (3 RC)."""
    bins = iv.bins.assign(end=iv.bins["start"] + iv.width)
    what = iv.category or label("all_categories", lang)
    bars = (
        alt.Chart(bins, title=title("interval_title", lang, subtitle=what))
        .mark_bar(color=PALETTE[0])
        .encode(
            x=alt.X("start:Q", bin="binned", title=label("mean_interval", lang)),
            x2="end:Q",
            y=alt.Y("repeaters:Q", title=label("repeaters", lang)),
            tooltip=[
                tip("start:Q", "mean_interval", lang),
                tip("repeaters:Q", "repeaters", lang, ","),
            ],
        )
        .properties(width=WIDTH, height=220)
    )
    if iv.p90 is None:
        return bars + bars.mark_text()
    line = pd.DataFrame({"x": [iv.p90], "text": [label("p90_label", lang).format(days=iv.p90)]})
    rule = alt.Chart(line).mark_rule(color=PALETTE[3], strokeWidth=2).encode(x="x:Q")
    text = (
        alt.Chart(line)
        .mark_text(align="left", dx=4, dy=-100, color=PALETTE[3], fontSize=11)
        .encode(x="x:Q", text="text:N")
    )
    return bars + rule + text


def tier_chart(sizes: pd.DataFrame, lang: str = "zh") -> alt.HConcatChart:
    """Level-2 tiers, coloured by their level-1 tier: persons and net sales side by side
    (:func:`workbench.segment.summary.tier_sizes`)."""
    g = sizes[sizes["level"] == 2].copy()
    g["tier_name"] = g["tier"].map(lambda t: label(t, lang))
    g["parent_name"] = g["parent"].map(lambda t: label(t, lang))
    order = [label(t, lang) for t in LEVEL2_ORDER]
    color = alt.Color(
        "parent_name:N",
        title=label("parent", lang),
        scale=alt.Scale(
            domain=[label(t, lang) for t in LEVEL1_ORDER], range=list(LEVEL1_COLORS.values())
        ),
        legend=alt.Legend(orient="bottom"),
    )
    tooltip = [
        tip("parent_name:N", "parent", lang),
        tip("tier_name:N", "tier", lang),
        tip("persons:Q", "persons", lang, ","),
        tip("share:Q", "share", lang, ".1%"),
        alt.Tooltip("net_amount:Q", title=with_unit(label("net_amount", lang)), format=",.0f"),
    ]
    base = alt.Chart(g).encode(
        y=alt.Y("tier_name:N", sort=order, title=None), color=color, tooltip=tooltip
    )
    persons = base.mark_bar().encode(
        x=alt.X("persons:Q", title=label("persons", lang), axis=number_axis(lang))
    )
    persons = (
        persons
        + persons.mark_text(align="left", dx=3, fontSize=10).encode(
            text=alt.Text("persons:Q", format=","), color=alt.value("#333")
        )
    ).properties(width=WIDTH // 2 - 20, height=alt.Step(22))
    sales = (
        base.mark_bar()
        .encode(
            x=alt.X(
                "net_amount:Q",
                title=with_unit(label("net_amount", lang)),
                axis=number_axis(lang),
            ),
            y=alt.Y("tier_name:N", sort=order, title=None, axis=None),
        )
        .properties(width=WIDTH // 2 - 20, height=alt.Step(22))
    )
    return alt.hconcat(persons, sales, spacing=24, title=title("tier_sizes_title", lang))


def tier_table(sizes: pd.DataFrame, lang: str = "zh") -> Table:
    """Every tier at the three levels with persons, share and net sales: by level, then
    from potential to lost (level 3's new, returning and loyal under active)."""
    parents = {t: i for i, t in enumerate(LEVEL1_ORDER)}
    order = {t: i for i, t in enumerate((*LEVEL1_ORDER, *LEVEL2_ORDER, *LEVEL3_ACTIVE))}
    g = sizes.copy()
    g["_p"] = g["parent"].map(parents).fillna(99)
    g["_o"] = g["tier"].map(order).fillna(99)
    g = g.sort_values(["level", "_p", "_o"]).drop(columns=["_p", "_o"])
    g["parent"] = g["parent"].map(lambda t: label(t, lang))
    g["tier"] = g["tier"].map(lambda t: label(t, lang))
    g = g[["level", "parent", "tier", "persons", "share", "net_amount"]]
    return table(
        g,
        lang=lang,
        formats={"share": pct, "net_amount": lambda x: money(x, lang, short=False)},
        name="tiers",
    )


def scheme_two_table(sizes: pd.DataFrame, lang: str = "zh") -> Table:
    """The planning scheme's tiers (:func:`workbench.segment.summary.scheme_two_sizes`)."""
    order = {r.tier: i for i, r in enumerate(SCHEME_TWO)}
    g = sizes.sort_values("tier", key=lambda s: s.map(order)).copy()
    g["tier"] = g["tier"].map(lambda t: label(t, lang))
    return table(
        g[["tier", "persons", "share", "net_amount"]],
        lang=lang,
        formats={"share": pct, "net_amount": lambda x: money(x, lang, short=False)},
        name="planning_scheme",
    )


def member_cross_table(cross: pd.DataFrame, lang: str = "zh") -> Table:
    """Level-1 tier x member tier: persons, with net sales in brackets
    (:func:`workbench.segment.summary.lifecycle_by_member_tier`)."""
    tiers = [t for t in (*MEMBER_TIERS, NON_MEMBER) if t in set(cross["member_tier"])]
    tiers += sorted(set(cross["member_tier"]) - set(tiers))
    cell = cross.assign(
        text=[
            f"{count(p, lang)} ({money(n, lang)})"
            for p, n in zip(cross["persons"], cross["net_amount"], strict=True)
        ]
    )
    wide = cell.pivot(index="tier_l1", columns="member_tier", values="text")
    wide = wide.reindex(index=[t for t in LEVEL1_ORDER if t in wide.index], columns=tiers)
    wide = wide.fillna("–")
    wide.index = [label(t, lang) for t in wide.index]
    wide.columns = [label(t, lang) for t in wide.columns]
    wide.index.name = label("tier_l1", lang)
    shown = table(wide.reset_index(), lang=lang, name="lifecycle_by_member_tier")
    # The download holds the numbers, a row per cell, not the text shown.
    rank = {t: i for i, t in enumerate((*LEVEL1_ORDER, *tiers))}
    numbers = cross[["tier_l1", "member_tier", "persons", "net_amount"]].sort_values(
        ["tier_l1", "member_tier"], key=lambda s: s.map(rank), ignore_index=True
    )
    numbers = relabel(numbers, lang, values=("tier_l1", "member_tier"))
    sales = lambda x: money(x, lang, short=False)  # noqa: E731
    return shown.with_download(numbers, {label("net_amount", lang): sales})


def rfm_table(rfm: pd.DataFrame, lang: str = "zh") -> Table:
    """The eight RFM segments (:func:`workbench.segment.summary.rfm_summary`)."""
    order = {name: i for i, name in enumerate(RFM_SEGMENTS.values())}
    g = rfm.sort_values("rfm_segment", key=lambda s: s.map(order)).copy()
    g["rfm_segment"] = g["rfm_segment"].map(lambda t: label(t, lang))
    g = g[
        [
            "rfm_segment",
            "persons",
            "share",
            "recency_days",
            "purchases",
            "net_amount_mean",
            "net_amount",
        ]
    ]
    return table(
        g,
        lang=lang,
        formats={
            "share": pct,
            "recency_days": fixed(0),
            "purchases": fixed(1),
            "net_amount_mean": lambda x: money(x, lang, short=False),
            "net_amount": lambda x: money(x, lang, short=False),
        },
        name="rfm",
    )


def quadrant_chart(quads: pd.DataFrame, lang: str = "zh") -> alt.LayerChart:
    """The four frequency x value quadrants as a 2 x 2 grid: buyers and their share
    (:func:`workbench.segment.summary.quadrant_summary`)."""
    g = quads.set_index("quadrant").reindex(list(QUADRANTS)).reset_index()
    g["persons"] = g["persons"].fillna(0).astype("int64")
    g["share"] = g["share"].fillna(0.0)
    g["frequency"] = [label("high" if q.startswith("hf") else "low", lang) for q in g["quadrant"]]
    g["value"] = [label("high" if q.endswith("hv") else "low", lang) for q in g["quadrant"]]
    g["name"] = g["quadrant"].map(lambda q: label(q, lang))
    g["text"] = [
        f"{count(p, lang)} · {pct(s)}" for p, s in zip(g["persons"], g["share"], strict=True)
    ]
    hi_lo = [label("high", lang), label("low", lang)]
    base = alt.Chart(g, title=title("quadrant_title", lang)).encode(
        x=alt.X(
            "frequency:N",
            sort=hi_lo[::-1],
            title=label("frequency", lang),
            axis=alt.Axis(labelAngle=0),
        ),
        y=alt.Y("value:N", sort=hi_lo, title=label("aov", lang)),
        tooltip=[
            tip("name:N", "quadrant", lang),
            tip("persons:Q", "persons", lang, ","),
            alt.Tooltip("aov:Q", title=with_unit(label("aov", lang)), format=",.0f"),
        ],
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues"), legend=None)
    )
    names = base.mark_text(dy=-8, fontSize=12, fontWeight="bold").encode(text="name:N")
    figures = base.mark_text(dy=10, fontSize=12).encode(text="text:N")
    return (cells + names + figures).properties(width=360, height=200)


def sensitivity_table(sens: pd.DataFrame, lang: str = "zh") -> Table:
    """Promotion-sensitivity classes (:func:`workbench.segment.summary.sensitivity_summary`)."""
    order = {c: i for i, c in enumerate(SENSITIVITY)}
    g = sens.sort_values("promo_sensitivity", key=lambda s: s.map(order)).copy()
    g["promo_sensitivity"] = g["promo_sensitivity"].map(lambda t: label(t, lang))
    g = g[["promo_sensitivity", "persons", "share", "promo_share", "discount_depth", "net_amount"]]
    return table(
        g,
        lang=lang,
        formats={
            "share": pct,
            "promo_share": pct,
            "discount_depth": pct,
            "net_amount": lambda x: money(x, lang, short=False),
        },
        name="promotion_sensitivity",
    )


def migration_chart(moved: Migration, lang: str = "zh") -> alt.LayerChart:
    """Transition matrix between two snapshots: each cell's persons, coloured by its share
    of the row (:func:`workbench.segment.migration`)."""
    before, after = moved.before.as_of.isoformat(), moved.now.as_of.isoformat()
    g = moved.moves.copy()
    g["from_name"] = g["from"].map(
        lambda t: label(t, lang) if isinstance(t, str) else label("new_to_pool", lang)
    )
    g["to_name"] = g["to"].map(lambda t: label(t, lang))
    order = [label(t, lang) for t in LEVEL2_ORDER]
    base = alt.Chart(
        g,
        title=alt.TitleParams(
            label("migration_title", lang).format(before=before, after=after), anchor="start"
        ),
    ).encode(
        x=alt.X("to_name:N", sort=order, title=label("to", lang), axis=alt.Axis(labelAngle=-40)),
        y=alt.Y(
            "from_name:N", sort=[*order, label("new_to_pool", lang)], title=label("from", lang)
        ),
        tooltip=[
            tip("from_name:N", "from", lang),
            tip("to_name:N", "to", lang),
            tip("persons:Q", "persons", lang, ","),
            tip("row_share:Q", "row_share", lang, ".1%"),
        ],
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "row_share:Q",
            scale=alt.Scale(scheme="blues"),
            title=label("row_share", lang),
            legend=alt.Legend(
                format=".0%", orient="bottom", gradientLength=220, labelOverlap="greedy"
            ),
        )
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("persons:Q", format=","),
        color=alt.condition("datum.row_share > 0.5", alt.value("white"), alt.value("#222")),
    )
    return (cells + text).properties(width=alt.Step(44), height=alt.Step(24))


def alerts_table(alerts: pd.DataFrame, lang: str = "zh") -> Table | Note:
    """Worsening transitions that grew against the period before
    (:func:`workbench.segment.alerts`)."""
    if alerts.empty:
        return Note(label("no_alerts", lang))
    g = alerts.copy()
    g["from"] = g["from"].map(lambda t: label(t, lang))
    g["to"] = g["to"].map(lambda t: label(t, lang))
    g = g[["from", "to", "persons", "row_share", "persons_before", "row_share_before", "change"]]
    return table(
        g,
        lang=lang,
        formats={
            "row_share": pct,
            "row_share_before": pct,
            "change": lambda x: label("percentage_points", lang).format(x=x * 100),
        },
        name="migration_alerts",
    )


ABSENT_NOTES: dict[str, str] = {
    "other_brands": "no_competitor_data",
    "members": "absent_members",
    "promotions": "absent_promotions",
    "products": "absent_products",
}


def data_notes(s: Snapshot, lang: str = "zh") -> Stack | None:
    """One line for each part of a brand's data the snapshot lacks (CDNOW has no members,
    campaigns, coupons or other brands), saying what the report cannot show."""
    notes = [Note(label(ABSENT_NOTES[part], lang), warning=True) for part in s.purchases.absent]
    return Stack(notes) if notes else None


def propensity_table(s: Snapshot, lang: str = "zh") -> Stack | Note:
    """AUC and top-decile lift of a snapshot's 7-day model beside the recency baseline, with
    the weeks it was trained and tested on; a note when it has none."""
    model = s.propensity
    if model is None:
        return Note(label("propensity_missing", lang), warning=True)
    g = model.quality()
    g["model"] = g["model"].map(lambda m: label(m, lang))
    caption = label("propensity_note", lang).format(
        weeks=len(model.train_cutoffs),
        train=f"{model.train_cutoffs[0]} – {model.train_cutoffs[-1]}",
        test=model.test_cutoff,
        rows=model.test_rows,
        rate=pct(model.base_rate),
    )
    formats = {"auc": fixed(3), "top_decile_lift": fixed(1)}
    return Stack([Note(caption), table(g, lang=lang, formats=formats, name="propensity")])


def calibration_chart(s: Snapshot, lang: str = "zh") -> alt.LayerChart | None:
    """Mean predicted probability against the observed purchase rate per decile of the
    test week, with the diagonal a calibrated model follows (nothing without a model)."""
    if s.propensity is None:
        return None
    g = s.propensity.calibration.copy()
    top = float(max(g["predicted"].max(), g["observed"].max(), 0.01))
    tooltip = [
        tip("decile:O", "decile", lang),
        tip("predicted:Q", "predicted", lang, ".2%"),
        tip("observed:Q", "observed", lang, ".2%"),
        tip("persons:Q", "persons", lang, ","),
    ]
    scale = alt.Scale(domain=[0, top])
    points = (
        alt.Chart(g, title=title("calibration_title", lang))
        .mark_line(point=True, color=PALETTE[0])
        .encode(
            x=alt.X(
                "predicted:Q",
                title=label("predicted", lang),
                scale=scale,
                axis=alt.Axis(format="%"),
            ),
            y=alt.Y(
                "observed:Q", title=label("observed", lang), scale=scale, axis=alt.Axis(format="%")
            ),
            tooltip=tooltip,
        )
        .properties(width=320, height=320)
    )
    diagonal = (
        alt.Chart(pd.DataFrame({"x": [0.0, top], "y": [0.0, top]}))
        .mark_line(color="#999", strokeDash=[4, 4])
        .encode(x="x:Q", y="y:Q")
    )
    return diagonal + points


def cluster_table(s: Snapshot, lang: str = "zh") -> Table | Note:
    """Each cluster of a snapshot's buyers: size, feature means and what sets it apart;
    a note when it has none."""
    clusters = s.clusters
    if clusters is None:
        return Note(label("clusters_missing", lang), warning=True)
    g = clusters.profile.copy()
    sep = "、" if lang == "zh" else ", "
    g["traits"] = [
        sep.join(label(f"trait_{f}_{d}", lang) for f, d in t) or label("trait_none", lang)
        for t in g["traits"]
    ]
    g["cluster"] = g["cluster"] + 1
    g = g[
        [
            "cluster",
            "traits",
            "persons",
            "share",
            "recency_days",
            "purchases",
            "net_amount",
            "aov",
            "promo_share",
            "discount_depth",
        ]
    ]
    scores = ", ".join(f"k={k}: {v:.2f}" for k, v in sorted(clusters.silhouettes.items()))
    return table(
        g,
        caption=label("cluster_note", lang).format(k=clusters.k, scores=scores),
        lang=lang,
        formats={
            "share": pct,
            "recency_days": fixed(0),
            "purchases": fixed(1),
            "net_amount": lambda x: money(x, lang, short=False),
            "aov": lambda x: money(x, lang, short=False),
            "promo_share": pct,
            "discount_depth": pct,
        },
        name="clusters",
    )


def audience_table(profile: AudienceProfile, lang: str = "zh") -> Stack:
    """An audience's size and filter, and its persons per level-1 tier
    (:func:`workbench.segment.audience`)."""
    found = profile.found
    g = profile.tiers.copy()
    order = {t: i for i, t in enumerate(LEVEL1_ORDER)}
    g = g.sort_values("tier_l1", key=lambda c: c.map(order))
    g["tier_l1"] = g["tier_l1"].map(lambda t: label(t, lang))
    size = found.size
    note = Note(label("audience_note", lang).format(name=found.name, size=size))
    if size == 0:
        return Stack(
            [note, Code(condition_lines(found.where)), Note(label("audience_empty", lang))]
        )
    shown = table(
        g[["tier_l1", "persons", "share", "net_amount"]],
        lang=lang,
        formats={"share": pct, "net_amount": lambda x: money(x, lang, short=False)},
        name=f"audience_{found.name}",
    )
    return Stack([note, Code(condition_lines(found.where)), shown])


def condition_lines(where: str) -> str:
    """A filter with each top-level ``AND``/``OR`` starting a line (quoted text untouched).

    Example:
        >>> print(condition_lines("city = 'a AND b' AND visits_90d >= 3"))
        city = 'a AND b'
        AND visits_90d >= 3
    """
    out: list[str] = []
    quoted = False
    depth = 0
    i = 0
    while i < len(where):
        ch = where[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "()":
            depth += 1 if ch == "(" else -1
        elif not quoted and depth == 0 and ch == " ":
            for word in (" AND ", " OR "):
                if where[i : i + len(word)].upper() == word:
                    out.append("\n" + where[i + 1 : i + len(word)])
                    i += len(word)
                    break
            else:
                out.append(ch)
                i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def settings_table(s: Snapshot, lang: str = "zh") -> Table:
    """Every segment setting the snapshot was made with, by its label: the choices
    behind every figure of the report (RC method, bounds, references)."""
    return common.settings_table(
        s.settings,
        lang,
        "settings",
        worded={"rc_method": "", "rfm_reference": "setting_", "rfm_basis": "setting_"},
        shown={"brand": s.settings.brand or s.purchases.brand},
    )


def stored(n: int, s: Snapshot, lang: str = "zh") -> Note:
    """Says where the snapshot went (:func:`workbench.segment.write`) and how many rows."""
    return Note(label("stored_note", lang).format(as_of=s.as_of.isoformat(), n=n))


def rc_check_table(checks: SegmentChecks | None, lang: str = "zh") -> Stack | Note:
    """The RC found per category against the planted RC, with the two measured causes
    of their distance (:func:`workbench.evaluation.segment_checks`); on real data, a note."""
    if checks is None:
        return Note(label("no_truth", lang))
    g = checks.rc.copy()
    g["rc_inductive_ci"] = _intervals(g)
    g = g[
        [
            "category",
            "rc_planted",
            "rc_inductive",
            "rc_inductive_ci",
            "inductive_error",
            "rc_inductive_true",
            "rc_no_gifts",
            "rc_planted_repeaters",
            "rc_planted_buyers",
        ]
    ]
    one = fixed(1)
    days = ("rc_planted", "rc_inductive", "rc_inductive_true", "rc_no_gifts")
    formats: dict[str, Any] = {c: one for c in (*days, "rc_planted_repeaters", "rc_planted_buyers")}
    formats["inductive_error"] = lambda x: f"{x * 100:+.1f}%"
    # The explanation is a note above the table: a caption does not wrap on a phone.
    shown = table(g, lang=lang, formats=formats, name="rc_check")
    return Stack([Note(label("rc_check_note", lang)), shown])


def sensitivity_check(checks: SegmentChecks | None, lang: str = "zh") -> Stack | None:
    """Promotion sensitivity found against the planted class, with kappa; nothing on real
    data (the RC check above already says there is no truth)."""
    if checks is None:
        return None
    s = checks.sensitivity
    g = s.matrix.copy()
    g.index = [label(str(c), lang) for c in g.index]
    g.columns = [label(str(c), lang) for c in g.columns]
    g = g.reset_index(names=label("planted", lang))
    caption = label("sensitivity_check_note", lang).format(
        n=s.classified,
        agreement=pct(s.agreement),
        chance=pct(s.chance),
        kappa=s.kappa,
        weighted=s.weighted_kappa,
    )
    return Stack([Note(caption), table(g, lang=lang, name="sensitivity_check")])
