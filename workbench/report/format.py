"""Numbers as a Chinese or English reader expects them: ￥ and 万/亿, %, KB and MB.

Each function takes the value and ``lang`` and returns text; a missing value
(``None`` or NaN) is shown as an en dash.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

DASH = "–"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _short(x: float, lang: str) -> str:
    """A large number shortened: 1.23亿 / 45.6万 in Chinese, 1.23B / 45.6M / 12.3K in English."""
    a = abs(x)
    if lang == "zh":
        for step, unit in ((1e8, "亿"), (1e4, "万")):
            if a >= step:
                return f"{x / step:,.{2 if a < 10 * step else 1}f}{unit}"
        return f"{x:,.0f}"
    for step, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= step:
            return f"{x / step:,.{2 if a < 10 * step else 1}f}{unit}"
    return f"{x:,.0f}"


def money(x: Any, lang: str = "zh", short: bool = True) -> str:
    """An amount of yuan: ``￥45.6万`` (zh) or ``¥456K`` (en); ``short=False`` gives every digit.

    Example:
        >>> money(1234567, "zh"), money(1234567, "en"), money(980.4, "zh", short=False)
        ('￥123.5万', '¥1.23M', '￥980')
    """
    if _missing(x):
        return DASH
    sign = "￥" if lang == "zh" else "¥"
    return sign + (_short(float(x), lang) if short else f"{float(x):,.0f}")


def count(x: Any, lang: str = "zh", short: bool = False) -> str:
    """A count with thousands separators, or shortened (``1.76万``, ``17.6K``).

    Example:
        >>> count(17592), count(17592, "zh", short=True), count(17592, "en", short=True)
        ('17,592', '1.76万', '17.6K')
    """
    if _missing(x):
        return DASH
    return _short(float(x), lang) if short else f"{float(x):,.0f}"


def pct(x: Any, digits: int = 1) -> str:
    """A share as a percentage.

    Example:
        >>> pct(0.98564), pct(0.5, 0)
        ('98.6%', '50%')
    """
    if _missing(x):
        return DASH
    return f"{float(x) * 100:.{digits}f}%"


def size(n_bytes: Any) -> str:
    """A file size: KB under 0.1 MB, else MB (decimal units, as file managers show).

    Example:
        >>> size(2_300), size(99_000), size(12_345_678)
        ('2.3 KB', '99.0 KB', '12.3 MB')
    """
    if _missing(n_bytes):
        return DASH
    n = float(n_bytes)
    return f"{n / 1e3:,.1f} KB" if n < 1e5 else f"{n / 1e6:,.1f} MB"


def fixed(digits: int) -> Callable[[Any], str]:
    """A formatter with ``digits`` decimals (for thresholds and weights)."""

    def fmt(x: Any) -> str:
        return DASH if _missing(x) else f"{float(x):,.{digits}f}"

    return fmt
