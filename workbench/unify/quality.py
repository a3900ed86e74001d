"""What was loaded and what was not: the tables behind the report's data-quality sections.

Every function reads the warehouse's bookkeeping (``ingest_log``,
``rejected_rows``, ``flagged_values``) through Ibis and returns a small frame.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.engine import round_to
from workbench.unify.channels import orders_until, person_channels

EXCLUDED_REASONS: tuple[str, ...] = (
    "cancelled order",
    "test order (paid 0.01)",
    "order not loaded (rejected or not in the order report)",
)
"""Reasons that keep a readable row out by rule; every other reason means it could not be read."""


def latest_log(con: Any) -> ir.Table:
    """``ingest_log``, the latest ingestion of each file only."""
    log = con.table("ingest_log")
    latest = log.ingested_at.max().over(group_by=log.source_file)
    return log.filter(log.ingested_at == latest)


def loading_summary(con: Any) -> pd.DataFrame:
    """Per platform and format, from the latest ingestion of each file: files, files
    refused, rows read, loaded and rejected, values flagged (loaded as empty), and
    the rejected share. Read = loaded + rejected for every loaded file."""
    log = latest_log(con)
    flagged = con.table("flagged_values").group_by("source_file").agg(values_flagged=ibis._.count())
    log = log.left_join(flagged, "source_file")
    g = (
        log.group_by(["platform", "format"])
        .agg(
            files=log.count(),
            refused=(log.status == "refused").sum(),
            rows_read=log.rows_read.sum(),
            rows_loaded=log.rows_loaded.sum(),
            rows_rejected=log.rows_rejected.sum(),
            values_flagged=log.values_flagged.fill_null(0).sum(),
        )
        .order_by(["platform", "format"])
        .to_pandas()
    )
    g["rejected_share"] = g["rows_rejected"] / g["rows_read"].where(g["rows_read"] > 0)
    return g


def rejection_summary(con: Any) -> pd.DataFrame:
    """Rejected rows per platform, kind, reason and column, with an example file.

    ``kind`` is ``excluded`` for readable rows kept out by a rule (cancelled
    orders, 0.01 test orders, lines of such orders) and ``unreadable`` for rows
    that could not be read (dates, amounts, ids, rows cut short).
    """
    rej = con.table("rejected_rows")
    log = latest_log(con).select("source_file", "platform")
    j = rej.left_join(log, "source_file")
    kind = j.reason.isin(EXCLUDED_REASONS).ifelse("excluded", "unreadable")
    j = j.mutate(kind=kind, platform=j.platform.fill_null(""))
    g = (
        j.group_by(["kind", "platform", "reason", "column"])
        .agg(rows=j.count(), files=j.source_file.nunique(), example_file=j.source_file.min())
        .to_pandas()
    )
    return g.sort_values(
        ["kind", "rows", "platform", "reason"], ascending=[True, False, True, True]
    ).reset_index(drop=True)


def headline(con: Any, threshold: float | None = None, as_of: str | None = None) -> dict[str, Any]:
    """The figures a reader wants first: persons who bought, orders, net sales, the
    multi-channel share, and rows read and rejected by the latest ingestion of each file.
    """
    pc = person_channels(con, threshold, as_of)
    per = pc.group_by("person_id").agg(n=pc.count())
    persons = per.aggregate(persons=per.count(), multi=(per.n > 1).sum()).to_pandas().iloc[0]
    orders = orders_until(con, as_of)
    o = orders.aggregate(
        orders=orders.count(), net_amount=round_to(orders.net_amount.sum(), 2)
    ).to_pandas()
    log = latest_log(con)
    rows = log.aggregate(read=log.rows_read.sum(), rejected=log.rows_rejected.sum()).to_pandas()
    n_persons = int(persons["persons"])
    return {
        "persons": n_persons,
        "orders": int(o["orders"].iat[0]),
        "net_amount": float(o["net_amount"].iat[0] or 0.0),
        "multi_channel_share": int(persons["multi"]) / n_persons if n_persons else None,
        "rows_read": int(rows["read"].iat[0] or 0),
        "rows_rejected": int(rows["rejected"].iat[0] or 0),
    }
