"""Reference 1: the segment step as one hand-written DuckDB statement.

:data:`SEGMENT_SQL` writes the rules of :mod:`workbench.segment` again, by hand,
as CTEs over the warehouse tables; :func:`segment_sql` fills in the as-of date.
"""

from __future__ import annotations

import datetime as dt

SEGMENT_SQL = """
WITH
brand AS (              -- our brand: the one with the most order lines
    SELECT p.brand FROM order_lines l JOIN products p ON l.sku = p.sku
    GROUP BY p.brand ORDER BY count(*) DESC, p.brand LIMIT 1
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
ind AS (
    SELECT category, quantile_cont(mean_interval, 0.9) / 3 AS rc_inductive,
           count(*) AS repeaters
    FROM cat_iv GROUP BY category
),
usage AS (
    SELECT category, median(units / daily_uses) AS rc_usage
    FROM cat WHERE daily_uses > 0 GROUP BY category
),
rc AS (                 -- RC per category: inductive with 100 repeaters, else usage
    SELECT category,
           CASE WHEN rc_inductive > 0 AND coalesce(repeaters, 0) >= 100 THEN rc_inductive
                WHEN rc_usage > 0 THEN rc_usage
                ELSE rc_inductive END AS rc_days
    FROM ind FULL JOIN usage USING (category)
),
rc_all AS (
    SELECT CASE WHEN i.rc > 0 AND i.n >= 100 THEN i.rc
                WHEN u.rc > 0 THEN u.rc ELSE i.rc END AS rc_days
    FROM (SELECT quantile_cont(mean_interval, 0.9) / 3 AS rc, count(*) AS n FROM all_iv) i,
         (SELECT median(units / daily_uses) AS rc FROM cat WHERE daily_uses > 0) u
),
buyers AS (
    SELECT person_id, count(DISTINCT day) AS purchases, count(*) AS orders,
           round(sum(net_amount), 2) AS net_amount, max(day) AS last_day,
           avg(CAST(promo OR coupon AS INTEGER)) AS promo_share,
           coalesce(avg(CASE WHEN list_value > 0
                             THEN greatest(1 - paid_amount / list_value, 0) END), 0)
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
member AS (
    SELECT a.person_id, min(m.joined_at) AS joined_at,
           arg_max(m.tier, CASE m.tier WHEN '普通' THEN 0 WHEN '高级' THEN 1 WHEN 'VIP' THEN 2
                                      WHEN '至尊VIP' THEN 3 ELSE -1 END) AS member_tier
    FROM accounts a JOIN members m ON a.account_key = 'crm:' || m.member_id
    WHERE a.platform = 'crm' GROUP BY a.person_id
),
facts AS (
    SELECT p.person_id, m.person_id IS NOT NULL AS is_member, m.member_tier,
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
),
tiers AS (
    SELECT *, recency_days / rc_days AS r_rc,
        CASE WHEN purchases = 0 AND other_brand_ever THEN 'competitor_buyer'
             WHEN purchases = 0 THEN 'category_potential'
             WHEN recency_days / rc_days <= 1 THEN 'highly_awake'
             WHEN recency_days / rc_days <= 2 THEN 'moderately_awake'
             WHEN recency_days / rc_days <= 2.5 THEN 'light_sleep'
             WHEN recency_days / rc_days <= 3 THEN 'deep_sleep'
             WHEN other_brand_after THEN 'brand_lost'
             ELSE 'category_lost' END AS tier_l2,
        CASE WHEN purchases = 0 AND is_member THEN 'trial_member'
             WHEN purchases = 0 THEN 'potential_member'
             WHEN is_member AND member_days <= 90 AND recency_days / rc_days <= 2
                 THEN 'new_member'
             WHEN recency_days / rc_days <= 2 THEN 'active_old'
             WHEN recency_days / rc_days <= 3 AND purchases >= 2 THEN 'high_recovery_pre_churn'
             WHEN recency_days / rc_days <= 3 THEN 'low_recovery_pre_churn'
             ELSE 'churned' END AS tier_s2
    FROM facts
),
tiers1 AS (
    SELECT *, CASE WHEN tier_l2 IN ('competitor_buyer', 'category_potential') THEN 'potential'
                   WHEN tier_l2 IN ('highly_awake', 'moderately_awake') THEN 'active'
                   WHEN tier_l2 IN ('light_sleep', 'deep_sleep') THEN 'sleeping'
                   ELSE 'lost' END AS tier_l1
    FROM tiers
),
loyal AS (              -- a loyal fan spends at least the active buyers' median per purchase
    SELECT coalesce(median(aov), 0) AS aov FROM tiers1 WHERE tier_l1 = 'active'
),
ranked AS (             -- RFM quintiles over buyers; equal values share the first one's
    SELECT person_id, purchases, aov,
           count(*) OVER () AS n,
           rank() OVER (ORDER BY recency_days DESC) - 1 AS r_pos,
           rank() OVER (ORDER BY purchases) - 1 AS f_pos,
           rank() OVER (ORDER BY net_amount) - 1 AS m_pos
    FROM tiers1 WHERE purchases > 0
),
quintiles AS (          -- NTILE(5) of a row position, as SQL defines it
    SELECT person_id, purchases, aov,
           CASE WHEN r_pos < big * (size + 1) THEN 1 + r_pos // (size + 1)
                ELSE 1 + big + (r_pos - big * (size + 1)) // size END AS r_score,
           CASE WHEN f_pos < big * (size + 1) THEN 1 + f_pos // (size + 1)
                ELSE 1 + big + (f_pos - big * (size + 1)) // size END AS f_score,
           CASE WHEN m_pos < big * (size + 1) THEN 1 + m_pos // (size + 1)
                ELSE 1 + big + (m_pos - big * (size + 1)) // size END AS m_score
    FROM (SELECT *, n // least(n, 5) AS size, n - least(n, 5) * (n // least(n, 5)) AS big
          FROM ranked)
),
refs AS (
    SELECT avg(r_score) AS r, avg(f_score) AS f, avg(m_score) AS m,
           median(purchases) AS f_med, median(aov) AS v_med
    FROM quintiles
),
scored AS (
    SELECT q.person_id, q.r_score, q.f_score, q.m_score,
        CASE (q.r_score >= refs.r, q.f_score >= refs.f, q.m_score >= refs.m)
             WHEN (true, true, true) THEN 'important_value'
             WHEN (true, false, true) THEN 'important_develop'
             WHEN (false, true, true) THEN 'important_keep'
             WHEN (false, false, true) THEN 'important_retain'
             WHEN (true, true, false) THEN 'general_value'
             WHEN (true, false, false) THEN 'general_develop'
             WHEN (false, true, false) THEN 'general_keep'
             ELSE 'general_retain' END AS rfm_segment,
        CASE WHEN q.purchases > refs.f_med
             THEN CASE WHEN q.aov >= refs.v_med THEN 'hf_hv' ELSE 'hf_lv' END
             ELSE CASE WHEN q.aov >= refs.v_med THEN 'lf_hv' ELSE 'lf_lv' END END AS quadrant
    FROM quintiles q, refs
)
SELECT t.person_id, DATE '{as_of}' AS as_of, t.is_member, t.member_tier, t.purchases,
       t.orders, t.net_amount, t.aov, t.last_day, t.recency_days, t.rc_days, t.rc_category,
       t.r_rc, t.tier_l1, t.tier_l2,
       CASE WHEN t.tier_l1 <> 'active' THEN t.tier_l2
            WHEN t.purchases >= 4 AND t.aov >= (SELECT aov FROM loyal) THEN 'loyal'
            WHEN t.purchases >= 2 THEN 'returning'
            ELSE 'new' END AS tier_l3,
       t.tier_s2, s.r_score, s.f_score, s.m_score, s.rfm_segment, s.quadrant,
       t.promo_share, t.discount_depth,
       CASE WHEN t.purchases = 0 THEN NULL
            WHEN t.orders < 2 THEN 'unknown'
            WHEN t.promo_share >= 0.8 AND t.discount_depth >= 0.2 THEN 'fanatic'
            WHEN t.promo_share >= 0.6 THEN 'sensitive'
            WHEN t.promo_share < 0.2 THEN 'indifferent'
            ELSE 'neutral' END AS promo_sensitivity,
       CAST(NULL AS DOUBLE) AS propensity_7d, CAST(NULL AS BIGINT) AS cluster
FROM tiers1 t LEFT JOIN scored s ON t.person_id = s.person_id
"""
"""The segment step as one DuckDB statement (``{as_of}`` is filled in): the rules of
:mod:`workbench.segment` at their defaults (``rc_method`` auto with 100 repeaters,
RFM high at or above the mean score), written by hand."""


def segment_sql(as_of: str) -> str:
    """:data:`SEGMENT_SQL` for ``as_of`` (``YYYY-MM-DD``, checked)."""
    return SEGMENT_SQL.format(as_of=dt.date.fromisoformat(as_of).isoformat())
