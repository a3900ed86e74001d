"""What the 01_unify report shows: each function turns a job's table into a table or chart.

The job functions (``workbench.sources.inventory``, ``workbench.unify.quality``,
``channels``, ``resolution`` and ``workbench.evaluation``) compute; these only
label, format and draw, in the report's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd

from workbench.errors import WarehouseIncomplete
from workbench.report.format import count, fixed, money, pct, size
from workbench.report.labels import label, reason_label
from workbench.report.theme import PALETTE, Table, table
from workbench.report.views.common import Note, Strip, tip, title
from workbench.unify.channels import CHANNELS, NewToBrand

ORDER_PLATFORMS: tuple[str, ...] = CHANNELS
WIDTH = 520


def warehouse_notice(status: str, lang: str = "zh") -> Note | None:
    """One line at the top of the report when the warehouse is incomplete; nothing if whole.

    Parameters:
        status: from :func:`workbench.unify.warehouse_status`.

    Raises:
        WarehouseIncomplete: there are no persons to report on at all.
    """
    if status == "complete":
        return None
    line = label(f"warehouse_{status}", lang)
    if status in ("missing", "no_persons"):
        raise WarehouseIncomplete(line)
    return Note(line, warning=True)


def summary(
    figures: Mapping[str, Any], accuracy: pd.DataFrame | None = None, lang: str = "zh"
) -> Strip:
    """The headline strip: persons, orders, net sales, multi-channel share, rows rejected,
    and identity precision where truth exists.

    Parameters:
        figures: :func:`workbench.unify.quality.headline`.
        accuracy: :func:`workbench.evaluation.identity_accuracy`, or ``None`` on real data.
    """
    read, rejected = figures["rows_read"], figures["rows_rejected"]
    items = [
        (label("persons", lang), count(figures["persons"], lang, short=True), ""),
        (label("orders", lang), count(figures["orders"], lang, short=True), ""),
        (label("net_amount", lang), money(figures["net_amount"], lang), ""),
        (label("multi_channel_share", lang), pct(figures["multi_channel_share"]), ""),
        (
            label("rows_rejected", lang),
            count(rejected, lang, short=True),
            pct(rejected / read if read else None) + " / " + count(read, lang, short=True),
        ),
    ]
    if accuracy is not None:
        resolved = accuracy.set_index("resolution").loc["resolved"]
        items.append(
            (
                label("identity_precision", lang),
                pct(resolved["precision"]),
                f"{label('recall', lang)} {pct(resolved['recall'])}",
            )
        )
    return Strip(items)


# --- what arrived and what was loaded ------------------------------------------------------


def arrivals_table(files: pd.DataFrame, lang: str = "zh") -> Table:
    """Files received per platform and format: count, data rows, size, encodings.

    Parameters:
        files: the frame from :func:`workbench.sources.inventory`.
    """
    g = (
        files.groupby(["platform", "format"], as_index=False)
        .agg(
            files=("file", "count"),
            rows=("rows", "sum"),
            size_kb=("bytes", "sum"),
            encoding=("encoding", lambda e: ", ".join(sorted(set(e)))),
        )
        .sort_values(["platform", "format"])
    )
    return table(
        g,
        lang=lang,
        values=["platform", "format"],
        formats={"size_kb": size},
        name="arrivals",
    )


def arrivals_chart(files: pd.DataFrame, lang: str = "zh") -> alt.VConcatChart:
    """Data rows received per platform, stacked by export format: order exports on top,
    member, product and campaign data below on their own scale."""
    g = files.groupby(["platform", "format"], as_index=False)["rows"].sum()
    g["platform_name"] = g["platform"].map(lambda p: label(p, lang))
    g["format_name"] = g["format"].map(lambda f: label(f, lang))
    g["orders_side"] = g["platform"].isin(ORDER_PLATFORMS)

    def panel(frame: pd.DataFrame, key: str) -> alt.Chart:
        return (
            alt.Chart(frame, title=alt.TitleParams(label(key, lang), fontSize=12))
            .mark_bar()
            .encode(
                x=alt.X("rows:Q", title=label("rows", lang), axis=alt.Axis(format="~s")),
                y=alt.Y("platform_name:N", title=None, sort="-x"),
                color=alt.Color(
                    "format_name:N",
                    title=label("format", lang),
                    scale=alt.Scale(scheme="tableau20"),
                    legend=alt.Legend(orient="bottom", columns=3),
                ),
                tooltip=[
                    tip("platform_name:N", "platform", lang),
                    tip("format_name:N", "format", lang),
                    tip("rows:Q", "rows", lang, ","),
                ],
            )
            .properties(width=WIDTH, height=alt.Step(24))
        )

    return alt.vconcat(
        panel(g[g["orders_side"]], "order_data"),
        panel(g[~g["orders_side"]], "other_data"),
        title=title("rows_received", lang),
    ).resolve_scale(x="independent")


def loading_table(summary: pd.DataFrame, lang: str = "zh") -> Table:
    """Per platform and format: files, refused, rows read, loaded and rejected, values
    flagged, and the rejected share (:func:`workbench.unify.quality.loading_summary`)."""
    return table(
        summary,
        lang=lang,
        values=["platform", "format"],
        formats={"rejected_share": pct},
        name="loading",
    )


def rejection_table(rejections: pd.DataFrame, lang: str = "zh") -> Table:
    """Rejected rows by kind (excluded by rule, or could not be read), platform, reason
    and column, with an example file (:func:`workbench.unify.quality.rejection_summary`)."""
    g = rejections.copy()
    g["reason"] = g["reason"].map(lambda r: reason_label(r, lang))
    g = g[["kind", "platform", "reason", "column", "rows", "files", "example_file"]]
    return table(g, lang=lang, values=["kind", "platform"], name="rejections")


# --- channels ----------------------------------------------------------------------------


def channel_table(channels: pd.DataFrame, lang: str = "zh") -> Table:
    """Persons per channel: buyers, orders, net sales and the share who also buy elsewhere
    (:func:`workbench.unify.channels.channel_summary`)."""
    return table(
        channels,
        lang=lang,
        values=["platform"],
        formats={
            "also_elsewhere_share": pct,
            "net_amount": lambda x: money(x, lang, short=False),
        },
        name="channels",
    )


def overlap_chart(combos: pd.DataFrame, lang: str = "zh", top: int = 15) -> alt.VConcatChart:
    """UpSet-style chart: buyers per exact combination of channels, largest first.

    The bars count persons who bought on exactly the channels marked by dark dots
    below them (:func:`workbench.unify.channels.combinations`; the ``top`` largest).
    """
    combos = combos.head(top).copy()
    combos["combo"] = range(1, len(combos) + 1)
    combos["channels_name"] = combos["channels"].map(
        lambda s: " + ".join(label(c, lang) for c in s.split("+"))
    )
    present = [c for c in CHANNELS if combos["channels"].str.contains(c).any()]
    matrix = pd.DataFrame(
        [
            {
                "combo": r.combo,
                "platform_name": label(c, lang),
                "member": c in r.channels.split("+"),
                "channels_name": r.channels_name,
            }
            for r in combos.itertuples()
            for c in present
        ]
    )
    x = alt.X("combo:O", axis=None)
    tooltip = [
        tip("channels_name:N", "channels", lang),
        tip("persons:Q", "persons", lang, ","),
    ]
    bars = (
        alt.Chart(combos)
        .mark_bar()
        .encode(x=x, y=alt.Y("persons:Q", title=label("persons", lang)), tooltip=tooltip)
        .properties(height=220, width=alt.Step(30))
    )
    text = bars.mark_text(dy=-6, fontSize=10).encode(text=alt.Text("persons:Q", format=","))
    dots = (
        alt.Chart(matrix)
        .mark_circle(size=120)
        .encode(
            x=x,
            y=alt.Y("platform_name:N", title=None, sort=[label(c, lang) for c in present]),
            color=alt.Color(
                "member:N",
                scale=alt.Scale(domain=[True, False], range=["#333333", "#dddddd"]),
                legend=None,
            ),
            tooltip=[tip("channels_name:N", "channels", lang)],
        )
        .properties(width=alt.Step(30))
    )
    return alt.vconcat(bars + text, dots, spacing=4, title=title("overlap_title", lang))


def new_to_brand_table(
    found: NewToBrand, planted: Mapping[str, float] | None = None, lang: str = "zh"
) -> Table | Note:
    """Per channel, the share of persons entering it in the common window who were new to
    the brand (:func:`workbench.unify.channels.new_to_brand`); beside it, on synthetic
    data, the share the generator planted."""
    if found.shares.empty:
        return Note(label("new_window_short", lang).format(days=found.lookback_days))
    g = found.shares[["platform", "entrants", "new_to_brand", "new_share"]].copy()
    formats: dict[str, Any] = {"new_share": pct}
    if planted:
        g["planted_new_share"] = g["platform"].map(dict(planted))
        formats["planted_new_share"] = pct
    g = g.rename(columns={"entrants": "buyers"})
    caption = label("new_window_note", lang).format(
        start=found.start, end=found.end, days=found.lookback_days
    )
    return table(
        g, caption=caption, lang=lang, values=["platform"], formats=formats, name="new_to_brand"
    )


def orders_per_week_chart(weekly: pd.DataFrame, lang: str = "zh") -> alt.FacetChart:
    """Orders per week, one small panel per platform on its own scale
    (:func:`workbench.unify.channels.orders_per_week`): gaps, launches and peaks."""
    values = [
        {"p": label(p, lang), "w": pd.Timestamp(w).strftime("%Y-%m-%d"), "n": int(n)}
        for p, w, n in zip(weekly["platform"], weekly["week"], weekly["orders"], strict=True)
    ]
    order = [label(p, lang) for p in CHANNELS]
    base = alt.Chart(alt.Data(values=values)).encode(
        x=alt.X("w:T", title=None, axis=alt.Axis(format="%Y-%m", tickCount=8)),
        y=alt.Y("n:Q", title=None, axis=alt.Axis(format="~s", tickCount=3)),
        tooltip=[
            tip("p:N", "platform", lang),
            alt.Tooltip("w:T", title=label("week", lang), format="%Y-%m-%d"),
            tip("n:Q", "orders", lang, ","),
        ],
    )
    area = base.mark_area(line={"color": PALETTE[0]}, color=PALETTE[0], opacity=0.25)
    return (
        area.properties(width=WIDTH, height=56)
        .facet(
            row=alt.Row(
                "p:N",
                sort=order,
                title=None,
                header=alt.Header(
                    labelAngle=0, labelAnchor="start", labelOrient="top", labelFontSize=12
                ),
            ),
            spacing=6,
            title=title("orders_per_week", lang),
        )
        .resolve_scale(y="independent")
    )


# --- identity resolution -----------------------------------------------------------------


def identity_table(summary: pd.DataFrame, lang: str = "zh") -> Table:
    """Accounts per platform by how they were joined, and the persons they make
    (:func:`workbench.unify.resolution.identity_summary`)."""
    return table(summary, lang=lang, values=["platform"], name="identity")


def accounts_chart(sizes: pd.DataFrame, lang: str = "zh") -> alt.LayerChart:
    """Persons by the number of accounts they hold, with each bar's count written beside it
    (:func:`workbench.unify.resolution.accounts_per_person`; the last bar is 8 or more)."""
    g = sizes.copy()
    top = int(g["accounts"].max()) if len(g) else 0
    g["accounts_name"] = g["accounts"].map(lambda n: f"{n}+" if n >= 8 else str(n))
    order = [f"{n}+" if n >= 8 else str(n) for n in range(1, max(top, 1) + 1)]
    bars = (
        alt.Chart(g, title=title("persons_by_accounts", lang))
        .mark_bar()
        .encode(
            y=alt.Y("accounts_name:O", title=label("accounts_per_person", lang), sort=order),
            x=alt.X("persons:Q", title=label("persons", lang), axis=alt.Axis(format="~s")),
            tooltip=[
                tip("accounts_name:O", "accounts_per_person", lang),
                tip("persons:Q", "persons", lang, ","),
            ],
        )
        .properties(width=WIDTH - 80, height=alt.Step(22))
    )
    text = bars.mark_text(align="left", dx=3, fontSize=11).encode(
        text=alt.Text("persons:Q", format=",")
    )
    return bars + text


def blocking_table(rules: pd.DataFrame, lang: str = "zh") -> Table:
    """The rules that propose candidate pairs and train the model, in words
    (:func:`workbench.unify.resolution.blocking_rules`)."""
    joiner = label("rule_and", lang)
    g = pd.DataFrame(
        {
            "rule": [
                label("rule_same", lang).format(what=joiner.join(label(c, lang) for c in cols))
                for cols in rules["columns"]
            ],
            "purpose": [label(p, lang) for p in rules["purpose"]],
        }
    )
    return table(g, lang=lang, name="blocking")


def _level_name(comparison: str, level: str, lang: str) -> str:
    """A comparison level in words: "same", "at least 2 characters in common", "otherwise"."""
    if comparison == "prior":
        return label("prior", lang)
    if level.startswith("Exact match"):
        what = label("level_same", lang)
    elif level.startswith("Array intersection size >= "):
        n = level.rsplit(" ", 1)[-1]
        key = "level_shared_chars" if comparison == "name" else "level_shared_tokens"
        what = label(key, lang).format(n=n)
    elif level.startswith("All other"):
        what = label("level_other", lang)
    else:
        what = level
    sep = "：" if lang == "zh" else ": "
    return f"{label(comparison, lang)}{sep}{what}"


def link_weights_chart(weights: pd.DataFrame, lang: str = "zh") -> alt.LayerChart:
    """Match weight (log2 of m/u) of each comparison level: how much each piece of
    evidence moves the odds that two accounts are one person. The prior bar is where
    a pair starts before any evidence (:func:`workbench.unify.resolution.link_weights`)."""
    w = weights.copy()
    w["row"] = [_level_name(c, lv, lang) for c, lv in zip(w["comparison"], w["level"], strict=True)]
    w["m"] = w["m"].astype(float)
    w["u"] = w["u"].astype(float)
    bound = float(w["match_weight"].abs().max()) if len(w) else 1.0
    step = 5
    edge = step * (int(bound // step) + 1)
    bars = (
        alt.Chart(w, title=title("link_weights_title", lang))
        .mark_bar()
        .encode(
            x=alt.X(
                "match_weight:Q",
                title=label("match_weight", lang),
                scale=alt.Scale(domain=[-edge, edge], nice=False),
                axis=alt.Axis(values=list(range(-edge, edge + 1, step)), labelFlush=True),
            ),
            y=alt.Y("row:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)),
            color=alt.condition(
                "datum.match_weight > 0", alt.value(PALETTE[0]), alt.value("#c44e52")
            ),
            tooltip=[
                tip("row:N", "evidence", lang),
                tip("m:Q", "m", lang, ".4f"),
                tip("u:Q", "u", lang, ".2e"),
                tip("match_weight:Q", "match_weight", lang, "+.2f"),
            ],
        )
        .properties(width=WIDTH - 160, height=alt.Step(20))
    )
    zero = alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(color="#555").encode(x="x:Q")
    return bars + zero


def threshold_table(thresholds: pd.DataFrame, lang: str = "zh") -> Table:
    """Links kept, accounts joined only by a link, and persons at other thresholds
    (:func:`workbench.unify.resolution.threshold_summary`)."""
    return table(thresholds, lang=lang, formats={"threshold": fixed(2)}, name="thresholds")


def id_history_table(history: pd.DataFrame, lang: str = "zh") -> Table | Note:
    """Person ids at each identity resolution: persons, ids issued, merged and split
    (:func:`workbench.unify.resolution.id_history`)."""
    if history.empty:
        return Note(label("no_id_history", lang))
    shown = history.assign(resolved_at=history["resolved_at"].astype(str).str[:19])
    return table(shown, lang=lang, formats={"threshold": fixed(2)}, name="person_ids")


def accuracy_table(accuracy: pd.DataFrame | None, lang: str = "zh") -> Table | Note:
    """Pairwise precision and recall against the synthetic truth, beside the evidence
    ceiling (:func:`workbench.evaluation.identity_accuracy`); on real data, a note."""
    if accuracy is None:
        return Note(label("no_truth", lang))
    g = accuracy[
        [
            "resolution",
            "precision",
            "recall",
            "f1",
            "predicted_pairs",
            "true_pairs",
            "correct_pairs",
        ]
    ].copy()
    formats: dict[str, Any] = {c: lambda x: pct(x, 2) for c in ("precision", "recall", "f1")}
    formats.update({c: "{:,.0f}" for c in ("predicted_pairs", "true_pairs", "correct_pairs")})
    return table(g, lang=lang, values=["resolution"], formats=formats, name="accuracy")
