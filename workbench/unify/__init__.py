"""Job 1, data unification: what arrived, one schema, one person per human.

Public functions:
    ingest: load every export into the warehouse (rows read = loaded + rejected).
    arrivals_table, arrivals_chart: the files received, per platform and format.
    loading_table, rejection_table: what ingestion loaded and rejected, and why.
"""

from workbench.unify.load import IngestResult, ingest
from workbench.unify.views import arrivals_chart, arrivals_table, loading_table, rejection_table

__all__ = [
    "IngestResult",
    "arrivals_chart",
    "arrivals_table",
    "ingest",
    "loading_table",
    "rejection_table",
]
