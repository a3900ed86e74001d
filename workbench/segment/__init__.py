"""Job 2, segmentation: repurchase cycle, lifecycle tiers, RFM, quadrants, promotion sensitivity.

Modules:
    facts: each person's purchases up to an as-of date, per order and category.
    rc: the repurchase cycle by the usage and inductive methods, and each person's RC.
    lifecycle: tiers as ordered rules: DOMAIN's three levels, and the planning scheme.
    rfm: RFM scores and segments, frequency x value quadrants, promotion sensitivity.
    segments: one snapshot of every person (``segment``), stored in ``segments``.
    summary: the small tables the 02_segment report shows, and migration between snapshots.

The bounds come from :class:`workbench.config.SegmentSettings`, their one source.
"""

from workbench.segment.segments import Options, Snapshot, segment, write_segments

__all__ = ["Options", "Snapshot", "segment", "write_segments"]
