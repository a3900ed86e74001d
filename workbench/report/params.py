"""Notebook parameters: declared in the notebook, checked before a run, defaulted from settings.

A notebook declares its parameters in its first cell, tagged ``parameters``,
one typed assignment per line with a comment saying what it accepts::

    as_of: "Optional[str]" = None  # reporting date YYYY-MM-DD; None: the last order date
    link_threshold: "Optional[float]" = None  # (0, 1); None: the setting link_threshold
    lang: "Optional[str]" = None  # "zh" or "en"; None: the setting lang

``None`` means "not chosen here": the value then comes from the settings (for
parameters that are settings), from the data (``as_of``: the last order date
in the warehouse) or stays ``None``. :func:`check_parameters` reads the
declaration with papermill and checks given values before a kernel starts;
:func:`resolve_parameters` gives the effective value of every parameter and
where it came from. The runner and the notebook's first cell call the same
two functions, so the header of a report and its content never disagree.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import JOB_SETTINGS, LANGS, Settings, specs
from workbench.errors import ParameterError

# A notebook parameter named as one of a job's settings takes that setting's rule and default.

SETTING_PARAMETERS: dict[str, str] = {
    "lang": "lang",
    "link_threshold": "link_threshold",
    **{name: f"{job}.{name}" for job, cls in JOB_SETTINGS.items() for name in specs(cls)},
}
"""Parameters whose default is the setting of the same name (a dotted path in Settings)."""


@dataclass(frozen=True)
class Declared:
    """One parameter as the notebook declares it."""

    name: str
    type: str  # the annotation: "str", "float", "Optional[str]", ...
    default: Any
    help: str

    @property
    def base(self) -> str:
        """The type without ``Optional[...]``."""
        t = self.type.strip()
        return t[len("Optional[") : -1].strip() if t.startswith("Optional[") else t

    @property
    def nullable(self) -> bool:
        return self.type.strip().startswith("Optional[") or self.default is None


def declared_parameters(notebook: str | Path) -> dict[str, Declared]:
    """The parameters a notebook declares, in order (empty when it has no parameters cell)."""
    from papermill.inspection import inspect_notebook

    found = inspect_notebook(str(notebook))
    out: dict[str, Declared] = {}
    for name, p in found.items():
        try:
            default = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            default = p["default"]
        type_name = str(p["inferred_type_name"])
        if type_name == "None":
            type_name = type(default).__name__ if default is not None else "str"
        out[name] = Declared(name, type_name, default, str(p.get("help", "")))
    return out


def _date(value: Any) -> str:
    """A date as ``YYYY-MM-DD`` text: how a run passes it to papermill and records it."""
    return as_date(value).isoformat()


def as_date(value: Any) -> dt.date:
    """A calendar date from a date, a datetime or ``YYYY-MM-DD`` text (``ValueError`` else)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    return dt.date.fromisoformat(text) if len(text) == 10 else _bad()


def _bad() -> Any:
    raise ValueError


def _probability(value: Any) -> float:
    x = _number(value)
    if not 0.0 < x < 1.0:
        raise ValueError
    return x


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    return float(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    return int(str(value).strip()) if isinstance(value, str) else int(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError


def _lang(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in LANGS:
        raise ValueError
    return text


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError
    return str(value)


@dataclass(frozen=True)
class Rule:
    """How a value is read, and the words that say what is accepted."""

    read: Callable[[Any], Any]
    accepts: str


DATE = Rule(_date, "a calendar date YYYY-MM-DD")


def _positive(value: Any) -> float:
    x = _number(value)
    if not x > 0:
        raise ValueError
    return x


def _not_negative(value: Any) -> float:
    x = _number(value)
    if not x >= 0:
        raise ValueError
    return x


def _currency(value: Any) -> str:
    from workbench.report.format import CURRENCY_SIGNS

    code = _text(value).strip().upper()
    if code not in CURRENCY_SIGNS:
        raise ValueError
    return code


def _plan_name(value: Any) -> str:
    from workbench.plan import check_name

    return check_name(_text(value))


POSITIVE = Rule(_positive, "a number above 0")

BY_NAME: dict[str, Rule] = {
    **{
        name: Rule(spec.read, spec.accepts)
        for cls in JOB_SETTINGS.values()
        for name, spec in specs(cls).items()
    },
    "as_of": DATE,
    "compare_as_of": DATE,
    "target": POSITIVE,
    "target_growth": POSITIVE,
    "target_new": Rule(_not_negative, "a number, 0 or more"),
    "plan_name": Rule(_plan_name, "a name of letters, digits, _ - and ., at most 80 characters"),
    "lang": Rule(_lang, "zh or en"),
    "table_currency": Rule(_currency, "a currency code: CNY, EUR, GBP or USD"),
    "link_threshold": Rule(_probability, "a probability strictly between 0 and 1"),
}
BY_TYPE: dict[str, Rule] = {
    "float": Rule(_number, "a number"),
    "int": Rule(_integer, "a whole number"),
    "bool": Rule(_bool, "true or false"),
    "str": Rule(_text, "text"),
}


def _days(value: Any) -> int:
    n = _integer(value)
    if n < 0:
        raise ValueError
    return n


DAYS = Rule(_days, "a whole number of days, 0 or more")


def rule_of(name: str, declared: Declared | None = None) -> Rule:
    """How parameter ``name`` is read: by its name where that says more, else by its type."""
    if name in BY_NAME:
        return BY_NAME[name]
    if name.endswith("_days"):
        return DAYS
    return BY_TYPE.get(declared.base if declared else "str", BY_TYPE["str"])


def check_value(name: str, value: Any, declared: Declared | None = None) -> Any:
    """``value`` read as parameter ``name`` accepts it; ``None`` stays ``None`` if allowed.

    Raises:
        ParameterError: one line naming the parameter, what it accepts and what it got.

    Example:
        >>> check_value("as_of", "2026-02-28"), check_value("link_threshold", "0.95")
        ('2026-02-28', 0.95)
    """
    if value is None and (declared is None or declared.nullable):
        return None
    rule = rule_of(name, declared)
    try:
        return rule.read(value)
    except (ValueError, TypeError, OverflowError):
        raise ParameterError(f"parameter {name} takes {rule.accepts}; got {value!r}") from None


def check_parameters(notebook: str | Path, given: Mapping[str, Any]) -> dict[str, Any]:
    """Check the values given to a notebook against what it declares, before any run.

    Values given as text (``-p NAME VALUE`` on the command line) are read by the
    declared type: ``-p link_threshold 0.95`` gives a float.

    Returns:
        The given values, read by their declared types.

    Raises:
        ParameterError: an unknown name, a value of the wrong type, a date that is
            not on the calendar, a value out of range, a language other than zh or en.

    Example:
        >>> check_parameters("notebooks/01_unify.ipynb", {"lang": "EN"})  # doctest: +SKIP
        {'lang': 'en'}
    """
    declared = declared_parameters(notebook)
    unknown = [k for k in given if k not in declared]
    if unknown:
        known = ", ".join(declared) or "none"
        raise ParameterError(
            f"{Path(notebook).name} has no parameter {unknown[0]}; it takes: {known}"
        )
    return {k: check_value(k, v, declared[k]) for k, v in given.items()}


def notebook_jobs(notebook: str | Path) -> tuple[str, ...]:
    """The jobs whose settings a notebook runs with: those its code asks for with
    ``r.job_settings("<job>")``, in order."""
    import json

    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    found = re.findall(r"job_settings\(\s*[\"'](\w+)[\"']\s*\)", code)
    return tuple(dict.fromkeys(j for j in found if j in JOB_SETTINGS))


def effective_settings(
    jobs: Iterable[str], values: Mapping[str, Any], sources: Mapping[str, str], settings: Settings
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every setting of ``jobs`` as a run uses it (a parameter of the same name overrides
    the setting), as ``{"segment.active_rc": 2.0}``, and where each came from."""
    out: dict[str, Any] = {}
    where: dict[str, str] = {}
    for job in jobs:
        chosen = getattr(settings, job).updated(values)
        for name in specs(JOB_SETTINGS[job]):
            key = f"{job}.{name}"
            out[key] = getattr(chosen, name)
            if values.get(name) is not None and name in sources:
                where[key] = sources[name]
            else:
                where[key] = f"setting ({settings.source.get(key, 'default')})"
    return out, where


@dataclass(frozen=True)
class Resolved:
    """Every parameter's effective value, where it came from, and the data's date range."""

    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    data_range: tuple[str, str] | None = None


def order_dates(con: Any) -> tuple[str, str] | None:
    """First and last order dates in the warehouse (ISO), or ``None`` without orders."""
    if con is None:
        return None
    from workbench.unify import order_days  # the package of ingestion: only with a warehouse

    days = order_days(con)
    return None if days is None else (days[0].isoformat(), days[1].isoformat())


def resolve_parameters(
    values: Mapping[str, Any],
    settings: Settings,
    con: Any | None = None,
    given: Iterable[str] = (),
) -> Resolved:
    """The effective value of every parameter, and where each came from.

    A value that is not ``None`` is kept (``given`` names those passed to this run,
    the others are the notebook's own). ``None`` becomes the setting of the same
    name (``lang``, ``link_threshold``, the segment settings) or, for ``as_of``, the
    last order date in the warehouse, and for ``compare_as_of`` the setting
    ``compare_days`` before ``as_of``.

    Parameters:
        values: the notebook's defaults updated with the checked given values.
        settings: the resolved settings.
        con: an Ibis backend on the warehouse, to read the order dates.
        given: names of the parameters passed to this run.
    """
    given = set(given)
    # a review of an experiment file reads no orders: the warehouse's span is not its data's
    data_range = None if values.get("experiment_file") else order_dates(con)
    out: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in values.items():
        if value is not None:
            out[name], sources[name] = value, "given" if name in given else "notebook"
        elif name in SETTING_PARAMETERS:
            key = SETTING_PARAMETERS[name]
            value_of: Any = settings
            for part in key.split("."):
                value_of = getattr(value_of, part)
            out[name] = value_of
            sources[name] = f"setting ({settings.source.get(key, 'default')})"
        elif name == "as_of" and data_range is not None:
            out[name], sources[name] = data_range[1], "last order date"
        elif name == "compare_as_of" and out.get("as_of"):
            days = int(out.get("compare_days") or settings.segment.compare_days)
            before = as_date(out["as_of"]) - dt.timedelta(days=days)
            out[name], sources[name] = before.isoformat(), f"{days} days before as_of"
        else:
            out[name], sources[name] = None, "not set"
    try:
        for job in JOB_SETTINGS:
            getattr(settings, job).updated(out)
    except ValueError as exc:
        raise ParameterError(f"parameters: {exc}") from None
    return Resolved(out, sources, data_range)
