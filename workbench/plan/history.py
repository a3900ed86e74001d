"""The history table: how each segment x member tier cell bought in past editions.

A cell's population is the persons in it at the eve of an edition, as the
segment snapshot stored for that date has them (what the team would have seen
then); its buyers are those of them who bought in the edition's window (from
the first day of the warm-up to the last day of the close). Buyers who were
not in the pool at the eve at all (first seen during the edition) form one
more row, ``outside``, without a population.

Everything is aggregated in the engine; only one row per cell and edition
comes back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.config import SegmentSettings
from workbench.engine import round_to
from workbench.plan.editions import Edition
from workbench.segment import run as run_segment
from workbench.segment import stored, write
from workbench.segment.facts import our_brand
from workbench.segment.summary import NON_MEMBER
from workbench.unify.identity import accounts_at

SCHEME_COLUMNS: dict[str, str] = {
    "l1": "tier_l1",
    "l2": "tier_l2",
    "l3": "tier_l3",
    "s2": "tier_s2",
}
"""The snapshot column each planning scheme takes its rows from."""

OUTSIDE = "outside"
"""The row of buyers who were not in the pool at the eve (first seen in the edition)."""

NO_TIER = NON_MEMBER
"""The member tier of persons who are not members (as the segment job's summaries name it)."""

CELL = ["segment", "member_tier"]

HISTORY_COLUMNS = [
    "edition",
    "year",
    "segment",
    "member_tier",
    "new",
    "population",
    "buyers",
    "orders",
    "gmv",
    "gmv_sq",
    "rate",
    "aov",
]


def snapshot(
    con: Any,
    as_of: dt.date,
    settings: SegmentSettings | None = None,
    link_threshold: float | None = None,
) -> tuple[ir.Table, bool]:
    """The segment snapshot stored for ``as_of``; made and stored first when missing.

    Returns:
        The snapshot's rows and whether it was made now.
    """
    found, made = snapshots(con, [as_of], settings, link_threshold)
    return found[as_of], bool(made)


def snapshots(
    con: Any,
    dates: Sequence[dt.date],
    settings: SegmentSettings | None = None,
    link_threshold: float | None = None,
) -> tuple[dict[dt.date, ir.Table], list[dt.date]]:
    """The segment snapshots stored for ``dates``; those missing are made (without
    scores) and stored first.

    The latest missing one is made from the warehouse; each earlier one reads its
    purchases from the latest's (:func:`workbench.segment.facts.purchases`), so the
    order facts are computed once however many editions a plan looks back on.

    Returns:
        Each date's snapshot rows, and the dates whose snapshot was made now (oldest
        first).
    """
    found: dict[dt.date, ir.Table] = {}
    missing = []
    for day in sorted(set(dates), reverse=True):
        try:
            found[day] = stored(con, day)
        except LookupError:
            missing.append(day)
    within = None
    for day in missing:
        snap = run_segment(con, day, settings, link_threshold, scores=False, within=within)
        write(con, snap)
        within = within or snap.purchases
        found[day] = stored(con, day)
    return found, sorted(missing)


def cells(snap: ir.Table, scheme: str) -> ir.Table:
    """Each person of a snapshot with their cell: ``person_id``, ``segment``,
    ``member_tier`` (``none`` for a non-member) and ``new`` (never bought before)."""
    return snap.select(
        "person_id",
        segment=snap[SCHEME_COLUMNS[scheme]],
        member_tier=snap.member_tier.fill_null(NO_TIER),
        new=snap.tier_l1 == "potential",
    )


def window_spend(
    con: Any, start: dt.date, end: dt.date, link_threshold: float | None = None
) -> ir.Table:
    """Each person's purchases of our brand from ``start`` to ``end`` (both included):
    ``person_id``, ``orders``, ``gmv`` (net of refunds).

    A purchase is an order of positive net value, as in segmentation; an order all of
    whose lines are of another brand of the product master is not ours.
    """
    orders = con.table("orders")
    lo = ibis.date(start).cast("timestamp")
    hi = (ibis.date(end) + ibis.interval(days=1)).cast("timestamp")
    orders = orders.filter((orders.ordered_at >= lo) & (orders.ordered_at < hi))
    orders = orders.filter(orders.net_amount > 0)
    brand = our_brand(con)
    if brand is not None:
        lines = con.table("order_lines")
        products = con.table("products").select("sku", "brand")
        lines = lines.left_join(products, lines.sku == products.sku)
        other = lines.group_by("order_key").agg(
            theirs=(lines.brand.notnull() & (lines.brand != brand)).all()
        )
        other = other.filter(other.theirs)
        orders = orders.anti_join(other, "order_key")
    accounts = accounts_at(con, link_threshold)
    j = orders.join(accounts, orders.account_key == accounts.account_key)
    return j.group_by(accounts.person_id).agg(
        orders=j.order_key.count(), gmv=j.net_amount.sum().cast("float64")
    )


def edition_rows(
    con: Any,
    edition: Edition,
    population: ir.Table,
    link_threshold: float | None = None,
) -> pd.DataFrame:
    """One row per cell of ``population`` (from :func:`cells`) for one edition, and the
    ``outside`` row: population, buyers, orders, GMV and its sum of squares per buyer.
    """
    spend = window_spend(con, edition.start, edition.end, link_threshold)
    j = population.left_join(spend, "person_id")
    bought = j.gmv.notnull()
    per_cell = j.group_by(["segment", "member_tier", "new"]).agg(
        population=j.count(),
        buyers=bought.sum(),
        orders=j.orders.sum().fill_null(0),
        gmv=round_to(j.gmv.sum().fill_null(0.0), 2),
        gmv_sq=(j.gmv * j.gmv).sum().fill_null(0.0),
    )
    outside = spend.anti_join(population, "person_id")
    out_row = outside.aggregate(
        population=ibis.null("int64"),
        buyers=outside.count(),
        orders=outside.orders.sum().fill_null(0),
        gmv=round_to(outside.gmv.sum().fill_null(0.0), 2),
        gmv_sq=(outside.gmv * outside.gmv).sum().fill_null(0.0),
    ).mutate(
        segment=ibis.literal(OUTSIDE), member_tier=ibis.literal(NO_TIER), new=ibis.literal(True)
    )
    df = pd.concat([per_cell.to_pandas(), out_row.to_pandas()], ignore_index=True)
    df.insert(0, "year", edition.year)
    df.insert(0, "edition", edition.name)
    df["population"] = df["population"].astype("Int64")
    for c in ("buyers", "orders"):
        df[c] = df[c].astype("int64")
    df["rate"] = df["buyers"] / df["population"].astype("float64")
    df["aov"] = (df["gmv"] / df["buyers"].where(df["buyers"] > 0)).round(2)
    return df[HISTORY_COLUMNS]


def history(
    con: Any,
    editions: list[Edition],
    scheme: str = "s2",
    settings: SegmentSettings | None = None,
    link_threshold: float | None = None,
) -> tuple[pd.DataFrame, list[dt.date]]:
    """The history table of ``editions``: :func:`edition_rows` of each, oldest first.

    Each edition's population is the snapshot stored for its eve, made and stored
    by the segment job first where missing.

    Returns:
        The table (one row per cell and edition) and the eves whose snapshot was made now.
    """
    snaps, made = snapshots(con, [e.eve for e in editions], settings, link_threshold)
    frames = [edition_rows(con, e, cells(snaps[e.eve], scheme), link_threshold) for e in editions]
    if not frames:
        return pd.DataFrame(columns=HISTORY_COLUMNS), made
    return pd.concat(frames, ignore_index=True), made


def populations(snap: ir.Table, scheme: str) -> pd.DataFrame:
    """Persons per cell of a snapshot (the coming edition's populations)."""
    c = cells(snap, scheme)
    df = c.group_by(["segment", "member_tier", "new"]).agg(population=c.count()).to_pandas()
    df["population"] = df["population"].astype("int64")
    return df
