"""Scoring against the synthetic world's planted truth (``data/truth/``).

The only package that reads the truth: jobs never do, and reports show its
figures only where truth exists (synthetic data).

Modules:
    identity: pairwise precision and recall of the resolved persons, the
        evidence ceiling, and the planted new-to-brand share.
    review: the planted campaign uplift per tier and arm against the lift found.
    segment: the repurchase cycle recovered per category and the promotion
        sensitivity found, against the planted RC and promotion class.
"""

from workbench.evaluation.identity import (
    account_people,
    evidence_ceiling,
    has_truth,
    identity_accuracy,
    pairwise_scores,
    planted_new_share,
)
from workbench.evaluation.review import uplift_checks
from workbench.evaluation.segment import (
    SegmentChecks,
    SensitivityAgreement,
    planted_categories,
    rc_recovery,
    rc_without_gifts,
    segment_checks,
    sensitivity_confusion,
    truth_cycles,
)

__all__ = [
    "SegmentChecks",
    "SensitivityAgreement",
    "account_people",
    "evidence_ceiling",
    "has_truth",
    "identity_accuracy",
    "pairwise_scores",
    "planted_categories",
    "planted_new_share",
    "rc_recovery",
    "rc_without_gifts",
    "segment_checks",
    "sensitivity_confusion",
    "truth_cycles",
    "uplift_checks",
]
