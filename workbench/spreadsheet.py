"""Text written for spreadsheet programs: cells that cannot run as formulas.

A CSV or workbook cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return is run as a formula when Excel or WPS opens the file
(OWASP's CSV injection list). Everything the workbench writes for people to
open goes through :func:`formula_safe`; it lives here, below the jobs, so that
a job's own exports (the audience packs) and the report's downloads use the
same rule.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet program read a cell as a formula."""


def formula_safe_text(value: Any) -> Any:
    """``value`` with a leading single quote if it is text a spreadsheet would run.

    Parameters:
        value: any cell value; only text is changed.

    Returns:
        ``"'" + value`` for text beginning with one of :data:`FORMULA_START`,
        else ``value`` unchanged.

    Example:
        >>> formula_safe_text("=HYPERLINK(1)"), formula_safe_text("tb_ab"), formula_safe_text(-3)
        ("'=HYPERLINK(1)", 'tb_ab', -3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def formula_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cannot run as a formula in a spreadsheet program.

    A text cell or column name that begins with one of :data:`FORMULA_START`
    gets a leading single quote, so the program shows it as text instead of
    running it (``=HYPERLINK(...)``, ``@SUM(1+1)``). Numbers, negative ones
    included, and dates stay as they are.

    Parameters:
        df: the frame about to be written.

    Returns:
        A new frame; ``df`` is left as it is.

    Example:
        >>> out = formula_safe(pd.DataFrame({"file": ["=1+1.csv", "a.csv"], "n": [-3, 4]}))
        >>> out["file"].tolist(), out["n"].tolist()
        (["'=1+1.csv", 'a.csv'], [-3, 4])
    """
    out = df.copy()
    for col in out.columns:
        if not (
            pd.api.types.is_numeric_dtype(out[col])
            or pd.api.types.is_datetime64_any_dtype(out[col])
        ):
            out[col] = out[col].astype(object).map(formula_safe_text)
    out.columns = [formula_safe_text(c) for c in out.columns]
    return out


def formula_safe_expr(value: ir.StringValue) -> ir.StringValue:
    """:func:`formula_safe_text` as an engine expression, for text written from a query.

    Parameters:
        value: a string expression.

    Returns:
        ``"'" || value`` where ``value`` begins with one of :data:`FORMULA_START`,
        else ``value``.

    Example:
        >>> t = ibis.memtable({"nick": ["=1+2", "tb_a"]})
        >>> t.select(safe=formula_safe_expr(t.nick)).to_pandas()["safe"].tolist()
        ["'=1+2", 'tb_a']
    """
    starts = functools.reduce(operator.or_, [value.startswith(s) for s in FORMULA_START])
    return ibis.cases((starts, "'" + value), else_=value)
