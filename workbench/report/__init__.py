"""Reports: Altair theme, table style, labels, HTML export, index page, papermill runner.

Public names (each loaded on first use, so a command that only checks
parameters does not pay for papermill, nbconvert and Altair):
    start: a notebook's first cell: checked parameters, their defaults, the warehouse.
    enable_theme: the shared Altair theme.
    table: style a small frame for a report (labelled, formatted, escaped, CSV).
    label, relabel: zh/en labels.
    run_notebook, run_all: execute notebooks into ``reports/``.
    export_html: self-contained HTML of an executed notebook.
    write_index: rebuild ``reports/index.html``.
    views: what each report shows (``workbench.report.views.unify``...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.report.html import export_html
    from workbench.report.index import write_index
    from workbench.report.labels import label, relabel
    from workbench.report.runner import RunResult, run_all, run_notebook
    from workbench.report.session import Report, start
    from workbench.report.theme import enable_theme, table

_WHERE = {
    "export_html": "html",
    "write_index": "index",
    "label": "labels",
    "relabel": "labels",
    "RunResult": "runner",
    "run_all": "runner",
    "run_notebook": "runner",
    "Report": "session",
    "start": "session",
    "enable_theme": "theme",
    "table": "theme",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.report' has no attribute {name!r}")
    return getattr(importlib.import_module(f"workbench.report.{module}"), name)
