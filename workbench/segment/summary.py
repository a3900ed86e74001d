"""The small tables the 02_segment report shows, aggregated in the engine from a snapshot.

Each function takes a snapshot's table (one row per person, see
:data:`workbench.segment.segments.SEGMENT_COLUMNS`) or its purchases and
returns a small frame, whatever the number of persons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.engine import materialise
from workbench.segment.lifecycle import Bounds, lifecycle
from workbench.segment.rc import RC_MULTIPLE, purchase_intervals, repeat_customers
from workbench.segment.segments import Options, Snapshot, segment

LEVELS: tuple[str, ...] = ("tier_l1", "tier_l2", "tier_l3")
NON_MEMBER = "non_member"


def snapshot(
    con: Any,
    as_of: str,
    threshold: float | None = None,
    options: Options | None = None,
    name: str = "_segments_now",
) -> Snapshot:
    """:func:`~workbench.segment.segments.segment`, its table computed once into a scratch
    table (temporary on DuckDB, so a read-only warehouse will do) for the summaries."""
    s = segment(con, as_of, threshold, options)
    return replace(s, table=materialise(s.table, name, con))


@dataclass(frozen=True)
class Intervals:
    """Repeat customers by mean interval between purchase days, in bins of ``width`` days.

    ``bins`` has ``start`` (days), ``repeaters``; ``p90`` is the interval 90% of them
    stay within (3 RC for the inductive method); ``category`` ``None`` for all.
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
    t["multiple"] = RC_MULTIPLE
    return t


def tier_sizes(table: ir.Table) -> pd.DataFrame:
    """Persons and net sales per tier at each level (``level`` 1-3), with each tier's
    level-1 parent, largest first within a parent."""
    frames = []
    for i, col in enumerate(LEVELS, start=1):
        g = (
            table.group_by([table.tier_l1.name("parent"), table[col].name("tier")])
            .agg(persons=table.count(), net_amount=table.net_amount.sum())
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
        persons=table.count(), net_amount=table.net_amount.sum()
    )
    out = g.to_pandas()
    out["share"] = out["persons"] / out["persons"].sum()
    return out


def lifecycle_by_member_tier(table: ir.Table) -> pd.DataFrame:
    """Persons and net sales per level-1 tier and member tier (``non_member`` for persons
    without a member record)."""
    member = table.member_tier.fill_null(NON_MEMBER)
    g = table.group_by([table.tier_l1, member.name("member_tier")]).agg(
        persons=table.count(), net_amount=table.net_amount.sum()
    )
    return g.to_pandas()


def rfm_summary(table: ir.Table) -> pd.DataFrame:
    """Per RFM segment: buyers, their mean recency, purchases and spend, and net sales."""
    b = table.filter(table.rfm_segment.notnull())
    g = b.group_by("rfm_segment").agg(
        persons=b.count(),
        recency_days=b.recency_days.mean(),
        purchases=b.purchases.mean(),
        net_amount_mean=b.net_amount.mean(),
        net_amount=b.net_amount.sum(),
    )
    out = g.to_pandas()
    out["share"] = out["persons"] / out["persons"].sum()
    return out


def quadrant_summary(table: ir.Table) -> pd.DataFrame:
    """Per frequency x value quadrant: buyers, mean purchases, value per purchase, net sales."""
    b = table.filter(table.quadrant.notnull())
    g = b.group_by("quadrant").agg(
        persons=b.count(),
        purchases=b.purchases.mean(),
        aov=b.aov.mean(),
        net_amount=b.net_amount.sum(),
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
        promo_share=b.promo_share.mean(),
        discount_depth=b.discount_depth.mean(),
        net_amount=b.net_amount.sum(),
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
            active_net=(t.tier_l1 == "active").ifelse(t.net_amount, 0.0).sum(),
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


def compare_date(as_of: str, compare_as_of: str | None, days: int = 90) -> str:
    """The comparison snapshot's date: ``compare_as_of``, else ``days`` before ``as_of``."""
    if compare_as_of:
        return compare_as_of
    return (dt.date.fromisoformat(as_of) - dt.timedelta(days=days)).isoformat()


def period_before(as_of: str, compare_as_of: str) -> str:
    """The start of the period before: as far before ``compare_as_of`` as it is before ``as_of``."""
    a, c = dt.date.fromisoformat(as_of), dt.date.fromisoformat(compare_as_of)
    return (c - (a - c)).isoformat()


def alerts(prior: ir.Table, before: ir.Table, now: ir.Table, min_persons: int = 20) -> pd.DataFrame:
    """Worsening moves of this period (``before`` to ``now``) that grew against the period
    before (``prior`` to ``before``): between level-2 tiers, and from high-frequency
    low-value to low-frequency low-value. See :func:`migration_alerts`."""
    frames = [
        migration_alerts(migration(before, now, col), migration(prior, before, col), min_persons)
        for col in ("tier_l2", "quadrant")
    ]
    return pd.concat(frames, ignore_index=True).sort_values(
        "change", ascending=False, ignore_index=True
    )


def migration(before: ir.Table, after: ir.Table, column: str = "tier_l2") -> pd.DataFrame:
    """How persons moved between two snapshots: per (``from``, ``to``) tier of ``column``,
    the persons and the share of the ``from`` row. Persons in only one snapshot (new
    to the pool) come ``from`` ``None``."""
    b = before.select("person_id", src=before[column])
    a = after.select("person_id", dst=after[column])
    j = a.left_join(b, "person_id")
    g = j.group_by([j.src, j.dst]).agg(persons=j.count()).to_pandas()
    g["row_share"] = g["persons"] / g.groupby("src", dropna=False)["persons"].transform("sum")
    return g.rename(columns={"src": "from", "dst": "to"})


def migration_alerts(
    current: pd.DataFrame, previous: pd.DataFrame, min_persons: int = 20
) -> pd.DataFrame:
    """Transitions that grew against the previous period of the same length.

    A cell is an alert when it moves persons toward a less active tier (or, for
    quadrants, from high-frequency low-value to low-frequency low-value) and its
    row share grew; cells of fewer than ``min_persons`` persons are left out.

    Parameters:
        current, previous: :func:`migration` of this period and of the one before.
    """
    key = ["from", "to"]
    j = current.merge(previous, on=key, how="left", suffixes=("", "_before"))
    j["row_share_before"] = j["row_share_before"].fillna(0.0)
    j["persons_before"] = j["persons_before"].fillna(0).astype("int64")
    j["change"] = j["row_share"] - j["row_share_before"]
    worse = j.apply(lambda r: _worse(r["from"], r["to"]), axis=1) if len(j) else pd.Series([])
    alerts = j[worse.astype(bool) & (j["change"] > 0) & (j["persons"] >= min_persons)]
    return alerts.sort_values("change", ascending=False, ignore_index=True)


ACTIVITY: dict[str, int] = {
    "highly_awake": 0,
    "moderately_awake": 1,
    "light_sleep": 2,
    "deep_sleep": 3,
    "brand_lost": 4,
    "category_lost": 4,
    "active": 0,
    "sleeping": 1,
    "lost": 2,
    "hf_hv": 0,
    "hf_lv": 1,
    "lf_hv": 1,
    "lf_lv": 2,
}


def _worse(src: Any, dst: Any) -> bool:
    if not isinstance(src, str) or not isinstance(dst, str):
        return False
    if (src, dst) == ("hf_lv", "lf_lv"):
        return True
    if src.startswith(("hf", "lf")):
        return False
    return src in ACTIVITY and dst in ACTIVITY and ACTIVITY[dst] > ACTIVITY[src]


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


def retier(frame: pd.DataFrame, bounds: Bounds, loyal_aov: float) -> pd.DataFrame:
    """:func:`tier_sizes` of an in-memory recency frame under other bounds: the same
    rules, run by an in-memory DuckDB on the frame."""
    from workbench.engine import duckdb_connect

    con = duckdb_connect(":memory:")
    return tier_sizes(lifecycle(con.create_table("_recency", frame), bounds, loyal_aov))


def audience_profile(persons: ir.Table, table: ir.Table) -> pd.DataFrame:
    """An audience's persons per level-1 tier, with their net sales to date."""
    j = persons.join(table, "person_id")
    g = j.group_by("tier_l1").agg(persons=j.count(), net_amount=j.net_amount.sum()).to_pandas()
    g["share"] = g["persons"] / g["persons"].sum() if len(g) else 0.0
    return g
