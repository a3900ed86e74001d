"""Job 3, campaign planning: the history table, the baseline with its interval, the gap to
the target, levers and the suggestion, the phase strategy table, and audience packs with
holdouts.

The job's entry is :func:`run` (one plan for the coming edition of a promotion)
and :func:`write` (save it under its name as a new version): the CLI, the
03_plan notebook and the review job call the same two, and :func:`stored`
reads a saved plan back. Its settings are
:class:`workbench.config.PlanSettings`, declared once.

Example:
    >>> from workbench import plan
    >>> p = plan.run(con, as_of, "double11-2026", 2_000_000, settings.plan)  # doctest: +SKIP
    >>> plan.write(con, p)  # doctest: +SKIP
    1

Modules (internal): ``editions`` (the dates of each edition), ``history``,
``baseline`` (estimates, intervals, gap), ``levers`` (levers and the
suggestion), ``strategy`` (the strategy library), ``arms`` (holdout and
benefit arms), ``power``, ``export`` (pack files), ``job`` (run, write, stored).
"""

from workbench.plan.editions import PHASES, Edition
from workbench.plan.job import (
    Exported,
    Plan,
    Stored,
    backtest,
    check_name,
    export,
    pack_sizes,
    packs,
    power,
    run,
    stored,
    with_levers,
    write,
)
from workbench.plan.levers import LEVER_COLUMNS, empty_levers

__all__ = [
    "LEVER_COLUMNS",
    "PHASES",
    "Edition",
    "Exported",
    "Plan",
    "Stored",
    "backtest",
    "check_name",
    "empty_levers",
    "export",
    "pack_sizes",
    "packs",
    "power",
    "run",
    "stored",
    "with_levers",
    "write",
]
