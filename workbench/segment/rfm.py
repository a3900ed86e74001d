"""RFM scores and the eight classic segments, frequency x value quadrants,
and promotion sensitivity.

RFM is computed over buyers (persons with a purchase of our brand up to
as-of): R is days since the last purchase, F the number of purchase days, M
the net amount. Each gets a 1-5 score by quintile (5 best: most recent, most
frequent, highest spend; ties share a score, so a score may hold more or
fewer than a fifth). Each dimension is then high or low against a reference:
by default the mean of its score. Scores rather than raw values, because raw
F and M are so skewed that their mean leaves most buyers "low"; the mean
rather than the median, because the median of a 1-5 score often equals a
score, which then falls on one side arbitrarily. The analyst may choose
``mean`` or ``median`` of ``score`` or ``raw`` values.

The quadrants cross frequency (purchase days) with value (net amount per
purchase). Value is high at or above the buyers' median; frequency, a small
count whose median is often 1, is high strictly above it (else every buyer
would be high-frequency).

Promotion sensitivity (促销敏感度) is read from the share of a buyer's
purchases made in a campaign burst or with a discount or coupon, and from the
discount depth (how far below list price they paid, on average):
fanatic when the share and the depth are both high, sensitive when the share
is high, indifferent when it is low, neutral between. Buyers with fewer than
``min_orders`` purchases are ``unknown``: one order says little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from workbench.config import SegmentSettings

_D = SegmentSettings()

RFM_SEGMENTS: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "important_value",  # 重要价值
    (True, False, True): "important_develop",  # 重要发展
    (False, True, True): "important_keep",  # 重要保持
    (False, False, True): "important_retain",  # 重要挽留
    (True, True, False): "general_value",  # 一般价值
    (True, False, False): "general_develop",  # 一般发展
    (False, True, False): "general_keep",  # 一般保持
    (False, False, False): "general_retain",  # 一般挽留
}
"""(R high, F high, M high) -> segment."""

QUADRANTS: tuple[str, ...] = ("hf_hv", "hf_lv", "lf_hv", "lf_lv")
SENSITIVITY: tuple[str, ...] = ("fanatic", "sensitive", "neutral", "indifferent", "unknown")

Reference = Literal["mean", "median"]
Basis = Literal["score", "raw"]


@dataclass(frozen=True)
class RfmOptions:
    """How the eight segments split high from low.

    Attributes:
        reference: ``mean`` (default) or ``median``.
        basis: ``score`` (default: the 1-5 scores) or ``raw`` (days, purchases, yuan).
    """

    reference: Reference = _D.rfm_reference  # type: ignore[assignment]
    basis: Basis = _D.rfm_basis  # type: ignore[assignment]


@dataclass(frozen=True)
class SensitivityBounds:
    """Bounds of the promotion-sensitivity classes; defaults from ``SegmentSettings.promo_*``.

    Attributes:
        high_share: share of purchases on promotion from which a buyer is sensitive (0.6).
        low_share: share below which a buyer is indifferent (0.2).
        deep_discount: mean discount depth from which a sensitive buyer is a fanatic (0.2).
        fanatic_share: share from which a deep-discount buyer is a fanatic (0.8).
        min_orders: purchases needed to classify at all (2).
    """

    high_share: float = _D.promo_high_share
    low_share: float = _D.promo_low_share
    deep_discount: float = _D.promo_deep_discount
    fanatic_share: float = _D.promo_fanatic_share
    min_orders: int = _D.promo_min_orders


def _quintile(col: ir.NumericColumn, descending: bool = False) -> ir.IntegerValue:
    """1-5 by quintile of ``col`` (5: highest, or lowest when ``descending``); ties share."""
    order = col.desc() if descending else col.asc()
    return (ibis.ntile(5).over(order_by=order) + 1).cast("int64")


def rfm(buyers: ir.Table, options: RfmOptions | None = None) -> ir.Table:
    """Add ``r_score``, ``f_score``, ``m_score`` and ``rfm_segment`` to a buyers table.

    Parameters:
        buyers: one row per buyer with ``recency_days``, ``purchases``, ``net_amount``.
        options: the reference high/low is judged against.
    """
    options = options or RfmOptions()
    # Equal values share a score: the score of a value is that of its first row.
    scored = buyers
    for col, name, desc in (
        ("recency_days", "r_score", True),
        ("purchases", "f_score", False),
        ("net_amount", "m_score", False),
    ):
        ranked = scored.mutate(_q=_quintile(scored[col], descending=desc))
        first = ranked.group_by(col).agg(**{name: ranked._q.min()})
        scored = scored.join(first, col)
    pairs = (("recency_days", "r_score"), ("purchases", "f_score"), ("net_amount", "m_score"))
    highs = []
    for raw, score in pairs:
        col = scored[score] if options.basis == "score" else scored[raw]
        ref = col.mean() if options.reference == "mean" else col.median()
        ref_value = scored.aggregate(ref=ref).execute()["ref"].iat[0]
        if options.basis == "raw" and raw == "recency_days":
            highs.append(col <= ref_value)  # recent is high
        else:
            highs.append(col >= ref_value)
    r_hi, f_hi, m_hi = highs
    segment = ibis.cases(
        *(
            ((r_hi if r else ~r_hi) & (f_hi if f else ~f_hi) & (m_hi if m else ~m_hi), name)
            for (r, f, m), name in RFM_SEGMENTS.items()
        ),
        else_="general_retain",
    )
    return scored.mutate(rfm_segment=segment)


def quadrants(buyers: ir.Table) -> ir.Table:
    """Add ``quadrant``: high/low frequency (purchase days, high above the buyers' median)
    x value (amount per purchase, high at or above the median)."""
    medians = buyers.aggregate(f=buyers.purchases.median(), v=buyers.aov.median()).execute()
    f_med, v_med = float(medians["f"].iat[0]), float(medians["v"].iat[0])
    hf = buyers.purchases > f_med
    hv = buyers.aov >= v_med
    q = ibis.cases((hf & hv, "hf_hv"), (hf & ~hv, "hf_lv"), (~hf & hv, "lf_hv"), else_="lf_lv")
    return buyers.mutate(quadrant=q)


def sensitivity(orders: ir.Table, bounds: SensitivityBounds | None = None) -> ir.Table:
    """Each buyer's promotion sensitivity from their purchases of our brand.

    Parameters:
        orders: :attr:`workbench.segment.facts.Purchases.orders`.

    Returns:
        ``person_id``, ``promo_share`` (share of purchases in a burst or with a
        discount or coupon), ``discount_depth`` (mean of 1 - paid / list price,
        over purchases with a list price) and ``promo_sensitivity``.
    """
    b = bounds or SensitivityBounds()
    o = orders.filter(orders.ours)
    on_promo = (o.promo | o.coupon).cast("int64")
    depth = ibis.greatest(1 - o.paid_amount / o.list_value.nullif(0), 0)
    g = o.group_by("person_id").agg(
        orders=o.count(),
        promo_share=on_promo.mean(),
        discount_depth=depth.mean().fill_null(0.0),
    )
    cls = ibis.cases(
        (g.orders < b.min_orders, "unknown"),
        (
            (g.promo_share >= b.fanatic_share) & (g.discount_depth >= b.deep_discount),
            "fanatic",
        ),
        (g.promo_share >= b.high_share, "sensitive"),
        (g.promo_share < b.low_share, "indifferent"),
        else_="neutral",
    )
    return g.select("person_id", "promo_share", "discount_depth", promo_sensitivity=cls)
