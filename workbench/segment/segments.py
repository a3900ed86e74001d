"""One segmentation snapshot: every person of the pool at an as-of date, in every segment.

:func:`segment` builds the snapshot as one Ibis expression (DuckDB by default,
the same code on Spark): RC, recency, the lifecycle tiers of both schemes,
RFM, quadrant, promotion sensitivity and member tier, one row per person,
including members and pool persons who never bought. The job's entry,
:func:`workbench.segment.run`, adds the 7-day propensity and the clusters, and
:func:`workbench.segment.write` stores it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import ibis.selectors as cs

from workbench.config import SegmentSettings
from workbench.engine import materialise, round_to, scratch_name
from workbench.schema import MONEY
from workbench.segment.facts import Purchases, purchases
from workbench.segment.lifecycle import lifecycle, loyal_threshold
from workbench.segment.rc import RepurchaseCycles, person_rc, repurchase_cycles
from workbench.segment.rfm import quadrants, rfm, sensitivity

SEGMENT_COLUMNS: tuple[str, ...] = (
    "person_id",
    "as_of",
    "is_member",
    "member_tier",
    "purchases",
    "orders",
    "net_amount",
    "aov",
    "last_day",
    "recency_days",
    "rc_days",
    "rc_category",
    "r_rc",
    "tier_l1",
    "tier_l2",
    "tier_l3",
    "tier_s2",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "quadrant",
    "promo_share",
    "discount_depth",
    "promo_sensitivity",
    "propensity_7d",
    "cluster",
)


INPUT_TABLES: tuple[str, ...] = (
    "orders",
    "order_lines",
    "products",
    "accounts",
    "persons",
    "members",
    "coupons",
    "campaigns",
)
"""The warehouse tables a snapshot reads (``products``, ``members`` and ``campaigns``
may be missing: see :mod:`workbench.segment.facts`)."""


@dataclass(frozen=True)
class Snapshot:
    """A segmentation at one as-of date: what :func:`workbench.segment.run` returns.

    Attributes:
        table: one row per person (:data:`SEGMENT_COLUMNS`), an Ibis expression
            (computed into a scratch table by :func:`workbench.segment.run`).
        cycles: the repurchase cycles behind it.
        purchases: the purchase tables it read.
        settings: the segment settings it was made with.
        link_threshold: the link threshold persons were resolved at (``None``: as stored).
        facts: the per-person table the lifecycle rules read (recency, RC, ...).
        loyal_aov: the value per purchase a loyal fan reached at this date.
        propensity: the 7-day repurchase model whose scores fill ``propensity_7d``
            (``None`` when none was trained; ``notes`` says why).
        clusters: the clustering that fills ``cluster`` (``None``: see ``notes``).
        notes: why a part is missing, by part (``propensity``, ``clusters``).
    """

    table: ir.Table
    cycles: RepurchaseCycles
    purchases: Purchases
    settings: SegmentSettings
    link_threshold: float | None = None
    facts: ir.Table | None = None
    loyal_aov: float | None = None
    propensity: Any = None
    clusters: Any = None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def as_of(self) -> dt.date:
        return self.purchases.as_of


def person_facts(p: Purchases, cycles: RepurchaseCycles, con: Any) -> ir.Table:
    """The per-person table the rules read (see :mod:`workbench.segment.lifecycle`)."""
    as_of = p.as_of
    bought = p.per_person
    ours = bought.filter(bought.purchases > 0)
    rc = person_rc(ours.select("person_id", "last_day"), p.categories, cycles)
    members = _member_of_person(con)
    pool = p.persons.left_join(members, "person_id").select(
        "person_id", "first_day", "is_member", "member_tier", "joined_at"
    )
    # The pool as it stood at as-of: persons who had ordered or joined by then (a person
    # known by neither date stays); a member who joined later was not one yet.
    joined = pool.joined_at.notnull() & (pool.joined_at <= as_of)
    ordered = pool.first_day.notnull() & (pool.first_day <= as_of)
    undated = pool.joined_at.isnull() & pool.first_day.isnull()
    pool = pool.filter(joined | ordered | undated).mutate(
        is_member=pool.is_member & (pool.joined_at.isnull() | (pool.joined_at <= as_of))
    )
    t = (
        pool.left_join(bought, "person_id")
        .select(~cs.endswith("_right"))
        .left_join(rc.drop("last_day"), "person_id")
        .select(~cs.endswith("_right"))
    )
    buyer = t.purchases > 0
    recency = ibis.literal(as_of).delta(t.last_day, unit="day")
    member_days = ibis.literal(as_of).delta(t.joined_at, unit="day")
    return t.select(
        "person_id",
        is_member=t.is_member.fill_null(False),
        member_tier=t.member_tier,
        purchases=t.purchases.fill_null(0),
        orders=t.orders.fill_null(0),
        # Money as a float from here on: the rules take means and quantiles of it, which
        # on a decimal some engines round to its scale. The exact sum converts to the
        # float nearest it, and the snapshot stores it as a decimal again.
        net_amount=t.net_amount.cast("float64").fill_null(0.0),
        aov=round_to(t.net_amount.cast("float64") / t.orders.nullif(0), 4),
        last_day=t.last_day,
        recency_days=recency,
        rc_days=t.rc_days,
        rc_category=t.rc_category,
        r_rc=recency / t.rc_days,
        promo_share=t.promo_share,
        discount_depth=ibis.ifelse(buyer, t.discount_depth.fill_null(0.0), ibis.null("float64")),
        other_brand_ever=t.last_other.notnull(),
        other_brand_after=t.last_other.notnull() & (t.last_other > t.last_day),
        member_days=member_days.cast("int64"),
    )


def _member_of_person(con: Any) -> ir.Table:
    """Per person with a member record: ``is_member``, ``member_tier``, ``joined_at``
    (the highest tier and earliest join when a person holds several records)."""
    acc = con.table("accounts").filter(ibis._.platform == "crm")
    if "members" not in con.list_tables():
        return (
            acc.select("person_id", is_member=ibis.literal(True))
            .mutate(member_tier=ibis.null("string"), joined_at=ibis.null("date"))
            .distinct()
        )
    m = con.table("members")
    j = acc.join(m, acc.account_key == ("crm:" + m.member_id))
    g = j.group_by(j.person_id).agg(
        member_tier=j.tier.argmax(_tier_rank(j.tier)), joined_at=j.joined_at.min()
    )
    return g.mutate(is_member=ibis.literal(True))


MEMBER_TIERS: tuple[str, ...] = ("普通", "高级", "VIP", "至尊VIP")
"""Member tiers from lowest to highest, as the CRM exports them."""


def _tier_rank(tier: ir.StringValue) -> ir.IntegerValue:
    return ibis.cases(*((tier == t, i) for i, t in enumerate(MEMBER_TIERS)), else_=-1)


def segment(
    con: Any,
    as_of: dt.date,
    settings: SegmentSettings | None = None,
    link_threshold: float | None = None,
    *,
    within: Purchases | None = None,
) -> Snapshot:
    """Segment every person of the pool as of ``as_of``, as one lazy expression.

    :func:`workbench.segment.run` is the job's entry: it computes this table once,
    adds the 7-day propensity and the clusters, and is what a report or a later
    job calls.

    Parameters:
        con: an Ibis backend on the warehouse.
        as_of: the as-of date; later orders are left out.
        settings: the segment settings (their defaults if ``None``).
        link_threshold: the link threshold persons are resolved at (``None``: as stored).
        within: the purchases of a later snapshot to read this one's from
            (:func:`~workbench.segment.facts.purchases`).

    Returns:
        A :class:`Snapshot`; ``table`` is not computed until executed or written.
    """
    s = (settings or SegmentSettings()).check()
    p = purchases(con, as_of, link_threshold, s.brand or None, within=within)
    cycles = repurchase_cycles(p, s)
    key = (
        as_of,
        link_threshold,
        p.brand,
        s.rc_method,
        s.min_repeaters,
        s.rc_quantile,
        s.rc_multiple,
    )
    facts = materialise(person_facts(p, cycles, con), scratch_name("person_facts", *key), con)
    loyal_aov = loyal_threshold(facts, s)
    t = lifecycle(facts, s, loyal_aov)
    buyers = t.filter(t.purchases > 0)
    scored = quadrants(rfm(buyers, s)).select(
        "person_id", "r_score", "f_score", "m_score", "rfm_segment", "quadrant"
    )
    out = t.left_join(scored, "person_id").select(~cs.endswith("_right"))
    out = out.mutate(
        net_amount=out.net_amount.cast(MONEY),
        as_of=ibis.literal(as_of),
        promo_sensitivity=sensitivity(out, s, judged="promotions" not in p.absent),
        propensity_7d=ibis.null("float64"),
        cluster=ibis.null("int64"),
    )
    return Snapshot(out.select(*SEGMENT_COLUMNS), cycles, p, s, link_threshold, facts, loyal_aov)
