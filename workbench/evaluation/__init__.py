"""Scoring against the synthetic world's planted truth (``data/truth/``).

The only package that reads the truth: jobs never do, and reports show its
figures only where truth exists (synthetic data).

Modules:
    identity: pairwise precision and recall of the resolved persons, the
        evidence ceiling, and the planted new-to-brand share.
"""

from workbench.evaluation.identity import (
    account_people,
    evidence_ceiling,
    has_truth,
    identity_accuracy,
    pairwise_scores,
    planted_new_share,
)

__all__ = [
    "account_people",
    "evidence_ceiling",
    "has_truth",
    "identity_accuracy",
    "pairwise_scores",
    "planted_new_share",
]
