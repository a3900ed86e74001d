"""One segmentation snapshot: every person of the pool at an as-of date, in every segment.

:func:`segment` builds the snapshot as one Ibis expression (DuckDB by default,
the same code on Spark): RC, recency, the lifecycle tiers of both schemes,
RFM, quadrant, promotion sensitivity and member tier, one row per person,
including members and pool persons who never bought. :func:`write_segments`
stores it in ``segments`` keyed (``person_id``, ``as_of``), replacing only the
rows of that as-of date, so several snapshots live side by side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import ibis.expr.types as ir
import ibis.selectors as cs

from workbench.config import SegmentSettings
from workbench.engine import materialise, replace_rows, round_to, scratch_name
from workbench.segment.facts import Purchases, purchases
from workbench.segment.lifecycle import Bounds, lifecycle, loyal_threshold
from workbench.segment.rc import RcMethod, RepurchaseCycles, person_rc, repurchase_cycles
from workbench.segment.rfm import (
    RfmOptions,
    SensitivityBounds,
    quadrants,
    rfm,
    sensitivity,
)

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

_D = SegmentSettings()


@dataclass(frozen=True)
class Options:
    """Everything a snapshot depends on besides the data; defaults from
    :class:`~workbench.config.SegmentSettings`, their one source."""

    rc_method: RcMethod = _D.rc_method  # type: ignore[assignment]
    min_repeaters: int = _D.min_repeaters
    bounds: Bounds = field(default_factory=Bounds)
    rfm: RfmOptions = field(default_factory=RfmOptions)
    sensitivity: SensitivityBounds = field(default_factory=SensitivityBounds)
    brand: str | None = _D.brand or None

    @classmethod
    def from_settings(cls, s: SegmentSettings, **values: Any) -> Options:
        """The options a :class:`SegmentSettings` gives, with the fields named in
        ``values`` changed; other names and ``None`` values are ignored, so a
        notebook can pass all its parameters
        (``Options.from_settings(settings.segment, active_rc=2.5, lang="zh")``).
        """
        changes = {
            k: v
            for k, v in values.items()
            if k in SegmentSettings.__dataclass_fields__ and v is not None
        }
        s = replace(s, **changes).check() if changes else s
        return cls(
            rc_method=s.rc_method,  # type: ignore[arg-type]
            min_repeaters=s.min_repeaters,
            bounds=Bounds(
                awake_rc=s.awake_rc,
                active_rc=s.active_rc,
                light_sleep_rc=s.light_sleep_rc,
                lost_rc=s.lost_rc,
                loyal_min_purchases=s.loyal_min_purchases,
                loyal_aov_quantile=s.loyal_aov_quantile,
                new_member_days=s.new_member_days,
                recovery_min_purchases=s.recovery_min_purchases,
            ),
            rfm=RfmOptions(reference=s.rfm_reference, basis=s.rfm_basis),  # type: ignore[arg-type]
            sensitivity=SensitivityBounds(
                high_share=s.promo_high_share,
                low_share=s.promo_low_share,
                deep_discount=s.promo_deep_discount,
                fanatic_share=s.promo_fanatic_share,
                min_orders=s.promo_min_orders,
            ),
            brand=s.brand or None,
        )


@dataclass(frozen=True)
class Snapshot:
    """A segmentation at one as-of date.

    Attributes:
        table: one row per person (:data:`SEGMENT_COLUMNS`), an Ibis expression.
        cycles: the repurchase cycles behind it.
        purchases: the purchase tables it read.
        competitor_data: whether other brands' purchases were there to split
            competitor buyers and brand-lost persons (else they fall to
            category potential and category-lost).
        facts: the per-person table the lifecycle rules read (recency, RC, ...).
        loyal_aov: the value per purchase a loyal fan reached at this date.
    """

    table: ir.Table
    cycles: RepurchaseCycles
    purchases: Purchases
    options: Options
    facts: ir.Table | None = None
    loyal_aov: float | None = None

    @property
    def competitor_data(self) -> bool:
        return self.purchases.has_other_brands


def person_facts(p: Purchases, cycles: RepurchaseCycles, con: Any) -> ir.Table:
    """The per-person table the rules read (see :mod:`workbench.segment.lifecycle`)."""
    as_of = dt.date.fromisoformat(p.as_of)
    bought = p.per_person
    ours = bought.filter(bought.purchases > 0)
    rc = person_rc(ours.select("person_id", "last_day"), p.categories, cycles)
    members = _member_of_person(con)
    pool = p.persons.left_join(members, "person_id").select(
        "person_id", "is_member", "member_tier", "joined_at"
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
        net_amount=t.net_amount.fill_null(0.0),
        aov=round_to(t.net_amount / t.orders.nullif(0), 4),
        last_day=t.last_day,
        recency_days=recency,
        rc_days=t.rc_days,
        rc_category=t.rc_category,
        r_rc=recency / t.rc_days,
        promo_share=t.promo_share,
        discount_depth=ibis.ifelse(buyer, t.discount_depth.fill_null(0.0), ibis.null("float64")),
        other_brand_ever=t.last_other.notnull(),
        other_brand_after=t.last_other.notnull() & (t.last_other > t.last_day),
        member_days=member_days,
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
    as_of: str,
    threshold: float | None = None,
    options: Options | None = None,
) -> Snapshot:
    """Segment every person of the pool as of ``as_of``.

    Parameters:
        con: an Ibis backend on the warehouse.
        as_of: ``YYYY-MM-DD``; later orders are left out.
        threshold: the link threshold persons are resolved at (``None``: as stored).
        options: RC method, bounds and references (:class:`Options` defaults).

    Returns:
        A :class:`Snapshot`; ``table`` is not computed until executed or written.
    """
    options = options or Options()
    p = purchases(con, as_of, threshold, options.brand)
    cycles = repurchase_cycles(p, options.rc_method, options.min_repeaters)
    key = (as_of, threshold, p.brand, options.rc_method, options.min_repeaters)
    facts = materialise(person_facts(p, cycles, con), scratch_name("person_facts", *key), con)
    loyal_aov = loyal_threshold(facts, options.bounds)
    t = lifecycle(facts, options.bounds, loyal_aov)
    buyers = t.filter(t.purchases > 0)
    scored = quadrants(rfm(buyers, options.rfm)).select(
        "person_id", "r_score", "f_score", "m_score", "rfm_segment", "quadrant"
    )
    out = t.left_join(scored, "person_id").select(~cs.endswith("_right"))
    out = out.mutate(
        as_of=ibis.literal(dt.date.fromisoformat(as_of)),
        promo_sensitivity=sensitivity(out, options.sensitivity),
        propensity_7d=ibis.null("float64"),
        cluster=ibis.null("int64"),
    )
    return Snapshot(out.select(*SEGMENT_COLUMNS), cycles, p, options, facts, loyal_aov)


def write_segments(con: Any, snapshot: Snapshot) -> int:
    """Store a snapshot in ``segments``, replacing that as-of date's rows; return the rows.

    Parameters:
        con: an Ibis backend on the warehouse, opened for writing.
    """
    as_of = dt.date.fromisoformat(snapshot.purchases.as_of)
    return replace_rows(con, "segments", snapshot.table, "as_of", as_of)
