"""Purchases: repurchase cycles, churn, promotion timing, channels; then orders and lines."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from workbench.synth import world
from workbench.synth.world import Planted, Promotion

_PRODUCTS = pd.DataFrame([p.__dict__ for p in world.PRODUCTS])
_CLASS = {c.code: c for c in world.PROMO_CLASSES}
_CAT_RC = {c.code: c.rc_days for c in world.CATEGORIES}
_MAIN_PACK = pd.Series({c.code: c.pack_units for c in world.CATEGORIES})
_PACK_UNITS = _PRODUCTS.set_index("sku")["pack_units"]


def _t(start: date, d: date) -> int:
    return (d - start).days


def burst_windows(promos: list[Promotion], start: date) -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([_t(start, p.burst[0]) for p in promos], dtype=float)
    ends = np.array([_t(start, p.burst[1]) for p in promos], dtype=float)
    return starts, ends


def natural_events(
    rng: np.random.Generator, persons: pd.DataFrame, planted: Planted, promos: list[Promotion]
) -> pd.DataFrame:
    """Purchase events (one per person, category and purchase) over the window.

    Each person buys each of their categories on a personal cycle (the days a main
    pack lasts them, drawn in :func:`~workbench.synth.people.make_persons`): single
    intervals are gamma around it and scaled by the units bought (two packs last
    twice as long, a small pack less); a purchase due shortly before a promotion is
    held back for it with the person's class probability, bridged from stock (so
    for no longer than the person's cycle), and the next one is due as if it had
    not been; buying stops at churn, or goes on
    with the sister brand for those who switch.
    """
    window = (planted.end - planted.start).days
    buyers = persons[~persons["pool_only"]]
    pairs = []
    for cat in world.CATEGORIES:
        sel = buyers[buyers[f"buys_{cat.code}"]]
        pairs.append(
            pd.DataFrame(
                {
                    "row": sel.index.to_numpy(),
                    "category": cat.code,
                    "rc": sel[f"rc_{cat.code}"].to_numpy(),
                    "churn": sel[f"churn_{cat.code}"].to_numpy(),
                    "end": sel[f"category_end_{cat.code}"].to_numpy(),
                }
            )
        )
    pr = pd.concat(pairs, ignore_index=True)
    per = persons.loc[pr["row"]]
    acq = per["acq_t"].to_numpy()
    first_cat = per[[f"buys_{c.code}" for c in world.CATEGORIES]].to_numpy().argmax(axis=1)
    is_first = np.array([world.CATEGORIES[i].code for i in first_cat]) == pr["category"].to_numpy()
    rc = pr["rc"].to_numpy()
    # Existing customers are mid-cycle when the window opens; new ones start at acquisition
    # (their other categories follow within one cycle).
    t = np.where(
        acq < 0,
        rng.uniform(0, 1, len(pr)) * rc,
        acq + np.where(is_first, 0.0, rng.uniform(0, 1, len(pr)) * rc),
    )
    churn = pr["churn"].to_numpy()
    cat_end = pr["end"].to_numpy()
    brand_type = per["brand_type"].to_numpy()
    category = pr["category"].to_numpy()
    cls = per["promo_class"].to_numpy()
    p_wait = np.array([_CLASS[c].p_wait for c in cls])
    extra_packs = np.array([_CLASS[c].extra_packs for c in cls])
    b_start, b_end = burst_windows(promos, planted.start)
    shape = planted.interval_shape

    out_pair, out_t, out_promo, out_qty, out_sku, out_sister = [], [], [], [], [], []
    alive = np.flatnonzero((t < window) & (t < cat_end))
    while len(alive):
        due = t[alive]
        # Hold a purchase back for the next promotion burst.
        k = np.searchsorted(b_start, due)
        has_next = k < len(b_start)
        kk = np.minimum(k, len(b_start) - 1)
        gap = np.where(has_next, b_start[kk] - due, np.inf)
        # Stock bridges the wait, so nobody waits longer than their own cycle.
        reach = np.minimum(planted.promo_wait_days, rc[alive])
        wait = (gap > 0) & (gap <= reach) & (rng.random(len(alive)) < p_wait[alive])
        moved = b_start[kk] + rng.uniform(0, 1, len(alive)) * (b_end[kk] - b_start[kk] + 1)
        ti = np.where(wait, moved, due)
        # Bursts are promotional whether or not the purchase was held back.
        k2 = np.searchsorted(b_start, ti, side="right") - 1
        in_burst = (k2 >= 0) & (ti < np.where(k2 >= 0, b_end[np.maximum(k2, 0)] + 1, 0))
        qty = 1 + (rng.random(len(alive)) < 0.1).astype(int)
        qty = qty + np.where(in_burst, rng.poisson(extra_packs[alive]), 0)
        bt = brand_type[alive]
        mixed_sister = (bt == "mixed") & (rng.random(len(alive)) < 0.5)
        sister = (bt == "sister_only") | mixed_sister | ((bt == "ours") & (ti >= churn[alive]))
        sku = pick_skus(rng, category[alive], sister)
        keep = (ti < window) & (ti < cat_end[alive])
        out_pair.append(alive[keep])
        out_t.append(ti[keep])
        out_promo.append(in_burst[keep])
        out_qty.append(qty[keep])
        out_sku.append(sku[keep])
        out_sister.append(sister[keep])
        # What was bought lasts its units at the person's pace: the next purchase
        # is due when it runs out, counted from when it was due (a purchase held
        # back for a promotion is bridged from stock, so use goes on).
        packs = qty * _PACK_UNITS.loc[sku].to_numpy() / _MAIN_PACK.loc[category[alive]].to_numpy()
        step = rng.gamma(shape, rc[alive] / shape) * packs
        t[alive] = np.maximum(due + np.maximum(step, 1.0), ti + 1.0)
        alive = alive[(t[alive] < window) & (t[alive] < cat_end[alive])]

    pair = np.concatenate(out_pair) if out_pair else np.array([], dtype=int)

    def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.array([], dtype=dtype)

    ev = pd.DataFrame(
        {
            "row": pr["row"].to_numpy()[pair],
            "category": category[pair],
            "t": joined(out_t, float),
            "promo": joined(out_promo, bool),
            "qty": joined(out_qty, int),
            "sku": joined(out_sku, object),
        }
    )
    ev["brand"] = np.where(joined(out_sister, bool), world.SISTER_BRAND, world.OUR_BRAND)
    ev["source"] = "natural"
    pers_rc = pr["rc"].to_numpy()[pair]
    ev["person_rc"] = pers_rc
    return ev


def choose_channel(
    rng: np.random.Generator, persons: pd.DataFrame, ev: pd.DataFrame, planted: Planted
) -> np.ndarray:
    """Platform of each event: mostly the primary channel, sometimes another one used."""
    launch = (planted.douyin_launch - planted.start).days
    channels = np.array(world.PLATFORMS)
    per = persons.loc[ev["row"]]
    mask = per["channel_mask"].to_numpy()
    primary = per["primary"].to_numpy()
    # Pick a random set bit of the mask.
    bits = ((mask[:, None] >> np.arange(len(channels))) & 1).astype(float)
    douyin = list(world.PLATFORMS).index("douyin")
    bits[ev["t"].to_numpy() < launch, douyin] = 0
    weights = bits / np.maximum(bits.sum(axis=1, keepdims=True), 1)
    u = rng.random(len(ev))[:, None]
    pick = (weights.cumsum(axis=1) < u).sum(axis=1)
    other = channels[np.minimum(pick, len(channels) - 1)]
    use_other = (rng.random(len(ev)) < 0.2) & (bits.sum(axis=1) > 0)
    chan = np.where(use_other, other, primary)
    # Existing customers who took up Douyin after the launch buy there a third of the time.
    took_up = (mask & (1 << douyin)) > 0
    extra_douyin = took_up & (primary != "douyin") & (ev["t"].to_numpy() >= launch)
    chan = np.where(extra_douyin & (rng.random(len(ev)) < 0.35), "douyin", chan)
    return chan


def pick_skus(rng: np.random.Generator, category: np.ndarray, sister: np.ndarray) -> np.ndarray:
    """The SKU of each purchase: a product of its category and brand, the largest pack
    three times as often as any other."""
    brand = np.where(sister, world.SISTER_BRAND, world.OUR_BRAND)
    skus = np.empty(len(category), dtype=object)
    for (cat, br), idx in (
        pd.DataFrame({"c": category, "b": brand}).groupby(["c", "b"]).indices.items()
    ):
        options = _PRODUCTS[(_PRODUCTS.category == cat) & (_PRODUCTS.brand == br)]
        weights = np.where(options["pack_units"] == options["pack_units"].max(), 3.0, 1.0)
        skus[idx] = rng.choice(options["sku"].to_numpy(), size=len(idx), p=weights / weights.sum())
    return skus


def pick_products(rng: np.random.Generator, ev: pd.DataFrame) -> pd.DataFrame:
    """SKU, title and list price for each event (its own SKU where it has one)."""
    skus = ev["sku"].to_numpy(dtype=object).copy() if "sku" in ev else np.full(len(ev), None)
    todo = pd.isna(skus)
    if todo.any():
        sister = (ev["brand"] == world.SISTER_BRAND).to_numpy()[todo]
        skus[todo] = pick_skus(rng, ev["category"].to_numpy()[todo], sister)
    return _PRODUCTS.set_index("sku").loc[skus].reset_index()


def build_orders(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    ev: pd.DataFrame,
    planted: Planted,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn events into orders (one per person, platform and day) and order lines."""
    ev = ev.copy()
    ev["day"] = np.floor(ev["t"]).astype(int)
    prod = pick_products(rng, ev)
    ev["sku"] = prod["sku"].to_numpy()
    ev["title"] = prod["title"].to_numpy()
    ev["unit_price"] = prod["price"].to_numpy()
    if "split" not in ev:
        ev["split"] = 0
    ev = ev.sort_values(["row", "day", "platform", "split"], kind="stable").reset_index(drop=True)
    key = ev[["row", "day", "platform", "split"]]
    new_order = (key != key.shift()).any(axis=1).to_numpy()
    ev["order_seq"] = np.cumsum(new_order) - 1

    ev["is_ours"] = (ev["brand"] == world.OUR_BRAND).astype(int)
    orders = ev.groupby("order_seq").agg(
        row=("row", "first"),
        day=("day", "first"),
        platform=("platform", "first"),
        promo=("promo", "max"),
        source=("source", "min"),  # "campaign" when a planted campaign purchase is in it
        our_lines=("is_ours", "sum"),
    )
    n = len(orders)
    per = persons.loc[orders["row"]]
    cls = per["promo_class"].to_numpy()
    p_coupon = np.array([_CLASS[c].p_coupon for c in cls])
    promo = orders["promo"].to_numpy()
    disc_choice = np.array(planted.promo_discount)[rng.integers(0, len(planted.promo_discount), n)]
    orders["discount_rate"] = np.where(promo, disc_choice, 0.0)
    ev["discount_rate"] = orders["discount_rate"].to_numpy()[ev["order_seq"]]
    ev["line_amount"] = np.round(ev["unit_price"] * ev["qty"] * (1 - ev["discount_rate"]), 2)
    orders["goods_amount"] = ev.groupby("order_seq")["line_amount"].sum().round(2)
    orders["list_amount"] = (ev["unit_price"] * ev["qty"]).groupby(ev["order_seq"]).sum().round(2)
    # In a burst the price is cut and a coupon may come on top; outside, an order on an
    # everyday deal shows its discount in the shop's discount field (店铺优惠).
    goods = orders["goods_amount"].to_numpy()
    use_coupon = promo & (rng.random(n) < p_coupon)
    face = np.where(goods >= 150, 20.0, np.where(goods >= 60, 10.0, 5.0))
    deal = ~promo & (rng.random(n) < np.array([_CLASS[c].p_deal for c in cls]))
    depth = np.array([_CLASS[c].deal_depth for c in cls]) * rng.uniform(0.6, 1.4, n)
    orders["shop_coupon"] = np.select(
        [use_coupon & (goods > face), deal & (goods > 2)],
        [face, np.maximum(np.round(goods * depth), 1.0)],
        0.0,
    )
    orders["campaign_coupon"] = 0.0

    # Time of day: evenings, and the midnight rush on the first burst day.
    hour_weights = np.array(
        [2, 1, 0.5, 0.3, 0.2, 0.3, 0.8, 2, 4, 6, 7, 6, 5, 5, 5, 5, 5, 5, 6, 7, 9, 10, 8, 4]
    )
    hour = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
    sec = rng.integers(0, 3600, n)
    orders["ts"] = (
        pd.Timestamp(planted.start)
        + pd.to_timedelta(orders["day"], unit="D")
        + pd.to_timedelta(hour * 3600 + sec, unit="s")
    )
    u = rng.random(n)
    status = np.full(n, "paid", dtype=object)
    status[u < planted.p_cancelled] = "cancelled"
    refunded = (u >= planted.p_cancelled) & (u < planted.p_cancelled + planted.p_refunded)
    status[refunded] = "refunded"
    part = (u >= planted.p_cancelled + planted.p_refunded) & (
        u < planted.p_cancelled + planted.p_refunded + planted.p_partial_refund
    )
    status[part] = "partially_refunded"
    orders["status"] = status

    # A free sample rides along on some promotional orders of our brand.
    gift = np.flatnonzero(promo & (orders["our_lines"].to_numpy() > 0) & (rng.random(n) < 0.3))
    if len(gift):
        g = pd.DataFrame(
            {
                "order_seq": orders.index.to_numpy()[gift],
                "row": orders["row"].to_numpy()[gift],
                "category": "sample",
                "brand": world.OUR_BRAND,
                "sku": world.SAMPLE.sku,
                "title": world.SAMPLE.title,
                "unit_price": 0.0,
                "qty": 1,
                "line_amount": 0.0,
                "platform": orders["platform"].to_numpy()[gift],
            }
        )
        ev = pd.concat([ev, g], ignore_index=True).sort_values("order_seq", kind="stable")
    ev["line_no"] = ev.groupby("order_seq").cumcount() + 1
    return orders.reset_index(), ev.reset_index(drop=True)


def finalize_amounts(orders: pd.DataFrame) -> pd.DataFrame:
    """Paid and refunded amounts after coupons and refunds."""
    paid = (orders["goods_amount"] - orders["shop_coupon"] - orders["campaign_coupon"]).round(2)
    orders["paid_amount"] = np.where(orders["status"] == "cancelled", 0.0, paid)
    orders["refund_amount"] = np.select(
        [orders["status"] == "refunded", orders["status"] == "partially_refunded"],
        [orders["paid_amount"], (orders["paid_amount"] * 0.5).round(2)],
        0.0,
    )
    return orders


def segment_at(persons: pd.DataFrame, ev: pd.DataFrame, t0: float) -> pd.Series:
    """Lifecycle segment of each person at day ``t0`` by recency in units of the category RC.

    active: R <= 2 RC; sleeping: 2 RC < R <= 3 RC; lost: R > 3 RC; potential: never
    bought our brand before ``t0``. A pre-window customer counts from acquisition.
    """
    ours = ev[(ev["brand"] == world.OUR_BRAND) & (ev["t"] < t0)]
    last = ours.groupby("row").agg(last_t=("t", "max"), category=("category", "first"))
    rc = last["category"].map(_CAT_RC)
    recency = t0 - last["last_t"]
    seg = np.select([recency <= 2 * rc, recency <= 3 * rc], ["active", "sleeping"], "lost")
    out = pd.Series("potential", index=persons.index, dtype=object)
    out.loc[last.index] = seg
    return out
