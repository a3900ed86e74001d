"""Reference 1: the segment step as one hand-written DuckDB statement.

:data:`SEGMENT_SQL` writes the rules of :mod:`workbench.segment` again, by hand,
as CTEs over the warehouse tables; :func:`segment_sql` fills in the as-of date
and every bound from a :class:`~workbench.config.SegmentSettings`, and the names
of tiers and segments from their one definition (:mod:`workbench.bench.names`).
"""

from __future__ import annotations

import datetime as dt

from workbench.bench.names import MEMBER_TIERS, NAMES, RFM_SEGMENTS
from workbench.config import SegmentSettings

SEGMENT_SQL = """
WITH
brand AS (              -- our brand: the setting, else the one with the most order lines
    {brand}
),
lines AS (
    SELECT l.order_key, p.category, l.line_amount, p.daily_uses,
           p.brand IS NULL OR p.brand = (SELECT brand FROM brand) AS ours,
           l.quantity * p.uses_per_unit AS units,
           l.quantity * coalesce(p.list_price, l.unit_price) AS list_value
    FROM order_lines l LEFT JOIN products p ON l.sku = p.sku
),
per_order AS (
    SELECT order_key, bool_or(ours) AS ours, bool_or(NOT ours) AS other_brand,
           sum(list_value) AS list_value
    FROM lines GROUP BY order_key
),
used AS (
    SELECT DISTINCT used_order_key AS order_key FROM coupons WHERE used_order_key IS NOT NULL
),
burst_days AS (         -- every day of a campaign's burst phase
    SELECT DISTINCT CAST(unnest(generate_series(burst_start, burst_end, INTERVAL 1 DAY)) AS DATE)
           AS day
    FROM campaigns WHERE burst_start IS NOT NULL AND burst_end IS NOT NULL
),
o AS (                  -- purchases: orders of a person up to as-of that kept some value
    SELECT a.person_id, o.order_key, CAST(o.ordered_at AS DATE) AS day, o.net_amount,
           o.paid_amount, coalesce(o.discount_amount, 0) AS discount_amount
    FROM orders o JOIN accounts a ON o.account_key = a.account_key
    WHERE o.ordered_at < DATE '{as_of}' + INTERVAL 1 DAY AND o.net_amount > 0
),
purchases AS (
    SELECT o.person_id, o.order_key, o.day, o.net_amount, o.paid_amount,
           coalesce(po.list_value, 0) AS list_value,
           coalesce(po.ours, true) AS ours,
           coalesce(po.other_brand, false) AS other_brand,
           o.discount_amount > 0 OR u.order_key IS NOT NULL AS coupon,
           o.day IN (SELECT day FROM burst_days) AS promo
    FROM o LEFT JOIN per_order po ON o.order_key = po.order_key
           LEFT JOIN used u ON o.order_key = u.order_key
),
cat AS (                -- purchases of our brand per category
    SELECT o.person_id, o.day, l.category, sum(l.units) AS units, max(l.daily_uses) AS daily_uses
    FROM o JOIN lines l ON o.order_key = l.order_key
    WHERE l.category IS NOT NULL AND l.line_amount > 0
    GROUP BY o.person_id, o.order_key, o.day, l.category
    HAVING bool_or(l.ours)
),
cat_iv AS (             -- each repeat customer's mean interval per category
    SELECT category, CAST(max(day) - min(day) AS DOUBLE) / (count(*) - 1) AS mean_interval
    FROM (SELECT DISTINCT person_id, category, day FROM cat)
    GROUP BY person_id, category HAVING count(*) >= 2
),
all_iv AS (
    SELECT CAST(max(day) - min(day) AS DOUBLE) / (count(*) - 1) AS mean_interval
    FROM (SELECT DISTINCT person_id, day FROM purchases WHERE ours)
    GROUP BY person_id HAVING count(*) >= 2
),
ind AS (                -- inductive RC: a quantile of the mean intervals over a multiple
    SELECT category, quantile_cont(mean_interval, {rc_quantile}) / {rc_multiple} AS rc_inductive,
           count(*) AS repeaters
    FROM cat_iv GROUP BY category
),
usage AS (
    SELECT category, median(units / daily_uses) AS rc_usage
    FROM cat WHERE daily_uses > 0 GROUP BY category
),
rc AS (                 -- RC per category, by the RC method
    SELECT category, {chosen_rc} AS rc_days
    FROM ind FULL JOIN usage USING (category)
),
rc_all AS (
    SELECT {chosen_rc} AS rc_days
    FROM (SELECT quantile_cont(mean_interval, {rc_quantile}) / {rc_multiple} AS rc_inductive,
                 count(*) AS repeaters FROM all_iv) i,
         (SELECT median(units / daily_uses) AS rc_usage FROM cat WHERE daily_uses > 0) u
),
buyers AS (
    SELECT person_id, count(DISTINCT day) AS purchases, count(*) AS orders,
           round(sum(net_amount), 2) AS net_amount, max(day) AS last_day,
           avg(CAST(promo OR coupon AS INTEGER)) AS promo_share,
           coalesce(avg(CASE WHEN list_value > 0
                             THEN greatest((list_value - paid_amount) / list_value, 0) END), 0)
               AS discount_depth
    FROM purchases WHERE ours GROUP BY person_id
),
person_rc AS (          -- the longest RC of the categories of the last purchase
    SELECT c.person_id, max(rc.rc_days) AS rc_days,
           arg_max(c.category, rc.rc_days) AS rc_category
    FROM cat c JOIN buyers b ON c.person_id = b.person_id AND c.day = b.last_day
               JOIN rc ON c.category = rc.category
    GROUP BY c.person_id
),
last_other AS (
    SELECT person_id, max(day) AS last_other FROM purchases WHERE other_brand GROUP BY person_id
),
member AS (             -- the highest tier and the earliest join of a person's records
    SELECT a.person_id, min(m.joined_at) AS joined_at,
           arg_max(m.tier, {member_tier_rank}) AS member_tier
    FROM accounts a JOIN members m ON a.account_key = 'crm:' || m.member_id
    WHERE a.platform = 'crm' GROUP BY a.person_id
),
first_order AS (        -- the first order of any value: who the pool held at as-of
    SELECT a.person_id, min(o.ordered_at)::DATE AS first_day
    FROM orders o JOIN accounts a ON o.account_key = a.account_key GROUP BY a.person_id
),
facts AS (
    SELECT p.person_id,
           m.person_id IS NOT NULL AND (m.joined_at IS NULL OR m.joined_at <= DATE '{as_of}')
               AS is_member,
           m.member_tier,
           coalesce(b.purchases, 0) AS purchases, coalesce(b.orders, 0) AS orders,
           coalesce(b.net_amount, 0) AS net_amount, round(b.net_amount / b.orders, 4) AS aov, b.last_day,
           DATE '{as_of}' - b.last_day AS recency_days,
           CASE WHEN b.person_id IS NOT NULL
                THEN coalesce(r.rc_days, (SELECT rc_days FROM rc_all)) END AS rc_days,
           r.rc_category,
           lo.last_other IS NOT NULL AS other_brand_ever,
           lo.last_other > b.last_day AS other_brand_after,
           DATE '{as_of}' - m.joined_at AS member_days,
           b.promo_share, b.discount_depth
    FROM persons p LEFT JOIN member m ON p.person_id = m.person_id
                   LEFT JOIN buyers b ON p.person_id = b.person_id
                   LEFT JOIN person_rc r ON p.person_id = r.person_id
                   LEFT JOIN last_other lo ON p.person_id = lo.person_id
                   LEFT JOIN first_order f ON p.person_id = f.person_id
    WHERE m.joined_at <= DATE '{as_of}' OR f.first_day <= DATE '{as_of}'
       OR (m.joined_at IS NULL AND f.first_day IS NULL)
),
tiers AS (
    SELECT *, recency_days / rc_days AS r_rc,
        CASE WHEN purchases = 0 AND other_brand_ever THEN '{competitor_buyer}'
             WHEN purchases = 0 THEN '{category_potential}'
             WHEN recency_days / rc_days <= {awake_rc} THEN '{highly_awake}'
             WHEN recency_days / rc_days <= {active_rc} THEN '{moderately_awake}'
             WHEN recency_days / rc_days <= {light_sleep_rc} THEN '{light_sleep}'
             WHEN recency_days / rc_days <= {lost_rc} THEN '{deep_sleep}'
             WHEN other_brand_after THEN '{brand_lost}'
             ELSE '{category_lost}' END AS tier_l2,
        CASE WHEN purchases = 0 AND is_member THEN '{trial_member}'
             WHEN purchases = 0 THEN '{potential_member}'
             WHEN is_member AND member_days <= {new_member_days}
                  AND recency_days / rc_days <= {active_rc} THEN '{new_member}'
             WHEN recency_days / rc_days <= {active_rc} THEN '{active_old}'
             WHEN recency_days / rc_days <= {lost_rc} AND purchases >= {recovery_min_purchases}
                 THEN '{high_recovery_pre_churn}'
             WHEN recency_days / rc_days <= {lost_rc} THEN '{low_recovery_pre_churn}'
             ELSE '{churned}' END AS tier_s2
    FROM facts
),
tiers1 AS (
    SELECT *,
        CASE WHEN tier_l2 IN ('{competitor_buyer}', '{category_potential}') THEN '{potential}'
             WHEN tier_l2 IN ('{highly_awake}', '{moderately_awake}') THEN '{active}'
             WHEN tier_l2 IN ('{light_sleep}', '{deep_sleep}') THEN '{sleeping}'
             ELSE '{lost}' END AS tier_l1
    FROM tiers
),
loyal AS (              -- a loyal fan's value per purchase: a quantile of the active buyers'
    SELECT coalesce(quantile_cont(aov, {loyal_aov_quantile}), 0) AS aov
    FROM tiers1 WHERE tier_l1 = '{active}'
),
ranked AS (             -- RFM quintiles over buyers; equal values share the first one's
    SELECT person_id, recency_days, purchases, net_amount, aov,
           count(*) OVER () AS n,
           rank() OVER (ORDER BY recency_days DESC) - 1 AS r_pos,
           rank() OVER (ORDER BY purchases) - 1 AS f_pos,
           rank() OVER (ORDER BY net_amount) - 1 AS m_pos
    FROM tiers1 WHERE purchases > 0
),
quintiles AS (          -- NTILE(5) of a row position, as SQL defines it
    SELECT person_id, recency_days, purchases, net_amount, aov,
           CASE WHEN r_pos < big * (size + 1) THEN 1 + r_pos // (size + 1)
                ELSE 1 + big + (r_pos - big * (size + 1)) // size END AS r_score,
           CASE WHEN f_pos < big * (size + 1) THEN 1 + f_pos // (size + 1)
                ELSE 1 + big + (f_pos - big * (size + 1)) // size END AS f_score,
           CASE WHEN m_pos < big * (size + 1) THEN 1 + m_pos // (size + 1)
                ELSE 1 + big + (m_pos - big * (size + 1)) // size END AS m_score
    FROM (SELECT *, n // least(n, 5) AS size, n - least(n, 5) * (n // least(n, 5)) AS big
          FROM ranked)
),
refs AS (               -- what high and low are judged against
    SELECT {rfm_reference}({r_value}) AS r, {rfm_reference}({f_value}) AS f,
           {rfm_reference}({m_value}) AS m,
           {r_worst}({r_value}) AS r_worst, min({f_value}) AS f_worst, min({m_value}) AS m_worst,
           median(purchases) AS f_med, median(aov) AS v_med
    FROM quintiles
),
scored AS (
    SELECT q.person_id, q.r_score, q.f_score, q.m_score,
        CASE (CASE WHEN refs.r = refs.r_worst THEN q.{r_value} {r_strict} refs.r
                   ELSE q.{r_value} {r_high} refs.r END,
              CASE WHEN refs.f = refs.f_worst THEN q.{f_value} > refs.f
                   ELSE q.{f_value} >= refs.f END,
              CASE WHEN refs.m = refs.m_worst THEN q.{m_value} > refs.m
                   ELSE q.{m_value} >= refs.m END)
             {rfm_segments} END AS rfm_segment,
        CASE WHEN q.purchases > refs.f_med
             THEN CASE WHEN q.aov >= refs.v_med THEN '{hf_hv}' ELSE '{hf_lv}' END
             ELSE CASE WHEN q.aov >= refs.v_med THEN '{lf_hv}' ELSE '{lf_lv}' END END AS quadrant
    FROM quintiles q, refs
)
SELECT t.person_id, DATE '{as_of}' AS as_of, t.is_member, t.member_tier, t.purchases,
       t.orders, t.net_amount, t.aov, t.last_day, t.recency_days, t.rc_days, t.rc_category,
       t.r_rc, t.tier_l1, t.tier_l2,
       CASE WHEN t.tier_l1 <> '{active}' THEN t.tier_l2
            WHEN t.purchases >= {loyal_min_purchases} AND t.aov >= (SELECT aov FROM loyal)
                THEN '{loyal}'
            WHEN t.purchases >= 2 THEN '{returning}'
            ELSE '{new}' END AS tier_l3,
       t.tier_s2, s.r_score, s.f_score, s.m_score, s.rfm_segment, s.quadrant,
       t.promo_share, t.discount_depth,
       CASE WHEN t.purchases = 0 THEN NULL
            WHEN t.orders < {promo_min_orders} THEN '{unknown}'
            WHEN t.promo_share >= {promo_fanatic_share}
                 AND t.discount_depth >= {promo_deep_discount} THEN '{fanatic}'
            WHEN t.promo_share >= {promo_high_share} THEN '{sensitive}'
            WHEN t.promo_share < {promo_low_share} THEN '{indifferent}'
            ELSE '{neutral}' END AS promo_sensitivity,
       CAST(NULL AS DOUBLE) AS propensity_7d, CAST(NULL AS BIGINT) AS cluster
FROM tiers1 t LEFT JOIN scored s ON t.person_id = s.person_id
"""
"""The segment step as one DuckDB statement, written by hand; :func:`segment_sql`
fills in the as-of date (``{as_of}``), the bounds, the RC method and the RFM
reference (``{awake_rc}``, ``{chosen_rc}``, ``{rfm_reference}``, ...) and the names
of tiers and segments (``{highly_awake}``, ...)."""

_TOP_BRAND = (
    "SELECT p.brand FROM order_lines l JOIN products p ON l.sku = p.sku\n"
    "    GROUP BY p.brand ORDER BY count(*) DESC, p.brand LIMIT 1"
)

_CHOSEN_RC = {
    "auto": (
        "CASE WHEN rc_inductive > 0 AND coalesce(repeaters, 0) >= {min_repeaters} "
        "THEN rc_inductive WHEN rc_usage > 0 THEN rc_usage ELSE rc_inductive END"
    ),
    "usage": "CASE WHEN rc_usage > 0 THEN rc_usage ELSE rc_inductive END",
    "inductive": "CASE WHEN rc_inductive > 0 THEN rc_inductive ELSE rc_usage END",
}
"""The RC of a category (or overall) by the RC method: ``auto`` takes the inductive RC
where enough repeat customers back it; each falls back on the other when it has none."""

_FLOATS: tuple[str, ...] = (
    "rc_quantile",
    "rc_multiple",
    "awake_rc",
    "active_rc",
    "light_sleep_rc",
    "lost_rc",
    "loyal_aov_quantile",
    "promo_high_share",
    "promo_low_share",
    "promo_deep_discount",
    "promo_fanatic_share",
)
_INTS: tuple[str, ...] = (
    "loyal_min_purchases",
    "new_member_days",
    "recovery_min_purchases",
    "promo_min_orders",
)
"""The settings written into the statement as numbers, each under its own name."""

_RFM_REFERENCE = {"mean": "avg", "median": "median"}
_RFM_VALUES = {
    # basis -> the R, F and M values judged, how a recency is high (recent), and how
    # when the reference is the worst recency there is
    "score": ("r_score", "f_score", "m_score", ">=", ">", "min"),
    "raw": ("recency_days", "purchases", "net_amount", "<=", "<", "max"),
}


def _text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _rfm_segments() -> str:
    """``WHEN (r high, f high, m high) THEN segment`` for every segment, the all-low one last."""
    low = (False, False, False)
    whens = [
        f"WHEN ({str(r).lower()}, {str(f).lower()}, {str(m).lower()}) THEN {_text(name)}"
        for (r, f, m), name in RFM_SEGMENTS.items()
        if (r, f, m) != low
    ]
    return "\n             ".join([*whens, f"ELSE {_text(RFM_SEGMENTS[low])}"])


def _member_tier_rank() -> str:
    """A member tier's rank, lowest 0, unknown -1."""
    whens = " ".join(f"WHEN {_text(tier)} THEN {rank}" for rank, tier in enumerate(MEMBER_TIERS))
    return f"CASE m.tier {whens} ELSE -1 END"


def segment_sql(as_of: str, settings: SegmentSettings | None = None) -> str:
    """:data:`SEGMENT_SQL` for ``as_of`` with the bounds of ``settings``.

    Parameters:
        as_of: ``YYYY-MM-DD`` (checked); later orders are left out.
        settings: the bounds, RC method and RFM reference (``SegmentSettings()``
            by default, the segment step's defaults); checked.

    Returns:
        One statement that gives a row per person with the columns of ``segments``.

    Example:
        >>> sql = segment_sql("2024-12-31", SegmentSettings(active_rc=1.5))
        >>> "recency_days / rc_days <= 1.5 THEN 'moderately_awake'" in sql
        True
    """
    s = (settings or SegmentSettings()).check()
    r_value, f_value, m_value, r_high, r_strict, r_worst = _RFM_VALUES[s.rfm_basis]
    bounds = {name: repr(float(getattr(s, name))) for name in _FLOATS}
    bounds |= {name: str(int(getattr(s, name))) for name in _INTS}
    return SEGMENT_SQL.format(
        as_of=dt.date.fromisoformat(as_of).isoformat(),
        brand=f"SELECT {_text(s.brand)} AS brand" if s.brand else _TOP_BRAND,
        chosen_rc=_CHOSEN_RC[s.rc_method].format(min_repeaters=int(s.min_repeaters)),
        member_tier_rank=_member_tier_rank(),
        rfm_reference=_RFM_REFERENCE[s.rfm_reference],
        r_value=r_value,
        f_value=f_value,
        m_value=m_value,
        r_high=r_high,
        r_strict=r_strict,
        r_worst=r_worst,
        rfm_segments=_rfm_segments(),
        **bounds,
        **NAMES,
    )
