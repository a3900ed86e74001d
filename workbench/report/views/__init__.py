"""Views: what each report shows, one module per notebook.

A job function returns tables; a view here turns them into a labelled,
formatted table or an Altair chart in the report's language. Only this
package and :mod:`workbench.report.theme` import Altair.

Modules:
    common: the summary strip, notes, chart titles and tooltips.
    unify: the 01_unify report.
    segment: the 02_segment report.
"""
