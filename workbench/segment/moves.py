"""Segment migration (分层迁移) between two snapshots, and the alerts it raises.

:func:`migration` compares the as-of snapshot with an earlier one (by default
``compare_days`` before): how many persons moved from each level-2 tier to
each other. :func:`alerts` lists the worsening moves of that period (towards a
less active tier, or from high-frequency low-value to low-frequency
low-value) whose share grew against the period of the same length before,
leaving out cells of fewer than ``alert_min_persons`` persons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from workbench.segment.job import run
from workbench.segment.segments import Snapshot

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
"""How far from active a tier or quadrant is: a move to a larger number is a worsening."""

WATCHED: tuple[str, ...] = ("tier_l2", "quadrant")
"""The columns whose moves can raise an alert."""


@dataclass(frozen=True)
class Migration:
    """How persons moved between two snapshots.

    Attributes:
        before, now: the earlier snapshot and the as-of one.
        moves: per (``from``, ``to``) level-2 tier, ``persons`` and ``row_share``
            (share of the ``from`` tier); persons new to the pool come from ``None``.
    """

    before: Snapshot
    now: Snapshot
    moves: pd.DataFrame


def transitions(before: ir.Table, after: ir.Table, column: str = "tier_l2") -> pd.DataFrame:
    """How persons moved between two snapshot tables: per (``from``, ``to``) value of
    ``column``, the persons and the share of the ``from`` row. Persons in ``after``
    only (new to the pool) come ``from`` ``None``; persons in ``before`` only are
    left out."""
    b = before.select("person_id", src=before[column])
    a = after.select("person_id", dst=after[column])
    j = a.left_join(b, "person_id")
    g = j.group_by([j.src, j.dst]).agg(persons=j.count()).to_pandas()
    g["row_share"] = g["persons"] / g.groupby("src", dropna=False)["persons"].transform("sum")
    return g.rename(columns={"src": "from", "dst": "to"})


def grown(current: pd.DataFrame, previous: pd.DataFrame, min_persons: int) -> pd.DataFrame:
    """Worsening moves of ``current`` whose row share grew against ``previous``.

    A cell is kept when it moves persons toward a less active tier (or, for
    quadrants, from high-frequency low-value to low-frequency low-value), its
    row share grew, and it holds at least ``min_persons`` persons.

    Parameters:
        current, previous: :func:`transitions` of this period and of the one before.
        min_persons: the smallest cell that can raise an alert.

    Returns:
        The kept rows with ``persons_before``, ``row_share_before`` and ``change``
        (the growth of the row share), largest growth first.
    """
    key = ["from", "to"]
    j = current.merge(previous, on=key, how="left", suffixes=("", "_before"))
    j["row_share_before"] = j["row_share_before"].fillna(0.0)
    j["persons_before"] = j["persons_before"].fillna(0).astype("int64")
    j["change"] = j["row_share"] - j["row_share_before"]
    worse = pd.Series([_worse(a, b) for a, b in zip(j["from"], j["to"], strict=True)], j.index)
    kept = j[worse.astype(bool) & (j["change"] > 0) & (j["persons"] >= min_persons)]
    return kept.sort_values("change", ascending=False, ignore_index=True)


def _worse(src: Any, dst: Any) -> bool:
    if not isinstance(src, str) or not isinstance(dst, str):
        return False
    if (src, dst) == ("hf_lv", "lf_lv"):
        return True
    if src.startswith(("hf", "lf")):
        return False
    return src in ACTIVITY and dst in ACTIVITY and ACTIVITY[dst] > ACTIVITY[src]


def period_before(as_of: dt.date, compare_as_of: dt.date) -> dt.date:
    """The start of the period before: as far before ``compare_as_of`` as it is before
    ``as_of``."""
    return compare_as_of - (as_of - compare_as_of)


def migration(con: Any, now: Snapshot, compare_as_of: dt.date | None = None) -> Migration:
    """How persons moved between the level-2 tiers of an earlier snapshot and ``now``.

    Parameters:
        con: an Ibis backend on the warehouse.
        now: the as-of snapshot (:func:`workbench.segment.run`).
        compare_as_of: the earlier date; ``None``: ``compare_days`` (a segment
            setting) before ``now``'s as-of date.

    Raises:
        ValueError: ``compare_as_of`` is not before the as-of date.

    Example:
        >>> moved = migration(con, now)  # doctest: +SKIP
        >>> moved.moves.query("`from` == 'highly_awake'")  # doctest: +SKIP
    """
    earlier = compare_as_of or now.as_of - dt.timedelta(days=now.settings.compare_days)
    if earlier >= now.as_of:
        raise ValueError(f"the comparison date {earlier} is not before the as-of date {now.as_of}")
    before = run(con, earlier, now.settings, now.link_threshold, scores=False)
    return Migration(before, now, transitions(before.table, now.table))


def alerts(con: Any, moved: Migration) -> pd.DataFrame:
    """Worsening moves of the period of ``moved`` that grew against the period before,
    between level-2 tiers and between quadrants (see :func:`grown`); cells of fewer
    than ``alert_min_persons`` persons are left out.

    Returns:
        ``from``, ``to``, ``persons``, ``row_share``, ``persons_before``,
        ``row_share_before`` and ``change``, largest growth first.
    """
    now, before = moved.now, moved.before
    start = period_before(now.as_of, before.as_of)
    prior = run(con, start, now.settings, now.link_threshold, scores=False)
    floor = now.settings.alert_min_persons
    frames = [
        grown(
            transitions(before.table, now.table, col),
            transitions(prior.table, before.table, col),
            floor,
        )
        for col in WATCHED
    ]
    return pd.concat(frames, ignore_index=True).sort_values(
        "change", ascending=False, ignore_index=True
    )
