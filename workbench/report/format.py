"""Numbers as a Chinese or English reader expects them: ￥ and 万/亿, %, KB and MB.

Each function takes the value and ``lang`` and returns text; a missing value
(``None`` or NaN) is shown as an en dash.

Money is shown in the report's currency: :func:`workbench.report.start` reads the
warehouse's once and sets it here (:func:`use_currency`), as it sets the chart
theme, so every view of the report formats amounts in it; a call may name another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

DASH = "–"

CURRENCY_SIGNS: dict[str, dict[str, str]] = {
    "CNY": {"zh": "￥", "en": "¥"},
    "USD": {"zh": "$", "en": "$"},
    "GBP": {"zh": "£", "en": "£"},
    "EUR": {"zh": "€", "en": "€"},
}
"""The sign an amount is written with, per ISO currency code and language: the yuan
as a Chinese reader writes it (full-width ￥) and as an English one does (¥)."""

_report = {"currency": "CNY"}


def use_currency(code: str) -> None:
    """Show money in ``code`` (``CNY``, ``USD``, ``GBP`` or ``EUR``) from now on.

    Raises:
        ValueError: a currency the reports cannot show.
    """
    if code not in CURRENCY_SIGNS:
        raise ValueError(f"unknown currency {code!r}; known: {', '.join(sorted(CURRENCY_SIGNS))}")
    _report["currency"] = code


def currency() -> str:
    """The ISO code money is shown in (the report's; ``CNY`` until one is set)."""
    return _report["currency"]


@contextmanager
def currency_of(code: str) -> Iterator[None]:
    """Show money in ``code`` inside the block, then as before.

    Example:
        >>> with currency_of("USD"):
        ...     money(1234567, "en")
        '$1.23M'
    """
    before = currency()
    use_currency(code)
    try:
        yield
    finally:
        use_currency(before)


def currency_sign(lang: str = "zh", code: str | None = None) -> str:
    """The sign of ``code`` (the report's currency when ``None``) in ``lang``."""
    return CURRENCY_SIGNS[code or currency()]["zh" if lang == "zh" else "en"]


def with_unit(title: str, code: str | None = None) -> str:
    """A column or axis title that names its unit: ``净销售额 (USD)``, ``Net sales (CNY)``."""
    return f"{title} ({code or currency()})"


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


def money(x: Any, lang: str = "zh", short: bool = True, code: str | None = None) -> str:
    """An amount in the report's currency (or ``code``): ``￥45.6万`` (zh) or ``¥456K``
    (en) for yuan, ``$1.23M`` for dollars; ``short=False`` gives every whole unit.

    Example:
        >>> money(1234567, "zh"), money(1234567, "en"), money(980.4, "zh", short=False)
        ('￥123.5万', '¥1.23M', '￥980')
        >>> money(1234567, "zh", code="USD"), money(-980.4, "en", short=False, code="GBP")
        ('$123.5万', '-£980')
    """
    if _missing(x):
        return DASH
    value = float(x)
    text = _short(abs(value), lang) if short else f"{abs(value):,.0f}"
    return ("-" if value < 0 and text.strip("0.,") else "") + currency_sign(lang, code) + text


def cents(x: Any, lang: str = "zh", code: str | None = None) -> str:
    """A small amount to the cent (the fen), in the report's currency (or ``code``): a
    revenue per head, a lift in it.

    Example:
        >>> cents(0.7698, "en"), cents(-0.1, "zh", code="USD")
        ('¥0.77', '-$0.10')
    """
    if _missing(x):
        return DASH
    value = float(x)
    text = f"{abs(value):,.2f}"
    return ("-" if value < 0 and text.strip("0.,") else "") + currency_sign(lang, code) + text


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
