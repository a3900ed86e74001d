"""The sample-ratio-mismatch check: did each arm get the share of units it was meant to?

A split that gave an arm noticeably more or fewer units than designed (a
broken randomisation, a filter applied to one arm, lost records) biases every
comparison drawn from it, however good the statistics after it. The check is
Pearson's chi-square goodness-of-fit test of the units per arm against the
expected shares (equal unless given), over all arms at once. As the
established experimentation platforms do, a p-value below 0.001 flags the
split as broken: at that threshold a sound split is flagged once in a
thousand experiments, while the mismatches that matter (a percent or more on
thousands of units) are caught.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from workbench.review.experiment import Summary

SRM_ALPHA = 0.001
"""A split whose chi-square p-value is below this is flagged as broken."""


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio check of an experiment.

    Attributes:
        arms: one row per arm: ``arm``, ``units``, ``share`` (observed),
            ``expected_share``, ``expected_units``.
        statistic: Pearson's chi-square statistic.
        df: its degrees of freedom (arms - 1).
        p_value: the chance of a mismatch at least this large from a sound split.
        broken: ``p_value`` below :data:`SRM_ALPHA`.
    """

    arms: pd.DataFrame
    statistic: float
    df: int
    p_value: float
    broken: bool

    def text(self) -> str:
        """One line for a report: the verdict, the chi-square and its p-value."""
        verdict = (
            "sample ratio mismatch: the split is broken" if self.broken else "split as designed"
        )
        return f"{verdict} (chi-square {self.statistic:.2f}, df {self.df}, p = {self.p_value:.3g})"


def sample_ratio(summary: Summary) -> SampleRatio:
    """Chi-square test of the units per arm against the expected shares.

    Parameters:
        summary: :func:`~workbench.review.experiment.summarise` of the experiment
            (a summary split by segment is added up over its segments).

    Returns:
        A :class:`SampleRatio`; ``broken`` when p < 0.001.

    Example:
        >>> import ibis
        >>> from workbench.review.experiment import experiment, summarise
        >>> t = ibis.memtable({"u": range(10_000), "arm": ["c"] * 6_000 + ["t"] * 4_000,
        ...                    "y": [0] * 10_000})
        >>> s = summarise(experiment(t, unit="u", arm="arm", control="c", outcomes=["y"]))
        >>> r = sample_ratio(s)
        >>> r.broken, round(r.statistic)
        (True, 400)
    """
    units = summary.arm_units()
    arms: list[Hashable] = list(summary.arms)
    shares = summary.experiment.shares or {a: 1 / len(arms) for a in arms}
    observed = [units.get(a, 0) for a in arms]
    total = sum(observed)
    expected = [total * shares[a] for a in arms]
    statistic, p = stats.chisquare(observed, expected)
    table = pd.DataFrame(
        {
            "arm": arms,
            "units": observed,
            "share": [o / total for o in observed],
            "expected_share": [shares[a] for a in arms],
            "expected_units": expected,
        }
    )
    p_value = float(p)
    return SampleRatio(table, float(statistic), len(arms) - 1, p_value, p_value < SRM_ALPHA)
