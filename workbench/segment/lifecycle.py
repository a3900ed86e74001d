"""Lifecycle tiers (生命周期分层) by recency in RC units, as configurable schemes.

A scheme is an ordered list of rules over one row per person: the first rule
that holds gives the person's tier, and a final rule catches everyone left,
so every person is in exactly one tier. Each level-2 tier names its level-1
parent, so level 2 nests in level 1 by construction; level 3 splits the
active tier by frequency and value and keeps the level-2 tier elsewhere.

The person table the rules read has, per person of the pool:
``purchases`` (purchase days of our brand up to as-of, 0 for those who never
bought), ``recency_days`` (days since the last one), ``rc_days`` (their RC),
``r_rc`` (recency in RC units), ``other_brand_ever``, ``other_brand_after``
(bought another brand's product after their last purchase of ours),
``aov`` (net amount per purchase), ``is_member``, ``member_days`` (days since
joining, ``None`` for non-members).

Scheme one is DOMAIN's table (潜力/活跃/睡眠/流失 and their halves); scheme two
(new members, active old customers, high- and low-recovery pre-churn,
churned, trial members, potential members) is a second list of rules over
the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from workbench.config import SegmentSettings

Condition = Callable[[ir.Table, SegmentSettings], ir.BooleanValue]


@dataclass(frozen=True)
class Rule:
    """``tier`` (and its level-1 ``parent``) for the persons ``when`` holds for."""

    tier: str
    parent: str
    when: Condition


def _never_bought(t: ir.Table, b: SegmentSettings) -> ir.BooleanValue:
    return t.purchases == 0


SCHEME_ONE: tuple[Rule, ...] = (
    Rule("competitor_buyer", "potential", lambda t, b: _never_bought(t, b) & t.other_brand_ever),
    Rule("category_potential", "potential", _never_bought),
    Rule("highly_awake", "active", lambda t, b: t.r_rc <= b.awake_rc),
    Rule("moderately_awake", "active", lambda t, b: t.r_rc <= b.active_rc),
    Rule("light_sleep", "sleeping", lambda t, b: t.r_rc <= b.light_sleep_rc),
    Rule("deep_sleep", "sleeping", lambda t, b: t.r_rc <= b.lost_rc),
    Rule("brand_lost", "lost", lambda t, b: t.other_brand_after),
    Rule("category_lost", "lost", lambda t, b: ibis.literal(True)),
)
"""DOMAIN's lifecycle table: level-2 tiers in rule order, each with its level-1 parent."""

SCHEME_TWO: tuple[Rule, ...] = (
    Rule("trial_member", "trial_member", lambda t, b: _never_bought(t, b) & t.is_member),
    Rule("potential_member", "potential_member", _never_bought),
    Rule(
        "new_member",
        "new_member",
        lambda t, b: t.is_member & (t.member_days <= b.new_member_days) & (t.r_rc <= b.active_rc),
    ),
    Rule("active_old", "active_old", lambda t, b: t.r_rc <= b.active_rc),
    Rule(
        "high_recovery_pre_churn",
        "high_recovery_pre_churn",
        lambda t, b: (t.r_rc <= b.lost_rc) & (t.purchases >= b.recovery_min_purchases),
    ),
    Rule("low_recovery_pre_churn", "low_recovery_pre_churn", lambda t, b: t.r_rc <= b.lost_rc),
    Rule("churned", "churned", lambda t, b: ibis.literal(True)),
)
"""The planning scheme: one level, the same machinery."""

LEVEL1_ORDER: tuple[str, ...] = ("potential", "active", "sleeping", "lost")
LEVEL2_ORDER: tuple[str, ...] = tuple(r.tier for r in SCHEME_ONE)
LEVEL3_ACTIVE: tuple[str, ...] = ("new", "returning", "loyal")


def classify(
    t: ir.Table, rules: tuple[Rule, ...], bounds: SegmentSettings
) -> tuple[ir.Value, ir.Value]:
    """The (tier, parent) of each row of ``t``: the first rule that holds."""
    tier = ibis.cases(*((r.when(t, bounds), r.tier) for r in rules[:-1]), else_=rules[-1].tier)
    parent = ibis.cases(
        *((r.when(t, bounds), r.parent) for r in rules[:-1]), else_=rules[-1].parent
    )
    return tier, parent


def loyal_threshold(t: ir.Table, bounds: SegmentSettings | None = None) -> float:
    """The value per purchase a loyal fan reaches: the ``loyal_aov_quantile`` of the
    active buyers' (0 when nobody is active)."""
    bounds = (bounds or SegmentSettings()).check()
    _, l1 = classify(t, SCHEME_ONE, bounds)
    active = t.mutate(tier_l1=l1).filter(ibis._.tier_l1 == "active")
    found = active.aov.quantile(bounds.loyal_aov_quantile).execute()
    return float(found) if found is not None and found == found else 0.0


def lifecycle(
    t: ir.Table, bounds: SegmentSettings | None = None, loyal_aov: float | None = None
) -> ir.Table:
    """Add ``tier_l1``, ``tier_l2``, ``tier_l3`` (scheme one) and ``tier_s2`` (scheme two).

    Parameters:
        t: the person table described in the module doc.
        bounds: the segment settings whose bounds the rules read (the defaults if ``None``).
        loyal_aov: value per purchase a loyal fan reaches; ``None`` takes
            :func:`loyal_threshold` of ``t``.
    """
    bounds = (bounds or SegmentSettings()).check()
    l2, l1 = classify(t, SCHEME_ONE, bounds)
    s2, _ = classify(t, SCHEME_TWO, bounds)
    out = t.mutate(tier_l1=l1, tier_l2=l2, tier_s2=s2)
    if loyal_aov is None:
        loyal_aov = loyal_threshold(t, bounds)
    l3 = ibis.cases(
        (out.tier_l1 != "active", out.tier_l2),
        (
            (out.purchases >= bounds.loyal_min_purchases) & (out.aov >= loyal_aov),
            "loyal",
        ),
        (out.purchases >= 2, "returning"),
        else_="new",
    )
    return out.mutate(tier_l3=l3)
