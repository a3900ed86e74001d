"""Job 2, segmentation: repurchase cycle, lifecycle tiers, RFM, quadrants, promotion
sensitivity, propensity, clusters, tags and audiences, migration.

The job's entry is :func:`run` (one snapshot as of a date, with its 7-day
propensity and clusters) and :func:`write` (store it in ``segments``): the
CLI, the 02_segment notebook and later jobs call the same two. Its settings
are :class:`workbench.config.SegmentSettings`, declared once. The other names
turn a snapshot into the small tables the report shows.

Example:
    >>> from workbench import segment
    >>> now = segment.run(con, as_of, settings.segment)  # doctest: +SKIP
    >>> segment.tier_sizes(now.table)  # doctest: +SKIP
    >>> segment.write(con, now)  # doctest: +SKIP

Modules (internal): ``facts`` (purchases up to as-of), ``rc``, ``lifecycle``,
``rfm`` (RFM, quadrants, promotion sensitivity), ``segments`` (the snapshot's
expression), ``job`` (run, write), ``propensity``, ``cluster``, ``tags``,
``summary`` (report tables), ``moves`` (migration and its alerts).
"""

from workbench.segment.job import run, stored, stored_settings, write
from workbench.segment.moves import Migration, alerts, migration
from workbench.segment.segments import MEMBER_TIERS, SEGMENT_COLUMNS, Snapshot
from workbench.segment.summary import (
    AudienceProfile,
    Intervals,
    audience,
    headline,
    interval_histogram,
    lifecycle_by_member_tier,
    quadrant_summary,
    rc_table,
    recency_frame,
    retier,
    rfm_summary,
    scheme_two_sizes,
    sensitivity_summary,
    tier_sizes,
)

__all__ = [
    "MEMBER_TIERS",
    "SEGMENT_COLUMNS",
    "AudienceProfile",
    "Intervals",
    "Migration",
    "Snapshot",
    "alerts",
    "audience",
    "headline",
    "interval_histogram",
    "lifecycle_by_member_tier",
    "migration",
    "quadrant_summary",
    "rc_table",
    "recency_frame",
    "retier",
    "rfm_summary",
    "run",
    "scheme_two_sizes",
    "sensitivity_summary",
    "stored",
    "stored_settings",
    "tier_sizes",
    "write",
]
