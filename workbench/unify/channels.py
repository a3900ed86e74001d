"""Persons per channel, how channels overlap, and which channels bring new customers.

Everything here works on resolved persons (``accounts`` at a linking threshold,
see :func:`workbench.unify.identity.accounts_at`) and on orders up to an as-of
date. The heavy lifting is Ibis on the warehouse; only per-channel, per-week or
per-combination results come back as pandas. Drawing them is the report's
job (``workbench.report.views.unify``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.engine import round_to
from workbench.unify.identity import accounts_at

CHANNELS: tuple[str, ...] = ("tmall", "jd", "pdd", "youzan", "douyin", "pos")


def orders_until(con: Any, as_of: str | dt.date | None) -> ir.Table:
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
    orders = orders_until(con, as_of)
    j = orders.join(accounts, orders.account_key == accounts.account_key).select(
        person_id=accounts.person_id,
        platform=orders.platform,
        ordered_at=orders.ordered_at,
        net_amount=orders.net_amount,
    )
    return j.group_by(["person_id", "platform"]).agg(
        first_day=j.ordered_at.min().date(),
        orders=j.count(),
        net_amount=round_to(j.net_amount.sum(), 2),
    )


def channel_summary(
    con: Any, threshold: float | None = None, as_of: str | None = None
) -> pd.DataFrame:
    """Per channel: buyers, orders, net sales, and the share of buyers who also buy elsewhere."""
    pc = person_channels(con, threshold, as_of)
    elsewhere = pc.group_by("person_id").agg(n_channels=pc.count())
    j = pc.join(elsewhere, "person_id")
    g = (
        j.group_by("platform")
        .agg(
            buyers=j.count(),
            orders=j.orders.sum(),
            net_amount=round_to(j.net_amount.sum(), 2),
            also_elsewhere=(j.n_channels > 1).sum(),
        )
        .to_pandas()
    )
    g["also_elsewhere_share"] = g["also_elsewhere"] / g["buyers"]
    g = g.sort_values(["buyers", "platform"], ascending=[False, True], ignore_index=True)
    return g[["platform", "buyers", "orders", "net_amount", "also_elsewhere_share"]]


@dataclass(frozen=True)
class NewToBrand:
    """New-to-brand shares per channel over a common window.

    Attributes:
        shares: per ``platform``: ``entrants`` (persons whose first order on the channel
            falls in the window), ``new_to_brand`` (those whose first order anywhere is
            that same day) and ``new_share``; empty when the history is too short.
        start, end: the window (ISO dates), after ``lookback_days`` of history.
        lookback_days: the history that only tells who is already a customer.
    """

    shares: pd.DataFrame
    start: str
    end: str
    lookback_days: int


def new_to_brand(
    con: Any,
    threshold: float | None = None,
    as_of: str | None = None,
    lookback_days: int = 365,
) -> NewToBrand:
    """Which channels bring customers new to the brand, compared over one window.

    Data begins on some first day, so anyone seen early looks new. The window
    therefore starts ``lookback_days`` after the first order in the warehouse and
    ends on ``as_of``: a person entering a channel in the window is new to the
    brand when they had bought nowhere before that day, judged on all the history
    including the look-back. A person buying on two channels on their first day
    is new on both.
    """
    pc = person_channels(con, threshold, as_of)
    first_any = pc.group_by("person_id").agg(first_any=pc.first_day.min())
    bounds = pc.aggregate(first=pc.first_day.min(), last=pc.first_day.max()).to_pandas()
    if bounds.empty or pd.isna(bounds["first"].iat[0]):
        empty = pd.DataFrame(columns=["platform", "entrants", "new_to_brand", "new_share"])
        return NewToBrand(empty, "", "", lookback_days)
    first = pd.Timestamp(bounds["first"].iat[0]).date()
    end = pd.Timestamp(as_of).date() if as_of else pd.Timestamp(bounds["last"].iat[0]).date()
    start = first + dt.timedelta(days=lookback_days)
    window = pc.filter((pc.first_day >= start) & (pc.first_day <= end)).join(first_any, "person_id")
    g = (
        window.group_by("platform")
        .agg(
            entrants=window.count(),
            new_to_brand=(window.first_day <= window.first_any).sum(),
        )
        .to_pandas()
    )
    g["new_share"] = g["new_to_brand"] / g["entrants"]
    g = g.sort_values(["new_share", "platform"], ascending=[False, True], ignore_index=True)
    return NewToBrand(g, start.isoformat(), end.isoformat(), lookback_days)


def combinations(
    con: Any, threshold: float | None = None, as_of: str | None = None
) -> pd.DataFrame:
    """Buyers per combination of channels (``channels`` joined by ``+`` in a fixed order)."""
    pc = person_channels(con, threshold, as_of)
    order = ibis.cases(*((pc.platform == c, i) for i, c in enumerate(CHANNELS)), else_=99)
    m = pc.mutate(rank=order)
    per = m.group_by("person_id").agg(channels=m.platform.group_concat("+", order_by=m.rank))
    g = per.group_by("channels").agg(persons=per.count()).to_pandas()
    return g.sort_values(["persons", "channels"], ascending=[False, True], ignore_index=True)


def orders_per_week(con: Any, as_of: str | None = None) -> pd.DataFrame:
    """Orders per platform and ISO week (weeks start on Monday), up to ``as_of``."""
    orders = orders_until(con, as_of)
    week = orders.ordered_at.date().truncate("W").name("week")
    g = orders.group_by([orders.platform, week]).agg(orders=orders.count()).to_pandas()
    g["week"] = pd.to_datetime(g["week"])
    return g.sort_values(["platform", "week"], ignore_index=True)
