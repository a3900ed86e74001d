"""The shared Altair theme and pandas table style of every report."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import pandas as pd

from workbench.report.format import CURRENCY_SIGNS
from workbench.report.labels import label, relabel
from workbench.spreadsheet import formula_safe

FONT = "'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', 'Source Han Sans SC', sans-serif"
PALETTE = [
    "#1f5f8b",
    "#e07b39",
    "#3f9c6d",
    "#c44e52",
    "#8172b2",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
]


def theme() -> dict[str, Any]:
    """Vega-Lite config used by every chart (registered as Altair theme ``workbench``)."""
    return {
        "config": {
            "font": FONT,
            "view": {"continuousWidth": 560, "continuousHeight": 300, "stroke": None},
            "range": {"category": PALETTE},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#e8e8e8"},
            # Axis titles read horizontally (Chinese set sideways is hard to read): the
            # y title sits above the axis, left-aligned.
            "axisY": {
                "titleAngle": 0,
                "titleAlign": "left",
                "titleAnchor": "end",
                "titleBaseline": "bottom",
                "titleX": 0,
                "titleY": -8,
            },
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "top"},
            "title": {"fontSize": 14, "anchor": "start", "color": "#222", "offset": 18},
            "bar": {"color": PALETTE[0]},
            "line": {"color": PALETTE[0], "strokeWidth": 2},
            "point": {"color": PALETTE[0]},
        }
    }


# JupyterLab renders this mimetype with its bundled Vega-Lite, offline; the
# report export turns it into an inline chart backed by the inlined Vega bundle
# (Vega-Lite 6, as Altair writes). The label stays v5 although the specs are
# Vega-Lite 6: JupyterLab 4.6 has renderers for v3 to v5 only, so a chart labelled
# v6 shows as its text "<Chart>"; labelled v5, Lab's Vega-Lite 5 draws it and notes
# the version difference in the browser console.
CHART_MIME = "application/vnd.vegalite.v5+json"


def chart_renderer(spec: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Altair renderer: the spec under a mimetype JupyterLab and the report both read."""
    return {CHART_MIME: spec, "text/plain": "<Chart>"}


def enable_theme() -> None:
    """Enable the ``workbench`` Altair theme and chart renderer (idempotent).

    Charts then render in JupyterLab without network access, and export to the
    self-contained report HTML.
    """
    if "workbench" not in alt.theme.names():
        alt.theme.register("workbench", enable=False)(
            lambda: alt.theme.ThemeConfig(config=theme()["config"])
        )
    alt.theme.enable("workbench")
    alt.renderers.register("workbench", chart_renderer)
    alt.renderers.enable("workbench")


TABLE_CSS = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 13px;"},
    {
        "selector": "th",
        "props": "background: #f3f5f8; text-align: left; padding: 4px 10px; white-space: nowrap;",
    },
    {
        "selector": "td",
        "props": "padding: 3px 10px; border-bottom: 1px solid #eee; white-space: nowrap;",
    },
    {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: 600;"},
]

Formatter = str | Callable[[Any], str]


@dataclass
class Table:
    """A report table: the styled HTML in a sideways-scrolling box, and a CSV download.

    The CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Chinese) is
    embedded in the page as a data link: it downloads offline. Text that a
    spreadsheet would run as a formula is neutralised (:func:`formula_safe`).
    """

    styler: Any
    data: pd.DataFrame
    name: str = "table"
    lang: str = "zh"
    digits: Mapping[str, int] = field(default_factory=dict)

    def csv_frame(self) -> pd.DataFrame:
        """What the CSV download holds: the data, numbers rounded to the decimals the
        table shows (money to the fen at least), text neutralised for spreadsheets."""
        data = self.data.copy()
        for col, d in self.digits.items():
            if col in data.columns and not pd.api.types.is_float_dtype(data[col]):
                # exact money arrives as decimals: read them as numbers to round them
                numbers = pd.to_numeric(data[col], errors="coerce").astype("float64")
                if numbers.notna().sum() == data[col].notna().sum():
                    data[col] = numbers
            if col in data.columns and pd.api.types.is_float_dtype(data[col]):
                data[col] = data[col].round(d)
        return formula_safe(data)

    def with_download(
        self, numbers: pd.DataFrame, formats: Mapping[str, Formatter] | None = None
    ) -> Table:
        """This table with a CSV of ``numbers`` instead of what it shows: for a table
        that writes numbers as text (a count with its sales in brackets), so the
        download holds numbers a spreadsheet can add up.

        Parameters:
            numbers: the figures, one per column, named as the download should name them.
            formats: how the table shows each column, by ``numbers``' names: the CSV
                keeps the decimals it shows (money the fen); others keep two.

        Example:
            >>> t = table(pd.DataFrame({"cell": ["3 (￥1,235)"]}))
            >>> t.with_download(pd.DataFrame({"persons": [3], "net": [1234.567]})).csv_frame()
               persons      net
            0        3  1234.57
        """
        shown = {**dict.fromkeys(numbers.columns, "{:,.2f}"), **(formats or {})}
        digits = {
            col: shown_decimals(fmt, numbers[col])
            for col, fmt in shown.items()
            if col in numbers.columns and pd.api.types.is_float_dtype(numbers[col])
        }
        return dataclasses.replace(self, data=numbers, digits=digits)

    def csv_link(self) -> str:
        payload = ("\ufeff" + self.csv_frame().to_csv(index=False)).encode("utf-8")
        href = "data:text/csv;charset=utf-8;base64," + base64.b64encode(payload).decode()
        name = html.escape(re.sub(r"[^\w.-]+", "_", self.name) + ".csv")
        return (
            f'<a class="wb-csv" download="{name}" href="{href}">'
            f"{html.escape(label('download_csv', self.lang))}</a>"
        )

    def to_html(self) -> str:
        return (
            f'<div class="wb-table-box">{self.styler.to_html()}</div>'
            f'<div class="wb-table-tools">{self.csv_link()}</div>'
        )

    def _repr_html_(self) -> str:
        return self.to_html()


def table(
    df: pd.DataFrame,
    caption: str | None = None,
    formats: Mapping[str, Formatter] | None = None,
    index: bool = False,
    lang: str | None = None,
    values: Iterable[str] = (),
    name: str = "table",
) -> Table:
    """Style a small result for a report: labels, formatted numbers, escaped text, CSV.

    Parameters:
        df: a small, already aggregated frame.
        caption: optional caption above the table.
        formats: per-column format strings or functions, e.g. ``{"share": pct}``.
        index: show the index.
        lang: when given, columns are renamed to their labels in ``lang`` (``formats``
            stays keyed by the column names of ``df``), and so are the values of the
            columns named in ``values``.
        values: columns whose values are label keys (platforms, kinds).
        name: the CSV file's name.

    Returns:
        A :class:`Table`; every text value from data is HTML-escaped.

    Example:
        >>> html = table(pd.DataFrame({"name": ["<b>x</b>"], "n": [1234]})).to_html()
        >>> "&lt;b&gt;x&lt;/b&gt;" in html and "1,234" in html
        True
    """
    default: dict[str, Formatter] = {}
    for col in df.columns:
        if pd.api.types.is_integer_dtype(df[col]):
            default[col] = "{:,}"
        elif pd.api.types.is_float_dtype(df[col]):
            default[col] = "{:,.2f}"
    default.update(formats or {})
    if lang is not None:
        shown = relabel(df, lang, values=values)
        default = {label(k, lang): v for k, v in default.items()}
    else:
        shown = df
    styler = shown.style.format(default, escape="html", na_rep="–").format_index(escape="html")
    styler = styler.format_index(escape="html", axis=1).set_table_styles(TABLE_CSS)
    styler = styler.set_table_attributes('class="wb-table"')
    text_cols = [c for c in shown.columns if not pd.api.types.is_numeric_dtype(shown[c])]
    if text_cols:
        styler = styler.set_properties(subset=text_cols, **{"text-align": "left"})
    if caption:
        styler = styler.set_caption(html.escape(caption))
    if not index:
        styler = styler.hide(axis="index")
    digits = {
        col: shown_decimals(fmt, shown[col])
        for col, fmt in default.items()
        if col in shown.columns and _fractional(shown[col])
    }
    return Table(styler, shown.reset_index() if index else shown, name, lang or "zh", digits)


def _fractional(values: pd.Series) -> bool:
    """Whether a column holds numbers with decimals: floats, or exact money as Decimal
    objects (which the download reads as numbers to round them)."""
    if pd.api.types.is_float_dtype(values):
        return True
    kind = values.dtype
    if pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_integer_dtype(kind):
        return not pd.api.types.is_bool_dtype(kind)  # a decimal type of the engine
    if not pd.api.types.is_object_dtype(kind) or not values.notna().any():
        return False
    return bool(pd.to_numeric(values, errors="coerce").notna().sum() == values.notna().sum())


SCALES: dict[str, int] = {"%": -2, "万": 4, "亿": 8, "K": 3, "M": 6, "B": 9}
"""How many places a unit after a shown number moves the decimal point."""
SIGNS = tuple({sign for signs in CURRENCY_SIGNS.values() for sign in signs.values()})


def shown_decimals(formatter: Formatter, values: pd.Series) -> int:
    """The decimals a column's numbers carry as its formatter shows them: ``12.3%`` is
    three decimals of a share, ``￥123.5万`` whole yuan, kept to the fen for money.

    Example:
        >>> share = lambda x: f"{x * 100:.1f}%"
        >>> shown_decimals("{:,.1f}", pd.Series([49.333])), shown_decimals(share, pd.Series([0.1]))
        (1, 3)
    """
    sample = next((v for v in values if pd.notna(v)), None)
    if sample is None:
        return 2
    text = formatter.format(sample) if isinstance(formatter, str) else str(formatter(sample))
    m = re.search(r"\d[\d,]*(?:\.(\d+))?\s*(%|万|亿|K|M|B)?", text)
    if m is None:
        return 4
    d = len(m.group(1) or "") - SCALES.get(m.group(2) or "", 0)
    if any(sign in text for sign in SIGNS):
        d = max(d, 2)
    return max(d, 0)
