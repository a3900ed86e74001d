"""Reference 2: the segment step as an analyst writes it in plain pandas.

:func:`segment_pandas` reads every table from the Parquet files of
:func:`workbench.bench.generate.generate`, merges and groups by, writing the rules
of :mod:`workbench.segment` again without calling it. Every bound comes from a
:class:`~workbench.config.SegmentSettings`, the names of tiers and segments from
their one definition (:mod:`workbench.bench.names`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.bench.names import MEMBER_TIERS, NAMES, RFM_SEGMENTS
from workbench.config import SegmentSettings
from workbench.segment.segments import SEGMENT_COLUMNS

_TIER_RANK = {tier: rank for rank, tier in enumerate(MEMBER_TIERS)}
_N = NAMES


def _ntile5(position: pd.Series, n: int) -> pd.Series:
    """NTILE(5) of 0-based row positions among ``n`` rows, as SQL defines it."""
    buckets = min(n, 5)
    size, big = n // buckets, n % buckets
    first = position < big * (size + 1)
    return pd.Series(
        np.where(
            first, 1 + position // (size + 1), 1 + big + (position - big * (size + 1)) // size
        ),
        index=position.index,
    )


def _round(x: pd.Series, digits: int) -> pd.Series:
    """Round half away from zero, as DuckDB's ``round`` does (pandas rounds half to even)."""
    scale = 10.0**digits
    return np.sign(x) * np.floor(np.abs(x) * scale + 0.5) / scale


def _quintile_score(col: pd.Series, descending: bool = False) -> pd.Series:
    """1-5 by quintile; equal values share the score of the first of them."""
    position = col.rank(method="min", ascending=not descending).astype("int64") - 1
    return _ntile5(position, len(col))


def _inductive(intervals: pd.Series, s: SegmentSettings) -> float:
    """The inductive RC: the ``rc_quantile`` of the mean intervals over ``rc_multiple``."""
    if not len(intervals):
        return math.nan
    return float(intervals.quantile(s.rc_quantile)) / s.rc_multiple


def _choose_rc(inductive: float, repeaters: int, usage: float, s: SegmentSettings) -> float:
    """The RC by the RC method; each method falls back on the other where it has none."""

    def ok(x: float) -> bool:
        return x is not None and not math.isnan(x) and x > 0

    if s.rc_method == "usage":
        return usage if ok(usage) else inductive
    if s.rc_method == "inductive":
        return inductive if ok(inductive) else usage
    if ok(inductive) and repeaters >= s.min_repeaters:
        return inductive
    if ok(usage):
        return usage
    return inductive


def _rfm_highs(b: pd.DataFrame, s: SegmentSettings) -> list[pd.Series]:
    """Whether each buyer's R, F and M are high: at or above the mean or median of the
    scores, or of the raw values (where a recency is high at or below it: recent);
    strictly better than a reference that is the worst value there is."""
    highs = []
    for score, raw in (
        ("r_score", "recency_days"),
        ("f_score", "purchases"),
        ("m_score", "net_amount"),
    ):
        value = b[score] if s.rfm_basis == "score" else b[raw]
        ref = value.mean() if s.rfm_reference == "mean" else value.median()
        recent = s.rfm_basis == "raw" and raw == "recency_days"
        if recent:
            highs.append(value < ref if ref == value.max() else value <= ref)
        else:
            highs.append(value > ref if ref == value.min() else value >= ref)
    return highs


def segment_pandas(
    parquet: str | Path, as_of: str, settings: SegmentSettings | None = None
) -> pd.DataFrame:
    """The segment step in plain pandas, from the Parquet files of the benchmark's data.

    The rules of :func:`workbench.segment.segments.segment`, written as an analyst
    would: read every table, merge, group by.

    Parameters:
        parquet: the folder of ``<table>.parquet``.
        as_of: ``YYYY-MM-DD``; later orders are left out.
        settings: the bounds, RC method and RFM reference (``SegmentSettings()``
            by default, the segment step's defaults); checked.

    Returns:
        One row per person with the columns of ``segments``.

    Example:
        >>> df = segment_pandas("/tmp/bench-data/parquet", "2024-12-31")  # doctest: +SKIP
        >>> df["tier_l1"].value_counts()  # doctest: +SKIP
    """
    s = (settings or SegmentSettings()).check()
    d = Path(parquet)
    day0 = pd.Timestamp(as_of)
    orders = pd.read_parquet(d / "orders.parquet")
    lines = pd.read_parquet(d / "order_lines.parquet")
    products = pd.read_parquet(d / "products.parquet")
    accounts = pd.read_parquet(d / "accounts.parquet")
    persons = pd.read_parquet(d / "persons.parquet")
    members = pd.read_parquet(d / "members.parquet")
    coupons = pd.read_parquet(d / "coupons.parquet")
    campaigns = pd.read_parquet(d / "campaigns.parquet")

    # Lines with their product; our brand is the setting, else the one with the most lines.
    lines = lines.merge(products, on="sku", how="left")
    brand = s.brand
    if not brand:
        by_brand = lines["brand"].value_counts()
        brand = min(by_brand[by_brand == by_brand.max()].index)
    lines["ours"] = lines["brand"].isna() | (lines["brand"] == brand)
    lines["other"] = ~lines["ours"]
    lines["units"] = lines["quantity"] * lines["uses_per_unit"]
    lines["list_value"] = lines["quantity"] * lines["list_price"].fillna(lines["unit_price"])
    per_order = lines.groupby("order_key").agg(
        ours=("ours", "any"), other_brand=("other", "any"), list_value=("list_value", "sum")
    )

    # Purchases: orders up to as-of that kept some value, of a person.
    o = orders[(orders["ordered_at"] < day0 + pd.Timedelta(days=1)) & (orders["net_amount"] > 0)]
    o = o.merge(accounts[["account_key", "person_id"]], on="account_key")
    o["day"] = o["ordered_at"].dt.normalize()
    o = o.merge(per_order, left_on="order_key", right_index=True, how="left")
    o["list_value"] = o["list_value"].fillna(0.0)
    o["ours"] = o["ours"].fillna(True).astype(bool)
    o["other_brand"] = o["other_brand"].fillna(False).astype(bool)
    used = coupons["used_order_key"].dropna().unique()
    o["coupon"] = (o["discount_amount"].fillna(0.0) > 0) | o["order_key"].isin(used)
    bursts = campaigns.dropna(subset=["burst_start", "burst_end"])
    burst_days = pd.DatetimeIndex(
        np.concatenate(
            [
                pd.date_range(first, last).values
                for first, last in zip(bursts.burst_start, bursts.burst_end, strict=True)
            ]
        )
        if len(bursts)
        else []
    )
    o["promo"] = o["day"].isin(burst_days)

    # Purchases of our brand per category.
    cl = lines[lines["category"].notna() & (lines["line_amount"] > 0)]
    per_cat = cl.groupby(["order_key", "category"], as_index=False).agg(
        ours=("ours", "any"), units=("units", "sum"), daily_uses=("daily_uses", "max")
    )
    cat = o[["person_id", "order_key", "day"]].merge(per_cat[per_cat["ours"]], on="order_key")
    ours = o[o["ours"]]

    # RC per category and overall: inductive (a quantile of repeat customers' mean
    # interval over a multiple) or usage (median days a purchase covers), by the method.
    def mean_intervals(days: pd.DataFrame, by: list[str]) -> pd.DataFrame:
        g = days.drop_duplicates().groupby(by)["day"].agg(["count", "min", "max"])
        g = g[g["count"] >= 2]
        return ((g["max"] - g["min"]).dt.days / (g["count"] - 1)).rename("iv").reset_index()

    cat_iv = mean_intervals(cat[["person_id", "category", "day"]], ["person_id", "category"])
    all_iv = mean_intervals(ours[["person_id", "day"]], ["person_id"])
    covered = cat[cat["daily_uses"] > 0]
    covered = covered.assign(days=covered["units"] / covered["daily_uses"])
    usage = covered.groupby("category")["days"].median()
    rc = {}
    for c in sorted(set(cat_iv["category"]) | set(usage.index)):
        iv = cat_iv.loc[cat_iv["category"] == c, "iv"]
        rc[c] = _choose_rc(_inductive(iv, s), len(iv), usage.get(c, math.nan), s)
    rc_all = _choose_rc(
        _inductive(all_iv["iv"], s),
        len(all_iv),
        float(covered["days"].median()) if len(covered) else math.nan,
        s,
    )

    # Buyers: purchase days, orders, amount, last purchase, promotion share and depth.
    on_promo = (ours["promo"] | ours["coupon"]).astype("int64")
    # Depth over the orders with a list price (NaN without one; the mean skips them), the
    # amount off over the list value: 20% off is 0.2, as an analyst means it.
    listed = ours["list_value"].where(ours["list_value"] > 0)
    depth = ((listed - ours["paid_amount"]) / listed).clip(lower=0)
    buyers = (
        ours.assign(on_promo=on_promo, depth=depth)
        .groupby("person_id")
        .agg(
            purchases=("day", "nunique"),
            orders=("order_key", "size"),
            net_amount=("net_amount", "sum"),
            last_day=("day", "max"),
            promo_share=("on_promo", "mean"),
            discount_depth=("depth", "mean"),
        )
    )
    buyers["discount_depth"] = buyers["discount_depth"].fillna(0.0)
    # A buyer's RC: the longest of the categories of their last purchase, else overall.
    last = cat.merge(
        buyers["last_day"].reset_index(),
        left_on=["person_id", "day"],
        right_on=["person_id", "last_day"],
    )
    last = last.assign(rc_days=last["category"].map(rc)).dropna(subset=["rc_days"])
    last = last.sort_values(["person_id", "rc_days", "category"], ascending=[True, False, True])
    last = last.drop_duplicates("person_id").set_index("person_id")
    buyers["rc_days"] = last["rc_days"].reindex(buyers.index).fillna(rc_all)
    buyers["rc_category"] = last["category"].reindex(buyers.index)
    last_other = o[o["other_brand"]].groupby("person_id")["day"].max().rename("last_other")

    # Members: the highest tier and the earliest join of a person's records.
    crm = accounts[accounts["platform"] == "crm"]
    m = crm.merge(members.assign(account_key="crm:" + members["member_id"]), on="account_key")
    m["rank"] = m["tier"].map(_TIER_RANK).fillna(-1)
    m = m.sort_values("rank", ascending=False)
    member = m.groupby("person_id").agg(
        member_tier=("tier", "first"), joined_at=("joined_at", "min")
    )

    t = persons[["person_id"]].merge(member, on="person_id", how="left")
    t = t.merge(buyers, on="person_id", how="left").merge(last_other, on="person_id", how="left")
    t["is_member"] = t["joined_at"].notna() | t["member_tier"].notna()
    # The pool at as-of: persons who had ordered (anything) or joined by then; a member
    # who joined later was not one yet.
    owner = orders[["account_key", "ordered_at"]].merge(
        accounts[["account_key", "person_id"]], on="account_key"
    )
    first = owner.groupby("person_id")["ordered_at"].min().dt.normalize()
    first_day = t["person_id"].map(first)
    joined = pd.to_datetime(t["joined_at"])
    known = (joined <= day0) | (first_day <= day0) | (joined.isna() & first_day.isna())
    keep = known.to_numpy()
    t = t[keep].reset_index(drop=True)
    joined = joined[keep].reset_index(drop=True)
    t["is_member"] = t["is_member"] & (joined.isna() | (joined <= day0))
    # Cents and four decimals, as the segment step rounds them (a float sum's last bits
    # would otherwise move persons across bounds from run to run).
    t["net_amount"] = _round(t["net_amount"], 2)
    t["aov"] = _round(t["net_amount"] / t["orders"], 4)
    for col in ("purchases", "orders"):
        t[col] = t[col].fillna(0).astype("int64")
    t["net_amount"] = t["net_amount"].fillna(0.0)
    t["recency_days"] = (day0 - t["last_day"]).dt.days
    t["r_rc"] = t["recency_days"] / t["rc_days"]
    t["member_days"] = (day0 - pd.to_datetime(t["joined_at"])).dt.days
    never = t["purchases"] == 0
    other_ever = t["last_other"].notna()
    other_after = other_ever & (t["last_other"] > t["last_day"])
    r = t["r_rc"]
    t["tier_l2"] = np.select(
        [
            never & other_ever,
            never,
            r <= s.awake_rc,
            r <= s.active_rc,
            r <= s.light_sleep_rc,
            r <= s.lost_rc,
            other_after,
        ],
        [
            _N["competitor_buyer"],
            _N["category_potential"],
            _N["highly_awake"],
            _N["moderately_awake"],
            _N["light_sleep"],
            _N["deep_sleep"],
            _N["brand_lost"],
        ],
        _N["category_lost"],
    )
    level1 = {
        _N["competitor_buyer"]: _N["potential"],
        _N["category_potential"]: _N["potential"],
        _N["highly_awake"]: _N["active"],
        _N["moderately_awake"]: _N["active"],
        _N["light_sleep"]: _N["sleeping"],
        _N["deep_sleep"]: _N["sleeping"],
        _N["brand_lost"]: _N["lost"],
        _N["category_lost"]: _N["lost"],
    }
    t["tier_l1"] = t["tier_l2"].map(level1)
    t["tier_s2"] = np.select(
        [
            never & t["is_member"],
            never,
            t["is_member"] & (t["member_days"] <= s.new_member_days) & (r <= s.active_rc),
            r <= s.active_rc,
            (r <= s.lost_rc) & (t["purchases"] >= s.recovery_min_purchases),
            r <= s.lost_rc,
        ],
        [
            _N["trial_member"],
            _N["potential_member"],
            _N["new_member"],
            _N["active_old"],
            _N["high_recovery_pre_churn"],
            _N["low_recovery_pre_churn"],
        ],
        _N["churned"],
    )
    active = t["tier_l1"] == _N["active"]
    loyal_aov = t.loc[active, "aov"].quantile(s.loyal_aov_quantile) if active.any() else 0.0
    t["tier_l3"] = np.select(
        [
            ~active,
            (t["purchases"] >= s.loyal_min_purchases) & (t["aov"] >= loyal_aov),
            t["purchases"] >= 2,
        ],
        [t["tier_l2"], _N["loyal"], _N["returning"]],
        _N["new"],
    )

    # RFM and quadrants over buyers.
    b = t[~never].copy()
    b["r_score"] = _quintile_score(b["recency_days"], descending=True)
    b["f_score"] = _quintile_score(b["purchases"])
    b["m_score"] = _quintile_score(b["net_amount"])
    highs = _rfm_highs(b, s)
    b["rfm_segment"] = [
        RFM_SEGMENTS[k]
        for k in zip(highs[0].to_numpy(), highs[1].to_numpy(), highs[2].to_numpy(), strict=True)
    ]
    hf = b["purchases"] > b["purchases"].median()
    hv = b["aov"] >= b["aov"].median()
    b["quadrant"] = np.select(
        [hf & hv, hf, hv], [_N["hf_hv"], _N["hf_lv"], _N["lf_hv"]], _N["lf_lv"]
    )
    t = t.merge(
        b[["person_id", "r_score", "f_score", "m_score", "rfm_segment", "quadrant"]],
        on="person_id",
        how="left",
    )
    sensitivity = np.select(
        [
            t["orders"] < s.promo_min_orders,
            (t["promo_share"] >= s.promo_fanatic_share)
            & (t["discount_depth"] >= s.promo_deep_discount),
            t["promo_share"] >= s.promo_high_share,
            t["promo_share"] < s.promo_low_share,
        ],
        [_N["unknown"], _N["fanatic"], _N["sensitive"], _N["indifferent"]],
        _N["neutral"],
    )
    t["promo_sensitivity"] = pd.Series(sensitivity, index=t.index).where(~never)
    t["as_of"] = day0
    t["propensity_7d"] = np.nan
    t["cluster"] = pd.NA
    return t[list(SEGMENT_COLUMNS)]
