"""Tables and charts of the 01_unify report."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from workbench.report.labels import label, relabel
from workbench.report.theme import table


def arrivals_table(files: pd.DataFrame, lang: str = "zh") -> Any:
    """Files received per platform and format: count, data rows, size, encodings.

    Parameters:
        files: the frame from :func:`workbench.sources.inventory`.
        lang: ``zh`` or ``en``.
    """
    g = (
        files.groupby(["platform", "format"], as_index=False)
        .agg(
            files=("file", "count"),
            rows=("rows", "sum"),
            bytes=("bytes", "sum"),
            encoding=("encoding", lambda e: ", ".join(sorted(set(e)))),
        )
        .sort_values(["platform", "format"])
    )
    g["size_mb"] = g.pop("bytes") / 1e6
    return table(relabel(g, lang, values=["platform"]), formats={label("size_mb", lang): "{:,.1f}"})


def arrivals_chart(files: pd.DataFrame, lang: str = "zh") -> alt.Chart:
    """Data rows received per platform, stacked by export format."""
    g = files.groupby(["platform", "format"], as_index=False)["rows"].sum()
    g["platform_label"] = g["platform"].map(lambda p: label(p, lang))
    return (
        alt.Chart(g)
        .mark_bar()
        .encode(
            x=alt.X("rows:Q", title=label("rows", lang)),
            y=alt.Y("platform_label:N", title=label("platform", lang), sort="-x"),
            color=alt.Color(
                "format:N", title=label("format", lang), scale=alt.Scale(scheme="tableau20")
            ),
            tooltip=["platform_label:N", "format:N", alt.Tooltip("rows:Q", format=",")],
        )
        .properties(height=alt.Step(26))
    )
