"""The first code cell of every notebook: settings, checked parameters, the warehouse.

:func:`start` does in the kernel what the runner does before it: check each
parameter, give the ones left at ``None`` their setting or data default, and
open the warehouse read-only. Under papermill the runner has already injected
the effective values, so the two always agree; in JupyterLab the same call
fills them in from the settings of the project root, whatever the working
directory.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import Settings, load_settings
from workbench.errors import ParameterError, WarehouseIncomplete
from workbench.report.labels import label
from workbench.report.params import DATE, as_date, check_value, resolve_parameters, rule_of
from workbench.sources.mapping import PLATFORM_CURRENCY


@dataclass
class Report:
    """What a notebook's cells share: the connection, the settings and the parameters.

    Each parameter is also an attribute: ``r.as_of``, ``r.lang``. ``currency`` is
    the ISO code the report's money is shown in: the warehouse's, or the
    ``table_currency`` of the experiment file a review reads instead.
    """

    con: Any
    settings: Settings
    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    data_range: tuple[str, str] | None = None
    currency: str = PLATFORM_CURRENCY

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    @property
    def lang(self) -> str:
        return str(self.values.get("lang") or self.settings.lang)

    def job_settings(self, job: str) -> Any:
        """The settings of ``job`` (``"segment"``) with this notebook's parameters of the
        same names applied: what the job runs with in this report.

        Example:
            >>> r.job_settings("segment").active_rc  # doctest: +SKIP
            2.0
        """
        return getattr(self.settings, job).updated(self.values)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td>"
            f"<td>{html.escape(str(v))}</td><td>{html.escape(self.sources.get(k, ''))}</td></tr>"
            for k, v in self.values.items()
        )
        span = " – ".join(self.data_range) if self.data_range else "–"
        return (
            f'<table class="wb-params"><tr><th>{label("parameter", self.lang)}</th>'
            f"<th>{label('value', self.lang)}</th><th>{label('source', self.lang)}</th></tr>"
            f"{rows}<tr><td>{label('data_range', self.lang)}</td><td>{span}</td><td></td></tr>"
            "</table>"
        )


_HOOKS: list[tuple[str, Any]] = []


def _hold_between_cells_only(con: Any) -> None:
    """In a kernel, hold the warehouse file only while a cell runs: it is detached after
    each cell and attached again before the next, so a scheduled ingest can write it
    while a notebook stays open. Outside IPython (a script), nothing changes."""
    from workbench.engine import reattach, release

    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    for event, callback in _HOOKS:  # a notebook run again in the same kernel
        shell.events.unregister(event, callback)
    _HOOKS.clear()

    def before(*_: Any) -> None:
        reattach(con)

    def after(*_: Any) -> None:
        release(con)

    for event, callback in (("pre_run_cell", before), ("post_run_cell", after)):
        shell.events.register(event, callback)
        _HOOKS.append((event, callback))


def start(settings: Settings | None = None, **values: Any) -> Report:
    """Check the parameters, fill in their defaults and open the warehouse read-only.

    Parameters:
        settings: resolved settings; by default from the project root's environment.
        values: the notebook's parameters (``None``: not chosen, use the default).
            Names ending in ``_dir`` or ``_file`` are paths relative to the project root.

    Returns:
        A :class:`Report`; its ``values`` are the effective parameters.

    Raises:
        ParameterError: a value the parameter does not accept.
        WarehouseIncomplete: there is no warehouse yet.

    Example:
        >>> r = start(as_of=None, lang="en")  # doctest: +SKIP
        >>> r.as_of  # the last order date in the warehouse
        '2026-11-20'
    """
    from workbench.engine import connect
    from workbench.report.format import use_currency
    from workbench.report.theme import enable_theme
    from workbench.unify.warehouse import warehouse_currency

    settings = settings or load_settings()
    checked = {k: check_value(k, v) for k, v in values.items()}
    for name, value in checked.items():
        if name.endswith(("_dir", "_file")) and value:
            checked[name] = str(settings.root / Path(value).expanduser())
    lang = str(checked.get("lang") or settings.lang)
    if settings.engine == "duckdb" and not settings.warehouse.exists():
        raise WarehouseIncomplete(label("warehouse_missing", lang))
    con = connect(settings, read_only=True)
    resolved = resolve_parameters(checked, settings, con)
    _hold_between_cells_only(con)
    enable_theme()
    # Read once: every view of the report formats money in the warehouse's currency, or
    # in that of the file of money it reads instead.
    currency = warehouse_currency(con)
    if checked.get("table_currency"):
        if not checked.get("experiment_file"):
            raise ParameterError(
                "parameter table_currency is the currency of an experiment_file's money; "
                "the warehouse's is recorded at ingestion"
            )
        currency = str(checked["table_currency"])
    use_currency(currency)
    # Dates cross into the jobs as dates, once, here.
    values = {
        k: as_date(v) if v is not None and rule_of(k) is DATE else v
        for k, v in resolved.values.items()
    }
    return Report(con, settings, values, resolved.sources, resolved.data_range, currency)
