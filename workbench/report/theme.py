"""The shared Altair theme and pandas table style of every report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd

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
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "right"},
            "title": {"fontSize": 14, "anchor": "start", "color": "#222"},
            "bar": {"color": PALETTE[0]},
            "line": {"color": PALETTE[0], "strokeWidth": 2},
            "point": {"color": PALETTE[0]},
        }
    }


# JupyterLab renders this mimetype with its bundled Vega-Lite, offline; the
# report export turns it into an inline chart backed by the inlined Vega bundle.
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
    {"selector": "th", "props": "background: #f3f5f8; text-align: left; padding: 4px 10px;"},
    {"selector": "td", "props": "padding: 3px 10px; border-bottom: 1px solid #eee;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: 600;"},
]


def table(
    df: pd.DataFrame,
    caption: str | None = None,
    formats: Mapping[str, str] | None = None,
    index: bool = False,
) -> Any:
    """Style a small result for a report: thousands separators, escaped text.

    Parameters:
        df: a small, already aggregated frame.
        caption: optional caption above the table.
        formats: per-column format strings, e.g. ``{"share": "{:.1%}"}``.
        index: show the index.

    Returns:
        A pandas ``Styler``; every text value from data is HTML-escaped.

    Example:
        >>> html = table(pd.DataFrame({"name": ["<b>x</b>"], "n": [1234]})).to_html()
        >>> "&lt;b&gt;x&lt;/b&gt;" in html and "1,234" in html
        True
    """
    default: dict[str, str] = {}
    for col in df.columns:
        if pd.api.types.is_integer_dtype(df[col]):
            default[col] = "{:,}"
        elif pd.api.types.is_float_dtype(df[col]):
            default[col] = "{:,.2f}"
    default.update(formats or {})
    styler = df.style.format(default, escape="html", na_rep="–").format_index(escape="html")
    styler = styler.format_index(escape="html", axis=1).set_table_styles(TABLE_CSS)
    styler = styler.set_table_attributes('class="wb-table"')
    text_cols = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if text_cols:
        styler = styler.set_properties(subset=text_cols, **{"text-align": "left"})
    if caption:
        styler = styler.set_caption(_escape(caption))
    if not index:
        styler = styler.hide(axis="index")
    return styler


def _escape(text: str) -> str:
    import html

    return html.escape(text)
