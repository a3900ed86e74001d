"""Job 1, data unification: what arrived, one schema, one person per human.

Modules:
    ingest: ``ingest`` every export into the warehouse, one transaction per file
        (rows read = loaded + rejected), then resolve identities.
    normalise: the named SQL steps that turn one staged export into unified rows.
    warehouse: the warehouse's tables, upserts, salt fingerprint and state.
    identity: strong-key groups and weak-evidence links into persons (OneID).
    linking: the probabilistic linker (Splink), also run on FEBRL 4.
    accuracy: pairwise precision and recall against synthetic truth.
    channels: persons per channel, channel overlap, new-to-brand shares, orders per day.
    views: the 01_unify report's tables and charts on loading and identity.
"""

from workbench.unify.identity import accounts_at, resolve_identities
from workbench.unify.ingest import FileResult, IngestResult, ingest, ingest_mapped
from workbench.unify.views import arrivals_chart, arrivals_table, loading_table, rejection_table
from workbench.unify.warehouse import warehouse_problem, warehouse_status

__all__ = [
    "FileResult",
    "IngestResult",
    "accounts_at",
    "arrivals_chart",
    "arrivals_table",
    "ingest",
    "ingest_mapped",
    "loading_table",
    "rejection_table",
    "resolve_identities",
    "warehouse_problem",
    "warehouse_status",
]
