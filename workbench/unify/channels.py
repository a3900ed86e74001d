"""Persons per channel, how channels overlap, and which channels bring new customers.

Everything here works on resolved persons (``accounts`` at a linking threshold,
see :func:`workbench.unify.identity.accounts_at`) and on orders up to an as-of
date. The heavy lifting is Ibis on the warehouse; only per-channel or
per-combination results come back as pandas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import altair as alt
import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.report.labels import label, relabel
from workbench.report.theme import table
from workbench.unify.identity import accounts_at

CHANNELS: tuple[str, ...] = ("tmall", "jd", "pdd", "youzan", "douyin", "pos")


def _orders_until(con: Any, as_of: str | None) -> ir.Table:
    orders = con.table("orders")
    if as_of:
        end = ibis.date(pd.Timestamp(as_of).date()) + ibis.interval(days=1)
        orders = orders.filter(orders.ordered_at < end.cast("timestamp"))
    return orders


def person_channels(con: Any, threshold: float | None = None, as_of: str | None = None) -> ir.Table:
    """One row per person and channel they bought on: first order, orders, net amount.

    Orders without an account (store walk-ins) belong to no person and are left out.
    """
    accounts = accounts_at(con, threshold)
    orders = _orders_until(con, as_of)
    j = orders.join(accounts, orders.account_key == accounts.account_key).select(
        person_id=accounts.person_id,
        platform=orders.platform,
        ordered_at=orders.ordered_at,
        net_amount=orders.net_amount,
    )
    return j.group_by(["person_id", "platform"]).agg(
        first_day=j.ordered_at.min().date(),
        orders=j.count(),
        net_amount=j.net_amount.sum(),
    )


def new_to_brand(pc: ir.Table) -> ir.Table:
    """Per channel: buyers, and those new to the brand when they first bought there.

    A buyer is new to the brand on a channel when their first order there falls on
    the day of their first order anywhere (an order placed the same day on two
    channels makes the buyer new on both).
    """
    first_any = pc.group_by("person_id").agg(first_any=pc.first_day.min())
    j = pc.join(first_any, "person_id")
    return j.group_by("platform").agg(
        buyers=j.count(),
        new_to_brand=(j.first_day <= j.first_any).sum(),
        orders=j.orders.sum(),
        net_amount=j.net_amount.sum(),
    )


def planted_new_share(truth_dir: str | Path | None) -> float | None:
    """The Douyin new-to-brand share planted by the synthetic generator, if truth is there."""
    if not truth_dir:
        return None
    path = Path(truth_dir) / "summary.json"
    if not path.is_file():
        return None
    value = json.loads(path.read_text()).get("douyin_new_share")
    return float(value) if value is not None else None


def channel_table(
    con: Any, threshold: float | None = None, as_of: str | None = None, lang: str = "zh"
) -> Any:
    """Persons per channel: buyers, orders, net sales, and the share who also buy elsewhere."""
    pc = person_channels(con, threshold, as_of)
    elsewhere = pc.group_by("person_id").agg(n_channels=pc.count())
    j = pc.join(elsewhere, "person_id")
    g = (
        j.group_by("platform")
        .agg(
            buyers=j.count(),
            orders=j.orders.sum(),
            net_amount=j.net_amount.sum(),
            also_elsewhere=(j.n_channels > 1).sum(),
        )
        .to_pandas()
    )
    g["also_elsewhere_share"] = g["also_elsewhere"] / g["buyers"]
    g = g.sort_values("buyers", ascending=False)
    g = g[["platform", "buyers", "orders", "net_amount", "also_elsewhere_share"]]
    formats = {label("also_elsewhere_share", lang): "{:.1%}"}
    formats.update({label(c, lang): "{:,.0f}" for c in ("buyers", "orders", "net_amount")})
    return table(relabel(g, lang, values=["platform"]), formats=formats)


def incrementality_table(
    con: Any,
    threshold: float | None = None,
    as_of: str | None = None,
    lang: str = "zh",
    truth_dir: str | Path | None = None,
) -> Any:
    """Per channel, the share of its buyers who were new to the brand when they first
    bought there: how much the channel adds rather than moves. When synthetic truth
    is present, the planted Douyin share is shown beside it."""
    g = new_to_brand(person_channels(con, threshold, as_of)).to_pandas()
    g["new_share"] = g["new_to_brand"] / g["buyers"]
    g = g.sort_values("new_share", ascending=False)[
        ["platform", "buyers", "new_to_brand", "new_share"]
    ]
    planted = planted_new_share(truth_dir)
    if planted is not None:
        g["planted_new_share"] = g["platform"].map({"douyin": planted})
    formats = {label(c, lang): "{:.1%}" for c in ("new_share", "planted_new_share")}
    formats.update({label(c, lang): "{:,.0f}" for c in ("buyers", "new_to_brand")})
    return table(relabel(g, lang, values=["platform"]), formats=formats)


def combinations(
    con: Any, threshold: float | None = None, as_of: str | None = None
) -> pd.DataFrame:
    """Buyers per combination of channels (``channels`` joined by ``+`` in a fixed order)."""
    pc = person_channels(con, threshold, as_of)
    order = ibis.cases(*((pc.platform == c, i) for i, c in enumerate(CHANNELS)), else_=99)
    m = pc.mutate(rank=order)
    per = m.group_by("person_id").agg(channels=m.platform.group_concat("+", order_by=m.rank))
    g = per.group_by("channels").agg(persons=per.count()).to_pandas()
    return g.sort_values("persons", ascending=False, ignore_index=True)


def overlap_chart(
    con: Any,
    threshold: float | None = None,
    as_of: str | None = None,
    lang: str = "zh",
    top: int = 15,
) -> alt.VConcatChart:
    """UpSet-style chart: buyers per exact combination of channels, largest first.

    The bars count persons who bought on exactly the channels marked by dark dots
    below them; the ``top`` largest combinations are shown.
    """
    combos = combinations(con, threshold, as_of).head(top).copy()
    combos["combo"] = range(1, len(combos) + 1)
    combos["channels_label"] = combos["channels"].map(
        lambda s: " + ".join(label(c, lang) for c in s.split("+"))
    )
    present = [c for c in CHANNELS if combos["channels"].str.contains(c).any()]
    matrix = pd.DataFrame(
        [
            {
                "combo": r.combo,
                "platform": label(c, lang),
                "member": c in r.channels.split("+"),
            }
            for r in combos.itertuples()
            for c in present
        ]
    )
    x = alt.X("combo:O", axis=None)
    bars = (
        alt.Chart(combos)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("persons:Q", title=label("persons", lang)),
            tooltip=[
                alt.Tooltip("channels_label:N", title=label("channels", lang)),
                alt.Tooltip("persons:Q", format=","),
            ],
        )
        .properties(height=220, width=alt.Step(28))
    )
    text = bars.mark_text(dy=-6, fontSize=10).encode(text=alt.Text("persons:Q", format=","))
    dots = (
        alt.Chart(matrix)
        .mark_circle(size=120)
        .encode(
            x=x,
            y=alt.Y(
                "platform:N",
                title=None,
                sort=[label(c, lang) for c in present],
            ),
            color=alt.Color(
                "member:N",
                scale=alt.Scale(domain=[True, False], range=["#333333", "#dddddd"]),
                legend=None,
            ),
        )
        .properties(width=alt.Step(28))
    )
    return alt.vconcat(bars + text, dots, spacing=4)


def orders_per_day_chart(con: Any, as_of: str | None = None, lang: str = "zh") -> alt.Chart:
    """Orders per day per platform: gaps, spikes and launches show at a glance."""
    orders = _orders_until(con, as_of)
    g = (
        orders.group_by([orders.platform, orders.ordered_at.date().name("day")])
        .agg(orders=orders.count())
        .to_pandas()
    )
    # A few thousand points (days x platforms): inlined as plain values, three fields each.
    values = [
        {"p": label(p, lang), "d": pd.Timestamp(d).strftime("%Y-%m-%d"), "n": int(n)}
        for p, d, n in zip(g["platform"], g["day"], g["orders"], strict=True)
    ]
    return (
        alt.Chart(alt.Data(values=values))
        .mark_line(strokeWidth=1)
        .encode(
            x=alt.X("d:T", title=label("day", lang), axis=alt.Axis(format="%Y-%m")),
            y=alt.Y("n:Q", title=label("orders", lang)),
            color=alt.Color("p:N", title=label("platform", lang)),
            tooltip=[
                alt.Tooltip("p:N", title=label("platform", lang)),
                alt.Tooltip("d:T", title=label("day", lang)),
                alt.Tooltip("n:Q", title=label("orders", lang), format=","),
            ],
        )
        .properties(height=260, width=760)
    )
