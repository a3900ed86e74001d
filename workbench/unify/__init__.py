"""Job 1, data unification: what arrived, one schema, one person per human.

Modules:
    load: ``ingest`` every export into the warehouse (rows read = loaded + rejected).
    identity: strong-key groups and weak-evidence links into persons (OneID).
    linking: the probabilistic linker (Splink), also run on FEBRL 4.
    accuracy: pairwise precision and recall against synthetic truth.
    channels: persons per channel, channel overlap, new-to-brand shares, orders per day.
    views: the 01_unify report's tables and charts on loading and identity.
"""

from workbench.unify.identity import accounts_at, resolve_identities
from workbench.unify.load import IngestResult, ingest
from workbench.unify.views import arrivals_chart, arrivals_table, loading_table, rejection_table

__all__ = [
    "IngestResult",
    "accounts_at",
    "arrivals_chart",
    "arrivals_table",
    "ingest",
    "loading_table",
    "rejection_table",
    "resolve_identities",
]
