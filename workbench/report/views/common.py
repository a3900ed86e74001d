"""Pieces every report shares: the summary strip, notices, chart titles and labels."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd

from workbench.config import JobSettings, specs
from workbench.report.labels import label
from workbench.report.theme import Table, table

STRIP_CSS = (
    "display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 14px;"
    "font-family:system-ui,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif"
)
ITEM_CSS = (
    "flex:1 1 140px;border:1px solid #dfe5ec;border-radius:6px;padding:8px 12px;background:#f8fafc"
)


class DataText(str):
    """Text that comes from the data (an arm's name as the CRM wrote it), shown as it is in
    a report of either language, marked as data in the page."""


Part = str | tuple[str, ...]


def with_data(template: str, **values: str) -> tuple[str, ...]:
    """A label whose ``{name}`` fields are filled with text from the data, each marked as
    :class:`DataText`: ``with_data("Files: {path}", path="plans/x-v1")``."""
    pieces = re.split(r"\{(\w+)\}", template)
    return tuple(DataText(values[p]) if i % 2 else p for i, p in enumerate(pieces) if p)


def _text(part: Part) -> str:
    """A label, or a sequence of labels and :class:`DataText`, as escaped HTML."""
    pieces = part if isinstance(part, tuple) else (part,)
    return "".join(
        f'<span class="data">{html.escape(p)}</span>' if isinstance(p, DataText) else html.escape(p)
        for p in pieces
    )


@dataclass(frozen=True)
class Strip:
    """A row of headline figures: (label, value text, note) each. Renders as HTML; a
    label or value may mix labels with :class:`DataText`."""

    items: Sequence[tuple[Part, Part, str]]

    def _repr_html_(self) -> str:
        cells = "".join(
            f'<div class="wb-figure" style="{ITEM_CSS}">'
            f'<div style="font-size:12px;color:#555">{_text(name)}</div>'
            f'<div style="font-size:22px;font-weight:600;color:#1f5f8b">{_text(value)}</div>'
            + (f'<div style="font-size:11px;color:#777">{html.escape(note)}</div>' if note else "")
            + "</div>"
            for name, value, note in self.items
        )
        return f'<div class="wb-strip" style="{STRIP_CSS}">{cells}</div>'


@dataclass(frozen=True)
class Note:
    """A short paragraph or warning from the package, escaped, in the report's language."""

    text: Part
    warning: bool = False

    def _repr_html_(self) -> str:
        style = "color:#8a1c1c;font-weight:600" if self.warning else "color:#444"
        mark = "⚠ " if self.warning else ""
        return f'<p class="wb-note" style="{style}">{mark}{_text(self.text)}</p>'


@dataclass(frozen=True)
class Code:
    """A line of code or a filter, shown as written (escaped)."""

    text: str

    def _repr_html_(self) -> str:
        return f'<pre class="wb-code"><code>{html.escape(self.text)}</code></pre>'


@dataclass(frozen=True)
class Stack:
    """Several outputs of one view, one under the other."""

    parts: Sequence[Any]

    def _repr_html_(self) -> str:
        return "".join(p._repr_html_() for p in self.parts if p is not None)


def title(key: str, lang: str, subtitle: str | None = None) -> alt.TitleParams:
    """A chart title inside the chart, so a saved image stands on its own."""
    if subtitle:
        return alt.TitleParams(label(key, lang), subtitle=subtitle, anchor="start")
    return alt.TitleParams(label(key, lang), anchor="start")


def tip(field: str, key: str, lang: str, fmt: str | None = None) -> Any:
    """A tooltip entry titled with the label of ``key``."""
    if fmt:
        return alt.Tooltip(field, title=label(key, lang), format=fmt)
    return alt.Tooltip(field, title=label(key, lang))


LARGE_NUMBER_UNITS: dict[str, tuple[tuple[float, str], ...]] = {
    "zh": ((1e8, "亿"), (1e4, "万")),
    "en": ((1e9, "B"), (1e6, "M"), (1e3, "K")),
}
"""Units an axis writes large numbers in, largest first: 万 and 亿 in Chinese."""


def number_axis(lang: str, **kwargs: Any) -> alt.Axis:
    """An axis whose labels write large numbers in the language's units (50万, 500K)."""
    expr = "format(datum.value, ',')"
    for size, unit in reversed(LARGE_NUMBER_UNITS[lang]):
        expr = (
            f"abs(datum.value) >= {size:.0f} ? "
            f"format(datum.value / {size:.0f}, '~g') + '{unit}' : {expr}"
        )
    return alt.Axis(labelExpr=expr, **kwargs)


def settings_table(
    settings: JobSettings,
    lang: str,
    name: str,
    worded: Mapping[str, str] | None = None,
    shown: Mapping[str, object] | None = None,
) -> Table:
    """Every setting a job ran with, by its label, in the order it is declared: the
    choices behind every figure of the report. A setting named in ``worded`` shows the
    label ``prefix + value``; one in ``shown`` shows that value instead of its own; an
    empty value shows as a dash."""
    worded, shown = worded or {}, shown or {}
    rows = []
    for key in specs(type(settings)):
        value = shown.get(key, getattr(settings, key))
        if key in worded:
            value = label(f"{worded[key]}{value}", lang)
        elif value in ("", None, (), []):
            value = "–"
        rows.append({"setting": label(key, lang), "value": str(value)})
    return table(pd.DataFrame(rows), caption=label(f"{name}_title", lang), lang=lang, name=name)
