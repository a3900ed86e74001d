"""Job 1, data unification: what arrived, one schema, one person per human.

Public functions:
    ingest: load every export into the warehouse (rows read = loaded + rejected).
    arrivals_table, arrivals_chart: the files received, per platform and format.
"""

from workbench.unify.ingest import IngestResult, ingest
from workbench.unify.views import arrivals_chart, arrivals_table

__all__ = ["IngestResult", "arrivals_chart", "arrivals_table", "ingest"]
