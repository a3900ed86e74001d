"""The small tables the 02_segment report shows, aggregated in the engine from a snapshot.

Each function takes a snapshot's table (one row per person, see
:data:`workbench.segment.segments.SEGMENT_COLUMNS`) or its purchases and
returns a small frame, whatever the number of persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.config import SegmentSettings
from workbench.engine import round_to
from workbench.segment.lifecycle import lifecycle
from workbench.segment.rc import purchase_intervals, repeat_customers
from workbench.segment.segments import Snapshot
from workbench.segment.tags import Audience, tags
from workbench.segment.tags import audience as find_audience

LEVELS: tuple[str, ...] = ("tier_l1", "tier_l2", "tier_l3")


def _fen(amount: ir.NumericValue) -> ir.FloatingValue:
    """Money aggregated to the fen in the engine: a float sum's last bits never reach a
    report, a download or a chart."""
    return round_to(amount, 2)


def _ratio(value: ir.NumericValue) -> ir.FloatingValue:
    """A mean (days, purchases, a share) to four decimals, more than any table shows."""
    return round_to(value, 4)


NON_MEMBER = "non_member"


@dataclass(frozen=True)
class Intervals:
    """Repeat customers by mean interval between purchase days, in bins of ``width`` days.

    ``bins`` has ``start`` (days), ``repeaters``; ``p90`` is the interval 90% of them
    stay within (``rc_quantile``: 3 RC for the inductive method); ``category`` ``None``
    for all.
    """

    bins: pd.DataFrame
    p90: float | None
    width: int
    category: str | None


def interval_histogram(
    s: Snapshot, category: str | None = None, width: int = 15, cap_days: int = 720
) -> Intervals:
    """Histogram of repeat customers' mean interval between purchase days of our brand,
    with the p90 the snapshot's RC was computed from.

    Parameters:
        s: a snapshot.
        category: a category of the product master, or ``None`` for any purchase.
        width: bin width in days.
        cap_days: intervals beyond this fall in the last bin.
    """
    p = s.purchases
    if category is None:
        iv = repeat_customers(p.per_person)
    else:
        c = p.categories
        iv = purchase_intervals(c.filter(c.ours & (c.category == category)))
    capped = ibis.least(iv.mean_interval, cap_days)
    b = iv.mutate(start=((capped / width).floor() * width).cast("int64"))
    bins = b.group_by("start").agg(repeaters=b.count()).order_by("start").to_pandas()
    cycles = s.cycles.table
    row = cycles[cycles["category"].isna() if category is None else cycles["category"] == category]
    p90 = row["p90_interval"].iat[0] if len(row) else None
    p90_value = None if p90 is None or pd.isna(p90) else float(p90)
    return Intervals(bins, p90_value, width, category)


def rc_table(s: Snapshot) -> pd.DataFrame:
    """RC per category and overall, by both methods, with the one used and why."""
    t = s.cycles.table.copy()
    t["multiple"] = s.cycles.multiple
    return t


def tier_sizes(table: ir.Table) -> pd.DataFrame:
    """Persons and net sales per tier at each level (``level`` 1-3), with each tier's
    level-1 parent, largest first within a parent."""
    frames = []
    for i, col in enumerate(LEVELS, start=1):
        g = (
            table.group_by([table.tier_l1.name("parent"), table[col].name("tier")])
            .agg(persons=table.count(), net_amount=_fen(table.net_amount.sum()))
            .to_pandas()
        )
        g.insert(0, "level", i)
        frames.append(g)
    out = pd.concat(frames, ignore_index=True)
    out["share"] = out["persons"] / out.groupby("level")["persons"].transform("sum")
    return out


def scheme_two_sizes(table: ir.Table) -> pd.DataFrame:
    """Persons and net sales per tier of the planning scheme."""
    g = table.group_by(table.tier_s2.name("tier")).agg(
        persons=table.count(), net_amount=_fen(table.net_amount.sum())
    )
    out = g.to_pandas()
    out["share"] = out["persons"] / out["persons"].sum()
    return out


def lifecycle_by_member_tier(table: ir.Table) -> pd.DataFrame:
    """Persons and net sales per level-1 tier and member tier (``non_member`` for persons
    without a member record)."""
    member = table.member_tier.fill_null(NON_MEMBER)
    g = table.group_by([table.tier_l1, member.name("member_tier")]).agg(
        persons=table.count(), net_amount=_fen(table.net_amount.sum())
    )
    return g.to_pandas()


def rfm_summary(table: ir.Table) -> pd.DataFrame:
    """Per RFM segment: buyers, their mean recency, purchases and spend, and net sales."""
    b = table.filter(table.rfm_segment.notnull())
    g = b.group_by("rfm_segment").agg(
        persons=b.count(),
        recency_days=_ratio(b.recency_days.mean()),
        purchases=_ratio(b.purchases.mean()),
        net_amount_mean=_fen(b.net_amount.mean()),
        net_amount=_fen(b.net_amount.sum()),
    )
    out = g.to_pandas()
    out["share"] = out["persons"] / out["persons"].sum()
    return out


def quadrant_summary(table: ir.Table) -> pd.DataFrame:
    """Per frequency x value quadrant: buyers, mean purchases, value per purchase, net sales."""
    b = table.filter(table.quadrant.notnull())
    g = b.group_by("quadrant").agg(
        persons=b.count(),
        purchases=_ratio(b.purchases.mean()),
        aov=_fen(b.aov.mean()),
        net_amount=_fen(b.net_amount.sum()),
    )
    out = g.to_pandas()
    out["share"] = out["persons"] / out["persons"].sum()
    return out


def sensitivity_summary(table: ir.Table) -> pd.DataFrame:
    """Per promotion-sensitivity class: buyers, mean share of purchases on promotion,
    mean discount depth, net sales."""
    b = table.filter(table.promo_sensitivity.notnull())
    g = b.group_by("promo_sensitivity").agg(
        persons=b.count(),
        promo_share=_ratio(b.promo_share.mean()),
        discount_depth=_ratio(b.discount_depth.mean()),
        net_amount=_fen(b.net_amount.sum()),
    )
    out = g.to_pandas()
    out["share"] = out["persons"] / out["persons"].sum()
    return out


def headline(table: ir.Table) -> dict[str, Any]:
    """The figures the 02 report opens with: persons, buyers, active share, lost share,
    loyal fans, net sales of active persons."""
    t = table
    row = (
        t.aggregate(
            persons=t.count(),
            buyers=(t.purchases > 0).sum(),
            active=(t.tier_l1 == "active").sum(),
            lost=(t.tier_l1 == "lost").sum(),
            loyal=(t.tier_l3 == "loyal").sum(),
            active_net=_fen((t.tier_l1 == "active").ifelse(t.net_amount, 0.0).sum()),
        )
        .to_pandas()
        .iloc[0]
    )
    buyers = int(row["buyers"])
    return {
        "persons": int(row["persons"]),
        "buyers": buyers,
        "active_share": int(row["active"]) / buyers if buyers else None,
        "lost_share": int(row["lost"]) / buyers if buyers else None,
        "loyal": int(row["loyal"]),
        "active_net_amount": float(row["active_net"] or 0.0),
    }


RECENCY_COLUMNS: tuple[str, ...] = (
    "person_id",
    "purchases",
    "net_amount",
    "aov",
    "recency_days",
    "rc_days",
    "r_rc",
    "other_brand_ever",
    "other_brand_after",
    "is_member",
    "member_days",
)


def recency_frame(s: Snapshot) -> pd.DataFrame:
    """The per-person table the lifecycle rules read, in memory: what an explorer
    re-tiers as its bounds move, without going back to the warehouse."""
    if s.facts is None:
        raise ValueError("this snapshot keeps no per-person facts")
    return s.facts.select(*RECENCY_COLUMNS).to_pandas()


def retier(frame: pd.DataFrame, bounds: SegmentSettings, loyal_aov: float) -> pd.DataFrame:
    """:func:`tier_sizes` of an in-memory recency frame under other bounds: the same
    rules, run by an in-memory DuckDB on the frame."""
    from workbench.engine import duckdb_connect

    con = duckdb_connect(":memory:")
    # A column empty throughout (member_days without a member CRM) has no type of its own.
    empty = [c for c in frame.columns if frame[c].dtype == object and frame[c].isna().all()]
    typed = frame.astype({c: "float64" for c in empty})
    return tier_sizes(lifecycle(con.create_table("_recency", typed), bounds, loyal_aov))


def audience_profile(persons: ir.Table, table: ir.Table) -> pd.DataFrame:
    """An audience's persons per level-1 tier, with their net sales to date."""
    j = persons.join(table, "person_id")
    g = j.group_by("tier_l1").agg(persons=j.count(), net_amount=_fen(j.net_amount.sum()))
    g = g.to_pandas()
    g["share"] = g["persons"] / g["persons"].sum() if len(g) else 0.0
    return g


@dataclass(frozen=True)
class AudienceProfile:
    """An audience found in a snapshot's tags, and its persons per level-1 tier."""

    found: Audience
    tiers: pd.DataFrame


def audience(con: Any, s: Snapshot, name: str, where: str) -> AudienceProfile:
    """The persons of ``s`` whose tags (:func:`workbench.segment.tags.tags`) satisfy the
    filter ``where``, and their profile by lifecycle tier.

    Parameters:
        con: an Ibis backend on the warehouse.
        s: a snapshot (:func:`workbench.segment.run`).
        name: the audience's name.
        where: a filter over the tag columns, such as
            ``city = '北京市' AND visits_90d >= 1 AND orders_ever >= 1``.

    Raises:
        ValueError: the filter names an unknown tag or is not a condition over tags.
    """
    found = find_audience(con, tags(con, s), name, where)
    return AudienceProfile(found, audience_profile(found.persons, s.table))
