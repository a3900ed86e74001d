"""Job 4, post-promotion review: incrementality on any experiment table.

An experiment table (one row per unit: its arm, its outcomes, optionally a
pre-period covariate and a cost) is named with :func:`experiment` and
aggregated per arm in the engine by :func:`summarise`; the statistics run on
those few numbers per arm: :func:`sample_ratio` (is the split as designed),
:func:`lifts` (each arm against the control, with intervals and the
multiple-testing correction), :func:`cuped`, :func:`segment_lifts`,
:func:`winner`, :func:`roi` (incremental GMV, cost and ROI) and, for
heavy-tailed revenue, :func:`bootstrap_lifts`.

Example:
    >>> from workbench import review
    >>> exp = review.experiment(table, unit="person_id", arm="arm", control="control",
    ...                         outcomes=["bought", "gmv"], covariate="gmv_before")  # doctest: +SKIP
    >>> s = review.summarise(exp)  # doctest: +SKIP
    >>> review.sample_ratio(s).text()  # doctest: +SKIP
    'split as designed (chi-square 1.83, df 3, p = 0.608)'
    >>> review.winner(review.lifts(s), "gmv").text()  # doctest: +SKIP

The statistics are tea-tasting's (Welch, proportions, CUPED, bootstrap), fed
the engine's aggregates; the sample-ratio check (one chi-square over all
arms) is scipy's and the multiple-testing corrections are statsmodels'.

Modules (internal): ``experiment`` (the table, its checks and the engine
summary), ``srm``, ``lift`` (lifts, CUPED, corrections, winner), ``roi``,
``bootstrap``.
"""

from workbench.review.bootstrap import bootstrap_lifts
from workbench.review.experiment import (
    ALL,
    Experiment,
    ExperimentError,
    Summary,
    check_confidence,
    experiment,
    summarise,
)
from workbench.review.job import Columns, Review, evidence, read_table, run, write
from workbench.review.lift import (
    INTERVALS,
    MIN_UNITS,
    STATUSES,
    Winner,
    correct,
    cuped,
    lifts,
    segment_lifts,
    winner,
)
from workbench.review.roi import roi
from workbench.review.srm import SRM_ALPHA, SampleRatio, sample_ratio

__all__ = [
    "ALL",
    "INTERVALS",
    "MIN_UNITS",
    "SRM_ALPHA",
    "STATUSES",
    "Columns",
    "Experiment",
    "ExperimentError",
    "Review",
    "SampleRatio",
    "Summary",
    "Winner",
    "bootstrap_lifts",
    "check_confidence",
    "correct",
    "cuped",
    "evidence",
    "experiment",
    "lifts",
    "read_table",
    "roi",
    "run",
    "sample_ratio",
    "segment_lifts",
    "summarise",
    "winner",
    "write",
]
