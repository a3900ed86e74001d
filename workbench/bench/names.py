"""The names the segment step gives its tiers, segments and classes, for the references.

Both references write the rules again, independently of :mod:`workbench.segment`,
but name what they find as it does, from the one definition of each name: the
lifecycle schemes (:mod:`workbench.segment.lifecycle`), the RFM segments, quadrants
and promotion classes (:mod:`workbench.segment.rfm`) and the member tiers
(:data:`workbench.segment.segments.MEMBER_TIERS`). A scheme that gains or loses a
tier fails here, on import, instead of making the references disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.segment.lifecycle import LEVEL1_ORDER, LEVEL3_ACTIVE, SCHEME_ONE, SCHEME_TWO
from workbench.segment.rfm import QUADRANTS, RFM_SEGMENTS, SENSITIVITY
from workbench.segment.segments import MEMBER_TIERS

__all__ = ["MEMBER_TIERS", "NAMES", "RFM_SEGMENTS"]


def _by_role(roles: str, names: Iterable[str]) -> dict[str, str]:
    return dict(zip(roles.split(), names, strict=True))


_GROUPS = (
    _by_role(
        "competitor_buyer category_potential highly_awake moderately_awake light_sleep "
        "deep_sleep brand_lost category_lost",
        (rule.tier for rule in SCHEME_ONE),
    ),
    _by_role(
        "trial_member potential_member new_member active_old high_recovery_pre_churn "
        "low_recovery_pre_churn churned",
        (rule.tier for rule in SCHEME_TWO),
    ),
    _by_role("potential active sleeping lost", LEVEL1_ORDER),
    _by_role("new returning loyal", LEVEL3_ACTIVE),
    _by_role("hf_hv hf_lv lf_hv lf_lv", QUADRANTS),
    _by_role("fanatic sensitive neutral indifferent unknown", SENSITIVITY),
)
NAMES: dict[str, str] = {role: name for group in _GROUPS for role, name in group.items()}
"""Each tier, quadrant and promotion class by its place in the rules -> the name the
segment step gives it: the level-2 and planning tiers in rule order, the level-1
tiers, the active tier's level-3 split (new, returning, loyal), the quadrants
(high/low frequency x high/low value) and the promotion classes."""
