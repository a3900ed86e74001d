"""Reports: Altair theme, table style, labels, HTML export, index page, papermill runner.

Public functions:
    enable_theme: the shared Altair theme.
    table: style a small frame for a report (escaped, formatted).
    label, relabel: zh/en labels.
    run_notebook, run_all: execute notebooks into ``reports/``.
    export_html: self-contained HTML of an executed notebook.
    write_index: rebuild ``reports/index.html``.
    start: a notebook's first cell: checked parameters, their defaults, the warehouse.
    views: what each report shows (``workbench.report.views.unify``...).
"""

from workbench.report.html import export_html
from workbench.report.index import write_index
from workbench.report.labels import label, relabel
from workbench.report.runner import RunResult, run_all, run_notebook
from workbench.report.session import Report, start
from workbench.report.theme import enable_theme, table

__all__ = [
    "Report",
    "RunResult",
    "enable_theme",
    "export_html",
    "label",
    "relabel",
    "run_all",
    "run_notebook",
    "start",
    "table",
    "write_index",
]
