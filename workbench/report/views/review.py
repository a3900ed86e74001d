"""What the 04_review report shows: a review of :func:`workbench.review.run`, labelled,
formatted and drawn in the report's language. Each function takes one job result and
the language."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import altair as alt
import pandas as pd

from workbench.report.format import cents, count, money, pct
from workbench.report.labels import label
from workbench.report.theme import PALETTE, Table, table
from workbench.report.views import common
from workbench.report.views.common import (
    DataText,
    Note,
    Part,
    Stack,
    Strip,
    number_axis,
    tip,
    title,
)
from workbench.report.views.plan import SEGMENT_ORDER, cells_named, cells_ordered, notice_values
from workbench.review.experiment import ALL
from workbench.review.job import Review


def _arm(a: Any, lang: str) -> str:
    return label(str(a), lang)


def _arm_data(a: Any, lang: str) -> DataText:
    """An arm's name as the data gives it, marked as data (a CRM's benefit names)."""
    return DataText(_arm(a, lang))


def _band(low: float, high: float, fmt: Any) -> str:
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "–"
    return f"[{fmt(low)}, {fmt(high)}]"


def settings_table(rv: Review, lang: str = "zh") -> Table:
    """Every review setting the review was made with, by its label; those a review of
    an experiment table does not use (it brings its own segments, covariate and
    shares) show a dash."""
    worded = {"correction": "correction_", "segment_scheme": "scheme_"}
    shown: dict[str, object] = {}
    if rv.source == "table":
        unused = ("segment_scheme", "pre_days", "design_holdout")
        worded.pop("segment_scheme")
        shown = dict.fromkeys(unused, "")
    return common.settings_table(rv.settings, lang, "review_settings", worded, shown)


def headline(rv: Review, lang: str = "zh") -> Stack:
    """The split's check first, then each arm's incremental GMV and ROI with intervals."""
    srm = rv.ratio
    verdict = label("srm_broken" if srm.broken else "srm_ok", lang).format(
        chi2=f"{srm.statistic:.2f}", df=srm.df, p=f"{srm.p_value:.3g}"
    )
    parts: list[Any] = [Note(verdict, warning=srm.broken)]
    items: list[tuple[Part, Part, str]] = []
    level = pct(rv.settings.confidence, 0)
    if rv.roi is not None and not rv.roi.empty:
        for r in rv.roi[rv.roi["segment"].astype(str) == ALL].itertuples():
            if r.status != "ok":
                items.append(
                    (
                        _arm(r.arm, lang),
                        label("too_small_to_test", lang),
                        label(f"status_{r.status}", lang),
                    )
                )
                continue
            items.append(
                (
                    (_arm_data(r.arm, lang), f" · {label('incremental_gmv', lang)}"),
                    money(r.incremental_gmv, lang),
                    f"{level} {_band(r.incremental_gmv_low, r.incremental_gmv_high, lambda x: money(x, lang))}",
                )
            )
            if r.cost and r.cost > 0:
                items.append(
                    (
                        (_arm_data(r.arm, lang), " · ROI"),
                        f"{r.roi:.2f}",
                        f"{level} {_band(r.roi_low, r.roi_high, lambda x: f'{x:.2f}')}",
                    )
                )
    for outcome in rv.outcomes:
        w = rv.winner(outcome)
        name = label("lift_of", lang).format(outcome=label(f"outcome_{outcome}", lang))
        if w.arm is None:
            items.append((name, label("no_winner", lang), ""))
        else:
            fmt = _lift_format(rv, outcome, lang)
            items.append(
                (
                    name,
                    (_arm_data(w.arm, lang), f" +{fmt(w.lift)}"),
                    f"{level} {_band(w.lift_low, w.lift_high, fmt)}",
                )
            )
    parts.append(Strip(items))
    return Stack(parts)


def _p(p: float) -> str:
    """A p-value as reports give one: three decimals, or below 0.001."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _lift_format(rv: Review, outcome: str, lang: str) -> Callable[[float], str]:
    """How a lift in ``outcome`` is written: a rate's in percentage points, revenue per
    head to the cent in the report's currency, any other mean to two decimals."""
    if _is_rate(rv, outcome):
        return lambda x: pct(x, 2)
    if outcome == rv.revenue:
        return lambda x: cents(x, lang)
    return lambda x: f"{x:,.2f}"


def _is_rate(rv: Review, outcome: str) -> bool:
    rows = rv.lifts[rv.lifts["outcome"] == outcome]
    return bool(len(rows)) and str(rows["kind"].iat[0]) == "rate"


def data_notes(rv: Review, lang: str = "zh") -> Stack | None:
    """What the review cannot show, one line each, in the report's language."""
    if not rv.notes:
        return None
    return Stack(
        [
            Note(label(f"notice_{n.key}", lang).format(**notice_values(n.values, lang)))
            for n in rv.notes
        ]
    )


def actual_table(rv: Review, lang: str = "zh") -> Stack | Note:
    """Estimate vs target vs actual per cell, with the difference split into population,
    rate and order-value effects (they add up to it)."""
    if rv.vs_actual is None or rv.totals is None:
        return Note(label("review_no_plan", lang))
    t = rv.totals
    level = pct(json.loads(str(rv.plan.record["parameters"]))["confidence"], 0) if rv.plan else ""
    strip = Strip(
        [
            (label("target", lang), money(t["target"], lang), ""),
            (
                label("plan_baseline", lang),
                money(t["estimate"], lang),
                label("plan_interval_note", lang).format(
                    level=level,
                    low=money(t["estimate_low"], lang),
                    high=money(t["estimate_high"], lang),
                ),
            ),
            (label("plan_planned", lang), money(t["planned"], lang), ""),
            (label("plan_actual", lang), money(t["actual"], lang), ""),
            (label("effect_population", lang), money(t["population_effect"], lang), ""),
            (label("effect_rate", lang), money(t["rate_effect"], lang), ""),
            (label("effect_aov", lang), money(t["aov_effect"], lang), ""),
        ]
    )
    v = cells_named(cells_ordered(rv.vs_actual), lang)
    cols = {
        "segment": "plan_segment",
        "member_tier": "member_tier",
        "est_population": "plan_population",
        "est_rate": "plan_rate",
        "act_rate": "plan_actual_rate",
        "est_aov": "plan_aov",
        "act_aov": "review_actual_aov",
        "est_gmv": "plan_gmv",
        "planned_gmv": "plan_gmv_planned",
        "act_gmv": "plan_actual",
        "population_effect": "effect_population",
        "rate_effect": "effect_rate",
        "aov_effect": "effect_aov",
    }
    g = v[list(cols)].rename(columns=cols)
    g["plan_population"] = g["plan_population"].astype("Int64")
    m = lambda x: money(x, lang, short=False)  # noqa: E731
    return Stack(
        [
            strip,
            table(
                g,
                lang=lang,
                formats={
                    "plan_rate": pct,
                    "plan_actual_rate": pct,
                    "plan_aov": m,
                    "review_actual_aov": m,
                    "plan_gmv": m,
                    "plan_gmv_planned": m,
                    "plan_actual": m,
                    "effect_population": m,
                    "effect_rate": m,
                    "effect_aov": m,
                },
                name="estimate_vs_actual",
            ),
        ]
    )


def reach_table(rv: Review, lang: str = "zh") -> Table | Note:
    """Per channel and arm: sent, delivered, clicked, visited, bought; click and conversion
    rates; the share of new customers among the buyers."""
    if rv.reach is None or rv.reach.empty:
        return Note(label("review_no_reach", lang))
    r = rv.reach.copy()
    r["arm"] = r["arm"].map(lambda a: _arm(a, lang))
    cols = {
        "channel": "review_channel",
        "arm": "plan_arm",
        "sent": "review_sent",
        "delivered": "review_delivered",
        "clicked": "review_clicked",
        "visited": "review_visited",
        "bought": "review_bought",
        "click_rate": "review_click_rate",
        "conversion_rate": "review_conversion_rate",
        "new_share": "review_new_share",
    }
    return table(
        r[list(cols)].rename(columns=cols),
        lang=lang,
        formats={"review_click_rate": pct, "review_conversion_rate": pct, "review_new_share": pct},
        name="reach",
    )


def funnel_chart(rv: Review, lang: str = "zh") -> alt.LayerChart | None:
    """The funnel of all channels together: members at each step (nothing without
    touches: the reach table above says so)."""
    if rv.reach is None or rv.reach.empty:
        return None
    from workbench.review.reach import funnel

    f = funnel(rv.reach)
    f["step_name"] = f["step"].map(lambda s: label(f"review_{s}", lang))
    order = list(f["step_name"])
    bars = (
        alt.Chart(f)
        .mark_bar(color=PALETTE[0])
        .encode(
            y=alt.Y("step_name:N", sort=order, title=None),
            x=alt.X("members:Q", title=label("plan_persons", lang), axis=number_axis(lang)),
            tooltip=[
                tip("step_name:N", "plan_step", lang),
                tip("members:Q", "plan_persons", lang, ","),
                tip("share:Q", "review_share_of_sent", lang, ".1%"),
            ],
        )
    )
    text = bars.mark_text(align="left", dx=4).encode(text=alt.Text("share:Q", format=".1%"))
    layered = alt.LayerChart(layer=[bars, text])
    return layered.properties(width=480, height=180, title=title("review_funnel_title", lang))


def lift_table(rv: Review, lang: str = "zh", which: str = "lifts") -> Table:
    """Every arm against the control per outcome: the two groups' values, the lift and its
    interval, relative lift, corrected p-value and whether it is significant; an arm too
    small to test says so instead of an interval."""
    src = {"lifts": rv.lifts, "cuped": rv.cuped, "segments": rv.segments}[which]
    assert src is not None
    t = src.copy()
    if which == "segments":
        t["segment"] = t["segment"].astype(str)
        order = {s: i for i, s in enumerate(SEGMENT_ORDER)}
        t = t.assign(_o=t["segment"].map(order).fillna(99)).sort_values(["outcome", "_o", "arm"])
        t["segment"] = t["segment"].map(lambda s: label(s, lang))
    rows = []
    for r in t.itertuples():
        fmt = _lift_format(rv, str(r.outcome), lang)
        tested = r.status == "ok"
        row = {
            "review_outcome": label(f"outcome_{r.outcome}", lang),
            "plan_arm": _arm(r.arm, lang),
            "review_units": count(r.units_arm, lang),
            "review_control_units": count(r.units_control, lang),
            "review_control_value": fmt(r.value_control),
            "review_arm_value": fmt(r.value_arm),
            "review_lift": fmt(r.lift) if tested else "–",
            "review_interval": _band(r.lift_low, r.lift_high, fmt)
            if tested
            else label(f"status_{r.status}", lang),
            "review_rel_lift": pct(r.rel_lift) if tested else "–",
            "review_p_adjusted": _p(r.p_adjusted) if tested else "–",
            "review_significant": ("✓" if r.significant else "") + (" ⚠" if r.srm_broken else ""),
        }
        if which == "segments":
            row = {"plan_segment": r.segment, **row}
        if which == "cuped":
            row["review_variance_removed"] = pct(getattr(r, "variance_removed", float("nan")))
            row["review_width_ratio"] = f"{getattr(r, 'width_ratio', float('nan')):.2f}"
        rows.append(row)
    return table(pd.DataFrame(rows), lang=lang, name=f"review_{which}")


def roi_table(rv: Review, lang: str = "zh") -> Table | Note:
    """Incremental GMV, cost and ROI per arm, with intervals."""
    if rv.roi is None or rv.roi.empty:
        return Note(label("review_no_roi", lang))
    rows = []
    for r in rv.roi.itertuples():
        tested = r.status == "ok"
        m = lambda x: money(x, lang, short=False)  # noqa: E731
        rows.append(
            {
                "plan_arm": _arm(r.arm, lang),
                "review_units": count(r.units_arm, lang),
                "incremental_gmv": m(r.incremental_gmv)
                if tested
                else label("too_small_to_test", lang),
                "review_interval": _band(r.incremental_gmv_low, r.incremental_gmv_high, m)
                if tested
                else label(f"status_{r.status}", lang),
                "review_cost": m(r.cost),
                "ROI": f"{r.roi:.2f}" if tested and r.cost else "–",
                "review_roi_interval": _band(r.roi_low, r.roi_high, lambda x: f"{x:.2f}")
                if tested and r.cost
                else "–",
            }
        )
    return table(pd.DataFrame(rows), lang=lang, name="roi")


def coupon_table(rv: Review, lang: str = "zh") -> Stack | Note:
    """Coupons by type and face value, by store of use, and orders with vs without."""
    if rv.coupons is None:
        return Note(label("review_no_coupons", lang))
    c = rv.coupons.copy()
    cols = {
        "coupon_type": "review_coupon_type",
        "face_value": "review_face_value",
        "issued": "review_issued",
        "claimed": "review_claimed",
        "used": "review_used",
        "claim_rate": "review_claim_rate",
        "use_rate": "review_use_rate",
        "uses_per_claimer": "review_uses_per_claimer",
        "new_share": "review_new_share",
    }
    parts: list[Any] = [
        table(
            c[list(cols)].rename(columns=cols),
            lang=lang,
            formats={
                "review_face_value": lambda x: money(x, lang, short=False),
                "review_claim_rate": pct,
                "review_use_rate": pct,
                "review_uses_per_claimer": "{:.2f}",
                "review_new_share": pct,
            },
            name="coupons",
        )
    ]
    if rv.coupon_stores is not None and not rv.coupon_stores.empty:
        st = rv.coupon_stores.copy()
        st["store"] = st["store"].map(lambda x: label(str(x), lang))
        parts.append(
            table(
                st[["store", "face_value", "used", "share", "new_share"]].rename(
                    columns={
                        "store": "review_store",
                        "face_value": "review_face_value",
                        "used": "review_used",
                        "share": "review_share",
                        "new_share": "review_new_share",
                    }
                ),
                lang=lang,
                formats={
                    "review_face_value": lambda x: money(x, lang, short=False),
                    "review_share": pct,
                    "review_new_share": pct,
                },
                name="coupon_stores",
            )
        )
    if rv.coupon_orders is not None and not rv.coupon_orders.empty:
        o = rv.coupon_orders.copy()
        parts.append(
            table(
                o[
                    ["face_value", "orders", "order_value", "repurchase_rate", "value_per_yuan"]
                ].rename(
                    columns={
                        "face_value": "review_face_value",
                        "orders": "review_orders",
                        "order_value": "review_order_value",
                        "repurchase_rate": "review_repurchase_30d",
                        "value_per_yuan": "review_value_per_yuan",
                    }
                ),
                lang=lang,
                formats={
                    "review_face_value": lambda x: money(x, lang, short=False),
                    "review_order_value": lambda x: money(x, lang, short=False),
                    "review_repurchase_30d": pct,
                    "review_value_per_yuan": "{:.2f}",
                },
                name="coupon_orders",
            )
        )
    return Stack(parts)


def retention_table(rv: Review, lang: str = "zh") -> Table | Note:
    """Seven-day and next-month retention of the campaign's buyers against comparable
    non-buyers (a horizon past the last order shows a dash)."""
    if rv.retention is None:
        return Note(label("review_no_retention", lang))
    r = rv.retention.copy()
    r["group"] = r["group"].map(lambda g: label(f"review_{g}", lang))
    return table(
        r[["group", "persons", "rate_7d", "rate_30d"]].rename(
            columns={
                "group": "review_group",
                "persons": "plan_persons",
                "rate_7d": "review_rate_7d",
                "rate_30d": "review_rate_30d",
            }
        ),
        lang=lang,
        formats={"review_rate_7d": pct, "review_rate_30d": pct},
        name="retention",
    )


def lessons(rv: Review, lang: str = "zh") -> Table | Note:
    """For the next plan: per segment, the arm that lifted it most significantly (with its
    lift, interval and units), or that none did (:meth:`Review.lessons`)."""
    found = rv.lessons()
    if found is None:
        return Note(label("review_no_segments", lang))
    order = {o: i for i, o in enumerate(rv.outcomes)}
    found = found.assign(
        _o=found["outcome"].map(order),
        _s=[SEGMENT_ORDER.index(s) if s in SEGMENT_ORDER else 99 for s in found["segment"]],
    ).sort_values(["_o", "_s", "segment"], kind="stable")
    rows = []
    for w in found.itertuples():
        fmt = _lift_format(rv, w.outcome, lang)
        won = w.arm is not None and not pd.isna(w.arm)
        rows.append(
            {
                "plan_segment": label(w.segment, lang),
                "review_outcome": label(f"outcome_{w.outcome}", lang),
                "review_best_arm": _arm(w.arm, lang) if won else label("no_winner", lang),
                "review_lift": fmt(w.lift) if won else "–",
                "review_interval": _band(w.lift_low, w.lift_high, fmt) if won else "–",
                "review_units": count(w.units, lang),
            }
        )
    return table(pd.DataFrame(rows), lang=lang, name="lessons")


def saved(n: int, lang: str = "zh") -> Note:
    """Says how many rows of evidence the review stored (:func:`workbench.review.write`)."""
    return Note(label("review_saved", lang).format(n=n))
