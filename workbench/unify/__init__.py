"""Job 1, data unification: what arrived, one schema, one person per human.

Modules:
    ingest: ``ingest`` every export into the warehouse, one transaction per file
        (rows read = loaded + rejected), then resolve identities.
    normalise: the named SQL steps that turn one staged export into unified rows.
    warehouse: the warehouse's tables, upserts, salt fingerprint and state.
    identity: strong-key groups and weak-evidence links into persons (OneID).
    person_ids: person ids that survive re-ingestion; ``current_person_ids`` resolves
        recorded ids (a plan's, a pack's) to today's persons.
    linking: the probabilistic linker (Splink), also run on FEBRL 4.
    quality: what was loaded, rejected and flagged, and the headline figures.
    channels: persons per channel, channel overlap, new-to-brand shares, orders per week.
    resolution: the stored resolution as tables: accounts per person, thresholds, weights.

Each function returns tables (Ibis expressions or small frames); the report's
views (``workbench.report.views.unify``) draw them.
"""

from workbench.unify import channels, quality, resolution
from workbench.unify.identity import accounts_at, resolve_identities
from workbench.unify.ingest import FileResult, IngestResult, ingest, ingest_mapped
from workbench.unify.person_ids import current_person_ids
from workbench.unify.warehouse import (
    last_order_day,
    order_days,
    warehouse_problem,
    warehouse_status,
)

__all__ = [
    "FileResult",
    "IngestResult",
    "accounts_at",
    "channels",
    "current_person_ids",
    "ingest",
    "ingest_mapped",
    "last_order_day",
    "order_days",
    "quality",
    "resolution",
    "resolve_identities",
    "warehouse_problem",
    "warehouse_status",
]
