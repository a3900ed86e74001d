"""RFM scores and the eight classic segments, frequency x value quadrants,
and promotion sensitivity.

RFM is computed over buyers (persons with a purchase of our brand up to
as-of): R is days since the last purchase, F the number of purchase days, M
the net amount. Each gets a 1-5 score by quintile (5 best: most recent, most
frequent, highest spend; ties share a score, so a score may hold more or
fewer than a fifth). Each dimension is then high or low against a reference:
by default the mean of its score; a buyer at the reference is high, except
when the reference sits on the worst value (the median of F is often one
purchase day), where high is strictly better, as for the quadrants. Scores
rather than raw values, because raw F and M are so skewed that their mean leaves most buyers "low"; the mean
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
``promo_min_orders`` purchases are ``unknown``: one order says little.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from workbench.config import SegmentSettings

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


def _quintile(rank: ir.IntegerValue, n: ir.IntegerValue) -> ir.IntegerValue:
    """1-5: NTILE(5)'s bucket, plus one, of the row at 0-based position ``rank`` of ``n``.

    NTILE(5) over ``n`` rows puts the first ``n mod 5`` buckets one row larger
    than the rest. Given a value's rank (the position of its first row), equal
    values share a score.
    """
    size = n // 5
    extra = n % 5
    big = extra * (size + 1)
    bucket = ibis.cases(
        (rank < big, rank // (size + 1)), else_=extra + (rank - big) // size.nullif(0)
    )
    return (bucket + 1).cast("int64")


def rfm(buyers: ir.Table, settings: SegmentSettings | None = None) -> ir.Table:
    """Add ``r_score``, ``f_score``, ``m_score`` and ``rfm_segment`` to a buyers table.

    One expression: the quintiles come from ranks and the references are
    aggregates over the whole table, computed with it, not fetched first.

    Parameters:
        buyers: one row per buyer with ``recency_days``, ``purchases``, ``net_amount``.
        settings: ``rfm_reference`` and ``rfm_basis``: what high and low are judged against.
    """
    s = settings or SegmentSettings()
    ranked = buyers.mutate(
        _n=buyers.person_id.count().over(ibis.window()),
        _r=ibis.rank().over(order_by=buyers.recency_days.desc()),
        _f=ibis.rank().over(order_by=buyers.purchases.asc()),
        _m=ibis.rank().over(order_by=buyers.net_amount.asc()),
    )
    scored = ranked.mutate(
        r_score=_quintile(ranked._r, ranked._n),
        f_score=_quintile(ranked._f, ranked._n),
        m_score=_quintile(ranked._m, ranked._n),
    ).drop("_n", "_r", "_f", "_m")
    pairs = (("recency_days", "r_score"), ("purchases", "f_score"), ("net_amount", "m_score"))
    highs = {}
    for raw, score in pairs:
        col = scored[score] if s.rfm_basis == "score" else scored[raw]
        ref = col.mean() if s.rfm_reference == "mean" else col.median()
        recent = s.rfm_basis == "raw" and raw == "recency_days"
        # A reference on the worst value (a median F of one purchase day) would call
        # every buyer high: there, high is strictly better than the reference.
        # The lowest score is always 1 (the smallest value takes the first quintile),
        # so only raw values need their worst looked up.
        if recent:
            high = ibis.ifelse(ref == col.max(), col < ref, col <= ref)
        else:
            worst = 1 if s.rfm_basis == "score" else col.min()
            high = ibis.ifelse(ref == worst, col > ref, col >= ref)
        highs[f"_{score}_high"] = high
    flagged = scored.mutate(**highs)
    r_hi, f_hi, m_hi = (flagged[name] for name in highs)
    segment = ibis.cases(
        *(
            ((r_hi if r else ~r_hi) & (f_hi if f else ~f_hi) & (m_hi if m else ~m_hi), name)
            for (r, f, m), name in RFM_SEGMENTS.items()
        ),
        else_="general_retain",
    )
    return flagged.mutate(rfm_segment=segment).drop(*highs)


def quadrants(buyers: ir.Table) -> ir.Table:
    """Add ``quadrant``: high/low frequency (purchase days, high above the buyers' median)
    x value (amount per purchase, high at or above the median)."""
    t = buyers.mutate(
        _hf=buyers.purchases > buyers.purchases.median(), _hv=buyers.aov >= buyers.aov.median()
    )
    hf, hv = t._hf, t._hv
    q = ibis.cases((hf & hv, "hf_hv"), (hf & ~hv, "hf_lv"), (~hf & hv, "lf_hv"), else_="lf_lv")
    return t.mutate(quadrant=q).drop("_hf", "_hv")


def promotion_measures(
    orders: ir.Table, where: ir.BooleanValue | None = None
) -> dict[str, ir.Scalar]:
    """The aggregates promotion sensitivity reads, for a ``group_by("person_id").agg()``
    over :attr:`workbench.segment.facts.Purchases.orders` (those ``where`` holds:
    our brand's): ``promo_share`` (share of purchases in a burst or with a
    discount or coupon) and ``discount_depth`` (mean of 1 - paid / list price,
    over purchases with a list price).

    A purchase's depth is one division of two whole numbers (ten-thousandths of the
    exact amounts), so 20% off is 0.2 and meets a bound of 0.2; ``1 - paid / list``
    in floating point gives 0.19999999999999996 and misses it."""
    on_promo = (orders.promo | orders.coupon).cast("int64")
    listed = orders.list_value > 0
    off = ((orders.list_value - orders.paid_amount) * 10_000).cast("float64")
    depth = ibis.ifelse(
        listed,
        ibis.greatest(off / (orders.list_value * 10_000).cast("float64"), 0),
        ibis.null("float64"),
    )
    return {"promo_share": on_promo.mean(where=where), "discount_depth": depth.mean(where=where)}


def sensitivity(
    t: ir.Table, settings: SegmentSettings | None = None, judged: bool = True
) -> ir.StringValue:
    """Each person's promotion sensitivity (``None`` for those who never bought).

    Parameters:
        t: one row per person with ``orders`` (purchases of our brand) and the
            :func:`promotion_measures`.
        settings: the ``promo_*`` bounds.
        judged: ``False`` when the data hold no promotion at all (no campaign burst,
            coupon or discount): every buyer is then ``unknown``, not indifferent.
    """
    b = settings or SegmentSettings()
    return ibis.cases(
        (t.orders == 0, ibis.null("string")),
        ((t.orders < b.promo_min_orders) | ibis.literal(not judged), "unknown"),
        (
            (t.promo_share >= b.promo_fanatic_share) & (t.discount_depth >= b.promo_deep_discount),
            "fanatic",
        ),
        (t.promo_share >= b.promo_high_share, "sensitive"),
        (t.promo_share < b.promo_low_share, "indifferent"),
        else_="neutral",
    )
