"""Reach and funnel, coupons and retention of one campaign, aggregated in the engine.

Campaign tables name members (``member_id``); a member is the person of the CRM
account ``crm:<member_id>``. A member bought if their person made a purchase
(an order of positive net value of our brand) in the campaign's window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.engine import round_to
from workbench.plan import Edition
from workbench.plan.history import OUTSIDE, window_spend
from workbench.unify import last_order_day
from workbench.unify.identity import accounts_at

CONTROL = "control"


def member_persons(con: Any, link_threshold: float | None = None) -> ir.Table:
    """``member_id`` -> ``person_id`` through the CRM accounts."""
    acc = accounts_at(con, link_threshold)
    crm = acc.filter(acc.account_key.startswith("crm:"))
    return crm.select(member_id=crm.account_key.substr(4), person_id=crm.person_id)


def audience(con: Any, campaign_id: str, link_threshold: float | None = None) -> ir.Table:
    """The executed audience of a campaign as the CRM returns it, resolved to persons:
    ``member_id``, ``person_id``, ``arm`` (``control`` for the holdout, else the benefit)."""
    a = con.table("campaign_audience")
    a = a.filter(a.campaign_id == campaign_id)
    arm = ibis.cases((a.holdout, ibis.literal(CONTROL)), else_=a.benefit.fill_null("treatment"))
    a = a.select("member_id", arm=arm)
    return joined(a, member_persons(con, link_threshold), "member_id").select(
        "member_id", "person_id", "arm"
    )


def joined(left: ir.Table, right: ir.Table, key: str = "person_id") -> ir.Table:
    """``left`` with the columns of ``right`` joined on ``key`` (kept once, from ``left``)."""
    j = left.left_join(right, key)
    return j.select(*left.columns, *(c for c in right.columns if c != key))


def _buyers(con: Any, edition: Edition, link_threshold: float | None) -> ir.Table:
    return window_spend(con, edition.start, edition.end, link_threshold)


def _first_days(con: Any, link_threshold: float | None) -> ir.Table:
    orders = con.table("orders")
    orders = orders.filter(orders.net_amount > 0)
    acc = accounts_at(con, link_threshold)
    j = orders.join(acc, orders.account_key == acc.account_key)
    return j.group_by(acc.person_id).agg(first_day=j.ordered_at.min().date())


def reach(
    con: Any, campaign_id: str, edition: Edition, link_threshold: float | None = None
) -> pd.DataFrame:
    """Per channel and arm: members sent to, delivered, clicked, visited and bought; click
    and conversion rates; new and returning customers among the buyers.

    New buyers had no purchase before the window began.
    """
    t = con.table("touches")
    t = t.filter(t.campaign_id == campaign_id)
    per_member = t.group_by(["member_id", "channel"]).agg(
        delivered=t.delivered.any(),
        clicked=t.clicked_at.notnull().any(),
        visited=t.visited.any(),
    )
    aud = audience(con, campaign_id, link_threshold)
    j = per_member.join(aud, "member_id")
    buyers = _buyers(con, edition, link_threshold).select("person_id", bought=ibis.literal(True))
    first = _first_days(con, link_threshold)
    j = joined(joined(j, buyers), first)
    bought = j.bought.fill_null(False)
    new = bought & (j.first_day >= ibis.date(edition.start))
    out = (
        j.group_by(["channel", "arm"])
        .agg(
            sent=j.count(),
            delivered=j.delivered.sum(),
            clicked=j.clicked.sum(),
            visited=j.visited.sum(),
            bought=bought.sum(),
            new_buyers=new.sum(),
        )
        .order_by(["channel", "arm"])
        .to_pandas()
    )
    for c in ("sent", "delivered", "clicked", "visited", "bought", "new_buyers"):
        out[c] = out[c].astype("int64")
    out["click_rate"] = out["clicked"] / out["delivered"].where(out["delivered"] > 0)
    out["conversion_rate"] = out["bought"] / out["sent"].where(out["sent"] > 0)
    out["new_share"] = out["new_buyers"] / out["bought"].where(out["bought"] > 0)
    return out


def funnel(reached: pd.DataFrame) -> pd.DataFrame:
    """The funnel of all channels together: one row per step with members and the share of
    those sent to."""
    steps = ["sent", "delivered", "clicked", "visited", "bought"]
    totals = reached[steps].sum()
    return pd.DataFrame(
        {
            "step": steps,
            "members": [int(totals[s]) for s in steps],
            "share": [
                float(totals[s]) / float(totals["sent"]) if totals["sent"] else 0.0 for s in steps
            ],
        }
    )


def coupons(
    con: Any, campaign_id: str, edition: Edition, link_threshold: float | None = None
) -> pd.DataFrame:
    """Per coupon type and face value: issued, claimed, used; claim rate, use rate, uses per
    claimer, and the share of users who were new (no purchase before the window)."""
    c = _coupon_rows(con, campaign_id, edition, link_threshold)
    used = c.used_at.notnull()
    g = c.group_by(["coupon_type", "face_value"]).agg(
        issued=c.count(),
        claimed=c.claimed_at.notnull().sum(),
        claimers=c.member_id.nunique(where=c.claimed_at.notnull()),
        used=used.sum(),
        new_users=(used & c.new).sum(),
    )
    out = g.order_by(["coupon_type", "face_value"]).to_pandas()
    for col in ("issued", "claimed", "claimers", "used", "new_users"):
        out[col] = out[col].astype("int64")
    out["claim_rate"] = out["claimed"] / out["issued"].where(out["issued"] > 0)
    out["use_rate"] = out["used"] / out["claimed"].where(out["claimed"] > 0)
    out["uses_per_claimer"] = out["used"] / out["claimers"].where(out["claimers"] > 0)
    out["new_share"] = out["new_users"] / out["used"].where(out["used"] > 0)
    return out


def coupon_stores(
    con: Any, campaign_id: str, edition: Edition, link_threshold: float | None = None
) -> pd.DataFrame:
    """Per store (the platform a coupon was used on) and face value: coupons used, their
    share of all uses, and the share of users who were new."""
    c = _coupon_rows(con, campaign_id, edition, link_threshold)
    c = c.filter(c.used_at.notnull())
    g = c.group_by([c.used_platform.name("store"), "face_value"]).agg(
        used=c.count(), new_users=c.new.sum()
    )
    out = g.order_by(["store", "face_value"]).to_pandas()
    out["used"] = out["used"].astype("int64")
    out["new_users"] = out["new_users"].astype("int64")
    total = out["used"].sum()
    out["share"] = out["used"] / total if total else 0.0
    out["new_share"] = out["new_users"] / out["used"].where(out["used"] > 0)
    return out


def _coupon_rows(
    con: Any, campaign_id: str, edition: Edition, link_threshold: float | None
) -> ir.Table:
    c = con.table("coupons")
    c = c.filter(c.campaign_id == campaign_id)
    c = joined(c, member_persons(con, link_threshold), "member_id")
    c = joined(c, _first_days(con, link_threshold))
    return c.mutate(
        new=(c.first_day >= ibis.date(edition.start)).fill_null(True),
        face_value=c.face_value.cast("float64"),
    )


def coupon_orders(
    con: Any, campaign_id: str, edition: Edition, link_threshold: float | None = None
) -> pd.DataFrame:
    """Orders in the window with and without a coupon of the campaign: orders, order value,
    the buyers' repurchase within 30 days after the window, and per face value the
    order value gained per yuan of face value over orders without a coupon."""
    orders = con.table("orders")
    lo = ibis.date(edition.start).cast("timestamp")
    hi = (ibis.date(edition.end) + ibis.interval(days=1)).cast("timestamp")
    w = orders.filter(
        (orders.ordered_at >= lo) & (orders.ordered_at < hi) & (orders.net_amount > 0)
    )
    cp = con.table("coupons")
    cp = cp.filter((cp.campaign_id == campaign_id) & cp.used_order_key.notnull())
    cp = cp.group_by("used_order_key").agg(face_value=cp.face_value.max().cast("float64"))
    w = w.left_join(cp, [("order_key", "used_order_key")])
    acc = accounts_at(con, link_threshold)
    w = w.join(acc, w.account_key == acc.account_key)
    after_hi = (ibis.date(edition.end) + ibis.interval(days=31)).cast("timestamp")
    later = orders.filter(
        (orders.ordered_at >= hi) & (orders.ordered_at < after_hi) & (orders.net_amount > 0)
    )
    later = later.join(acc, later.account_key == acc.account_key)
    again = later.select(person_id=acc.person_id).distinct().mutate(again=ibis.literal(True))
    w = w.select(person_id=acc.person_id, net_amount=w.net_amount, face_value=w.face_value)
    w = joined(w, again)
    g = w.group_by(face_value=w.face_value.fill_null(0.0)).agg(
        orders=w.count(),
        order_value=round_to(w.net_amount.cast("float64").mean(), 4),
        buyers=w.person_id.nunique(),
        repurchasers=w.person_id.nunique(where=w.again.fill_null(False)),
    )
    out = g.order_by("face_value").to_pandas()
    out["orders"] = out["orders"].astype("int64")
    out["with_coupon"] = out["face_value"] > 0
    out["repurchase_rate"] = out["repurchasers"] / out["buyers"].where(out["buyers"] > 0)
    base = out.loc[~out["with_coupon"], "order_value"]
    base_value = float(base.iat[0]) if len(base) else float("nan")
    out["value_per_yuan"] = (out["order_value"] - base_value) / out["face_value"].where(
        out["with_coupon"]
    )
    return out


def retention(con: Any, edition: Edition, link_threshold: float | None = None) -> pd.DataFrame:
    """Seven-day and next-month retention of the edition's buyers against comparable
    non-buyers: persons who bought in the 30 days before the window but not in it.

    Retention counts a purchase in the 7 (30) days after the window ends; a horizon
    that reaches past the last order is not observable yet, and its rate is missing.
    """
    acc = accounts_at(con, link_threshold)
    orders = con.table("orders")
    orders = orders.filter(orders.net_amount > 0)
    j = orders.join(acc, orders.account_key == acc.account_key).select(
        person_id=acc.person_id, day=orders.ordered_at.date()
    )
    start, end = edition.start, edition.end

    def bought(a: dt.date, b: dt.date) -> ir.Table:
        return (
            j.filter((j.day >= ibis.date(a)) & (j.day <= ibis.date(b)))
            .select("person_id")
            .distinct()
        )

    in_window = bought(start, end)
    before = bought(start - dt.timedelta(days=30), start - dt.timedelta(days=1))
    groups = {
        "campaign_buyers": in_window,
        "comparable_non_buyers": before.anti_join(in_window, "person_id"),
    }
    d7 = bought(end + dt.timedelta(days=1), end + dt.timedelta(days=7)).mutate(
        d7=ibis.literal(True)
    )
    d30 = bought(end + dt.timedelta(days=1), end + dt.timedelta(days=30)).mutate(
        d30=ibis.literal(True)
    )
    rows = []
    for name, persons in groups.items():
        t = joined(joined(persons, d7), d30)
        agg = t.aggregate(
            persons=t.count(), d7=t.d7.fill_null(False).sum(), d30=t.d30.fill_null(False).sum()
        ).to_pandas()
        n = int(agg["persons"].iat[0])
        rows.append(
            {
                "group": name,
                "persons": n,
                "retained_7d": int(agg["d7"].iat[0] or 0),
                "retained_30d": int(agg["d30"].iat[0] or 0),
            }
        )
    out = pd.DataFrame(rows)
    last_day = last_order_day(con) or end
    for days in (7, 30):
        rate = out[f"retained_{days}d"] / out["persons"].where(out["persons"] > 0)
        seen = last_day >= end + dt.timedelta(days=days)
        out[f"rate_{days}d"] = rate if seen else float("nan")
        if not seen:
            out[f"retained_{days}d"] = pd.NA
    return out


def campaign_experiment(
    con: Any,
    campaign_id: str,
    edition: Edition,
    segments: ir.Table | None = None,
    pre_days: int = 90,
    link_threshold: float | None = None,
) -> tuple[ir.Table, int]:
    """The experiment table of an executed campaign: one row per person of its audience,
    with ``arm``, the outcomes ``bought`` (1 if they bought in the window) and ``gmv``
    (their GMV in it), the covariate ``pre_gmv`` (their GMV in the ``pre_days`` before
    the window) and, given a snapshot, their ``segment``.

    A person whose member records fell into different arms (two members found to be one
    person) cannot be told apart: such persons are left out and counted.

    Returns:
        The table and the number of persons left out.
    """
    aud = audience(con, campaign_id, link_threshold).filter(ibis._.person_id.notnull())
    arms = aud.group_by("person_id").agg(arms=aud.arm.nunique(), arm=aud.arm.max())
    mixed = int(arms.filter(arms.arms > 1).count().execute())
    units = arms.filter(arms.arms == 1).select("person_id", "arm")
    return outcomes(con, units, edition, segments, pre_days, link_threshold), mixed


def outcomes(
    con: Any,
    units: ir.Table,
    edition: Edition,
    segments: ir.Table | None = None,
    pre_days: int = 90,
    link_threshold: float | None = None,
) -> ir.Table:
    """The experiment table of ``units`` (``person_id``, ``arm``, one row per person):
    with the outcomes ``bought`` (1 if they bought in the edition's window) and ``gmv``
    (their GMV in it), the covariate ``pre_gmv`` (their GMV in the ``pre_days`` before
    the window) and, given a snapshot's cells, their ``segment`` (``outside`` for a
    person the snapshot does not hold)."""
    spend = window_spend(con, edition.start, edition.end, link_threshold)
    before = window_spend(
        con,
        edition.start - dt.timedelta(days=pre_days),
        edition.start - dt.timedelta(days=1),
        link_threshold,
    ).select("person_id", pre_gmv="gmv")
    t = joined(joined(units, spend.select("person_id", "gmv")), before)
    out = t.select(
        "person_id",
        "arm",
        bought=t.gmv.notnull().cast("int64"),
        gmv=t.gmv.fill_null(0.0),
        pre_gmv=t.pre_gmv.fill_null(0.0),
    )
    if segments is not None:
        out = joined(out, segments.select("person_id", "segment"))
        out = out.mutate(segment=out.segment.fill_null(OUTSIDE))
    return out
