"""The benchmark's synthetic world, declared as data: who buys what, how often and how.

Smaller than :mod:`workbench.synth.world` (no names, phones or addresses: the
benchmark starts where identity resolution ends), and drawn straight into the
tables segmentation reads by :mod:`workbench.bench.generate`. Categories, brands,
promotion classes and the campaign calendar are :mod:`workbench.synth.world`'s.
"""

from __future__ import annotations

import datetime as dt

from workbench.segment.segments import MEMBER_TIERS
from workbench.synth.world import OUR_BRAND, SISTER_BRAND

AS_OF = "2024-12-31"
"""The as-of date every step segments at; orders run a month past it (and are left out)."""
START = dt.date(2023, 1, 1)
END = dt.date(2025, 1, 31)

PLATFORMS = {"tmall": 0.38, "jd": 0.22, "pdd": 0.12, "youzan": 0.1, "douyin": 0.12, "pos": 0.06}
KINDS = {"none": 0.12, "sister": 0.08, "mixed": 0.1, "ours": 0.7}
"""What a person buys: nothing (pool only), only the sister brand, both, ours."""
PRIMARY_CATEGORY = {"laundry": 0.5, "dishwasher": 0.2, "handwash": 0.3}
P_SECOND_CATEGORY = 0.35  # a person who also buys a second category
P_SECOND_LINE = 0.35  # ... and puts it in an order
P_ONE_OFF = 0.45  # buys once and never again
LIFETIME_DAYS = 450.0  # mean of the exponential time a repeat customer keeps buying
RC_SIGMA = 1.0986 / 1.2816  # person mean interval = RC * lognormal(0, sigma): p90 = 3 RC
INTERVAL_SHAPE = 4.0  # gamma shape of single intervals around a person's mean
P_SWITCH = 0.15  # an "ours" repeat customer who moves to the sister brand late on
P_MIXED_SISTER = 0.4  # share of sister-brand lines of a "mixed" person
PROMO_WAIT_DAYS = 30
BURST_DISCOUNTS = (0.15, 0.2, 0.3)
P_EVERYDAY_DISCOUNT = 0.1  # a small shop discount outside bursts
P_COUPON_OUTSIDE = 0.04
P_GIFT = 0.05  # a free sample (a SKU the product master does not know) in an order of ours
P_NO_LINES = 0.005  # an order whose lines the export lacks
P_REFUND = 0.03  # refunded in full (net 0: not a purchase)
P_PARTIAL_REFUND = 0.02
P_MEMBER_BUYER = 0.35
P_MEMBER_POOL = 0.3
MEMBER_TIER_SHARES = dict(zip(MEMBER_TIERS, (0.6, 0.25, 0.12, 0.03), strict=True))
"""Members by tier, lowest first: the tiers the segment step ranks."""
GIFT_SKU = "GIFT-SAMPLE"

# (sku, category, brand, uses per unit, list price); prices are multiples of 0.5
# yuan, so sums of amounts are exact in floating point whatever their order.
PRODUCTS: tuple[tuple[str, str, str, float, float], ...] = (
    ("QX-LD-3000", "laundry", OUR_BRAND, 30, 79.5),
    ("QX-LD-1500", "laundry", OUR_BRAND, 15, 45.5),
    ("LQ-LD-3000", "laundry", SISTER_BRAND, 30, 69.5),
    ("QX-DW-50", "dishwasher", OUR_BRAND, 50, 149.0),
    ("QX-DW-30", "dishwasher", OUR_BRAND, 30, 99.0),
    ("LQ-DW-50", "dishwasher", SISTER_BRAND, 50, 129.0),
    ("QX-HW-500", "handwash", OUR_BRAND, 225, 39.5),
    ("LQ-HW-500", "handwash", SISTER_BRAND, 225, 32.5),
)
P_BIG_PACK = 0.7
