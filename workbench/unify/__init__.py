"""Job 1, data unification: what arrived, one schema, one person per human.

Public functions:
    arrivals_table, arrivals_chart: the files received, per platform and format.
"""

from workbench.unify.views import arrivals_chart, arrivals_table

__all__ = ["arrivals_chart", "arrivals_table"]
