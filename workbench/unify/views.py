"""Tables and charts of the 01_unify report."""

from __future__ import annotations

from typing import Any

import altair as alt
import ibis
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


def _latest_log(con: Any) -> Any:
    log = con.table("ingest_log")
    latest = log.ingested_at.max().over(group_by=log.source_file)
    return log.filter(log.ingested_at == latest)


def loading_table(con: Any, lang: str = "zh") -> Any:
    """Per platform and format, from the latest ingestion of each file: rows read, loaded,
    rejected, and files refused. Read = loaded + rejected for every loaded file.

    Parameters:
        con: an Ibis backend on the warehouse (``workbench.engine.connect``).
        lang: ``zh`` or ``en``.
    """
    log = _latest_log(con)
    g = (
        log.group_by(["platform", "format"])
        .agg(
            files=log.count(),
            refused=(log.status == "refused").sum(),
            rows_read=log.rows_read.sum(),
            rows_loaded=log.rows_loaded.sum(),
            rows_rejected=log.rows_rejected.sum(),
        )
        .order_by(["platform", "format"])
        .to_pandas()
    )
    g["rejected_share"] = g["rows_rejected"] / g["rows_read"].where(g["rows_read"] > 0)
    return table(
        relabel(g, lang, values=["platform"]),
        formats={label("rejected_share", lang): "{:.1%}"},
    )


def rejection_table(con: Any, lang: str = "zh") -> Any:
    """Rejected rows by reason and column, with an example file and row to look at."""
    rej = con.table("rejected_rows")
    g = (
        rej.group_by(["reason", "column"])
        .agg(rows=rej.count(), files=rej.source_file.nunique(), example_file=rej.source_file.min())
        .order_by(ibis.desc("rows"))
        .to_pandas()
    )
    return table(relabel(g, lang))
