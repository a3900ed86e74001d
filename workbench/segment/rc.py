"""The repurchase cycle (RC, 回购周期): how long a normal customer takes to buy again.

Two methods, computed side by side per category and overall (``category`` is
``None`` for the overall row):

- usage (正常用户计算法): the uses a purchase typically brings (median over
  purchases of the category) divided by the typical daily uses of the
  category. A 3 kg pack of detergent with 30 washes at 0.5 a day lasts 60 days.
  Needs the product master; the overall row takes the median over all
  purchases of the days they cover.
- inductive (现有数据归纳法): for every repeat customer (two or more purchase
  days of our brand in the category), the mean interval between consecutive
  purchase days; 90% of repeat customers buy again within 3 RC, so
  RC = p90 / 3. Beside it, a 95% interval for that RC from the order
  statistics of the repeat customers' intervals (:func:`p90_interval`), which
  does not assume any shape of their distribution: it says how far the p90 of
  this many repeat customers can be trusted.

``auto`` takes the inductive RC where at least ``min_repeaters`` repeat
customers back it, else the usage RC, else the inductive one however few
back it (a data set without a product master).

A person's RC is that of the category of their last purchase of our brand;
when that purchase held several categories, the longest of their RCs (nobody
is due back before everything they bought last has run out). A person whose
last purchase holds no known category (no product master) takes the overall RC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.config import SegmentSettings
from workbench.segment.facts import Purchases

RC_CONFIDENCE_Z = 1.959964
"""The standard normal quantile of the RC interval's 95% two-sided confidence."""


def purchase_intervals(days: ir.Table, by: tuple[str, ...] = ()) -> ir.Table:
    """Each repeat customer's mean interval between purchase days (per ``by`` group).

    Parameters:
        days: rows of ``person_id``, ``day`` (and the ``by`` columns); duplicates
            on the same day count once.

    Returns:
        ``person_id``, the ``by`` columns, ``purchase_days`` and ``mean_interval``
        (days), for persons with two or more purchase days only.
    """
    keys = ["person_id", *by]
    d = days.select(*keys, "day").distinct()
    g = d.group_by(keys).agg(purchase_days=d.count(), first=d.day.min(), last=d.day.max())
    g = g.filter(g.purchase_days >= 2)
    span = g["last"].delta(g["first"], unit="day")
    return g.select(*keys, "purchase_days", mean_interval=span / (g.purchase_days - 1))


def repeat_customers(per_person: ir.Table) -> ir.Table:
    """:func:`purchase_intervals` of our brand's purchases, from
    :attr:`~workbench.segment.facts.Purchases.per_person` (which holds each
    person's purchase days, first and last)."""
    r = per_person.filter(per_person.purchases >= 2)
    span = r.last_day.delta(r.first_day, unit="day")
    return r.select("person_id", purchase_days=r.purchases, mean_interval=span / (r.purchases - 1))


def p90_interval(iv: ir.Table, by: tuple[str, ...], quantile: float) -> ir.Table:
    """The p90 of the mean intervals per ``by`` group, their count and a 95% interval.

    The "p90" is the ``quantile`` given: the setting ``SegmentSettings.rc_quantile``.

    The interval is distribution-free: among ``n`` repeat customers sorted by
    their mean interval, the number below the true p90 is binomial(n, 0.9), so
    the ``l``-th and ``u``-th smallest intervals, with ``l = floor(0.9 n - z s)``
    and ``u = ceil(0.9 n + z s)``, ``s = sqrt(0.09 n)`` and ``z`` =
    :data:`RC_CONFIDENCE_Z`, hold it between them with 95% confidence (the
    normal approximation of the binomial). A bound whose rank falls outside
    1..n is null: too few repeat customers to set it.

    Parameters:
        iv: :func:`purchase_intervals` (or :func:`repeat_customers`).
        by: the group columns (none: one row for all).

    Returns:
        The ``by`` columns, ``p90_interval``, ``repeaters``, ``p90_low`` and ``p90_high``.

    Example:
        With intervals 1, 2, ..., 100 days: p90 = 90.1, ``l`` = 84, ``u`` = 96.

        >>> iv = ibis.memtable({"mean_interval": [float(d) for d in range(1, 101)]})
        >>> p90_interval(iv, (), 0.9).to_pandas().round(1).to_dict("records")
        [{'p90_interval': 90.1, 'repeaters': 100, 'p90_low': 84.0, 'p90_high': 96.0}]
    """
    group = list(by)
    n = iv.mean_interval.count().over(group_by=group) if group else iv.mean_interval.count().over()
    rank = ibis.row_number().over(group_by=group, order_by=iv.mean_interval) + 1
    ranked = iv.mutate(rank=rank, n=n)
    p = quantile
    spread = RC_CONFIDENCE_Z * (ranked.n * (p * (1 - p))).sqrt()
    ranked = ranked.mutate(
        low_rank=(ranked.n * p - spread).floor(), high_rank=(ranked.n * p + spread).ceil()
    )
    metrics = {
        "p90_interval": ranked.mean_interval.quantile(p),
        "repeaters": ranked.count(),
        "p90_low": ranked.mean_interval.max(where=ranked.rank == ranked.low_rank),
        "p90_high": ranked.mean_interval.max(where=ranked.rank == ranked.high_rank),
    }
    return ranked.group_by(group).agg(**metrics) if group else ranked.aggregate(**metrics)


@dataclass(frozen=True)
class RepurchaseCycles:
    """RC per category and overall by both methods, and the one chosen.

    ``table`` has one row per category (``category`` ``None``: overall) with
    ``rc_usage``, ``rc_inductive`` and its 95% interval ``rc_inductive_low`` ..
    ``rc_inductive_high`` (:func:`p90_interval`, null where too few repeat
    customers set a bound), ``p90_interval``, ``repeaters``, ``rc_days`` (the
    chosen) and ``method`` (``usage`` or ``inductive``) with ``reason``.
    """

    table: pd.DataFrame
    requested: str
    min_repeaters: int
    multiple: float

    def of(self, category: str | None) -> float:
        """The chosen RC of ``category`` (``None``: overall)."""
        t = self.table
        row = t[t["category"].isna()] if category is None else t[t["category"] == category]
        return float(row["rc_days"].iat[0])

    @property
    def overall(self) -> float:
        return self.of(None)


def repurchase_cycles(p: Purchases, settings: SegmentSettings | None = None) -> RepurchaseCycles:
    """RC per category and overall, by the usage and inductive methods (see module doc).

    Parameters:
        p: the purchases of one as-of date.
        settings: ``rc_method`` (``usage``, ``inductive`` or ``auto``), ``min_repeaters``
            (repeat customers ``auto`` needs before it trusts the inductive RC),
            ``rc_quantile`` and ``rc_multiple`` (RC = p90 / 3).

    Raises:
        ValueError: a setting is out of its range, or no RC can be computed (no repeat
            customer and no product master).
    """
    s = (settings or SegmentSettings()).check()
    method, min_repeaters, q = s.rc_method, s.min_repeaters, s.rc_quantile
    cats = p.categories.filter(p.categories.ours)

    per_cat = p90_interval(purchase_intervals(cats, ("category",)), ("category",), q).to_pandas()
    overall_row = p90_interval(repeat_customers(p.per_person), (), q).to_pandas()
    overall_row["category"] = None
    ind = pd.concat([per_cat, overall_row], ignore_index=True)
    for out, col in (("", "p90_interval"), ("_low", "p90_low"), ("_high", "p90_high")):
        ind[f"rc_inductive{out}"] = ind[col].astype("float64") / s.rc_multiple

    covered = cats.filter(cats.daily_uses > 0)
    covered = covered.mutate(days_covered=covered.units / covered.daily_uses)
    usage = covered.group_by("category").agg(rc_usage=covered.days_covered.median()).to_pandas()
    all_usage = covered.aggregate(rc_usage=covered.days_covered.median()).to_pandas()
    all_usage["category"] = None
    usage = pd.concat([usage, all_usage], ignore_index=True)

    known = pd.concat([ind[["category"]], usage[["category"]]], ignore_index=True).drop_duplicates()
    t = known.merge(usage, on="category", how="left").merge(ind, on="category", how="left")
    t["repeaters"] = t["repeaters"].fillna(0).astype("int64")
    choices = [_choose(r, method, min_repeaters) for r in t.itertuples()]
    t["method"] = [c[0] for c in choices]
    t["reason"] = [c[1] for c in choices]
    t["rc_days"] = [
        r.rc_usage if m == "usage" else r.rc_inductive
        for r, m in zip(t.itertuples(), t["method"], strict=True)
    ]
    t = t.sort_values("category", na_position="last", ignore_index=True)
    t = t[
        [
            "category",
            "rc_usage",
            "rc_inductive",
            "rc_inductive_low",
            "rc_inductive_high",
            "p90_interval",
            "repeaters",
            "rc_days",
            "method",
            "reason",
        ]
    ]
    if t.empty or t["rc_days"].isna().all():
        raise ValueError(
            "no repurchase cycle can be computed: no customer bought twice and the "
            "product master gives no daily usage"
        )
    return RepurchaseCycles(t, method, min_repeaters, s.rc_multiple)


def _ok(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and x > 0


def _choose(row: Any, method: str, min_repeaters: int) -> tuple[str, str]:
    """The method used for one row, and why (a reason code the report puts in words)."""
    has_usage, has_ind = _ok(row.rc_usage), _ok(row.rc_inductive)
    if method == "usage":
        return ("usage", "requested") if has_usage else ("inductive", "no_usage_data")
    if method == "inductive":
        return ("inductive", "requested") if has_ind else ("usage", "no_repeaters")
    if has_ind and row.repeaters >= min_repeaters:
        return "inductive", "enough_repeaters"
    if has_usage:
        return "usage", "few_repeaters"
    return "inductive", "no_usage_data"


def person_rc(last: ir.Table, categories: ir.Table, cycles: RepurchaseCycles) -> ir.Table:
    """Each buyer's RC (see the module doc).

    Parameters:
        last: ``person_id`` and ``last_day``, their last purchase day of our brand.
        categories: :attr:`~workbench.segment.facts.Purchases.categories`.

    Returns:
        ``person_id``, ``last_day``, ``rc_days``, ``rc_category`` (the category
        whose RC applies; ``None`` for the overall RC).
    """
    rc = cycles.table.dropna(subset=["category"])[["category", "rc_days"]]
    # Categories by preference: the longest RC first, then by name.
    rc = rc.sort_values(["rc_days", "category"], ascending=[False, True], ignore_index=True)
    # A category without an RC goes in as None: Spark keeps a pandas NaN as a number,
    # which fill_null below would not replace (DuckDB reads it as NULL).
    cat_rc = rc["rc_days"].astype(object).where(rc["rc_days"].notna(), None)
    rc_t = ibis.memtable(
        pd.DataFrame({"category": rc["category"], "cat_rc": cat_rc, "preference": range(len(rc))}),
        schema={"category": "string", "cat_rc": "float64", "preference": "int64"},
    )
    cats = categories.filter(categories.ours)
    j = cats.join(last, (cats.person_id == last.person_id) & (cats.day == last.last_day))
    j = j.join(rc_t, cats.category == rc_t.category).select(cats.person_id, rc_t.preference)
    best = j.group_by("person_id").agg(preference=j.preference.min())
    best = best.join(rc_t, "preference").select(
        "person_id", rc_category="category", cat_rc="cat_rc"
    )
    out = last.left_join(best, "person_id")
    return out.select(
        "person_id",
        "last_day",
        rc_days=out.cat_rc.fill_null(cycles.overall),
        rc_category=out.rc_category,
    )
