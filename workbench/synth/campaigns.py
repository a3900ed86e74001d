"""Member campaigns around each promotion: audience, holdout, arms, touches, coupons, uplift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.synth import world
from workbench.synth.behaviour import segment_at
from workbench.synth.world import Planted, Promotion

ARM_COUPON = {"A": (99.0, 10.0), "B": (99.0, 20.0)}  # threshold, face value; C doubles points


def campaign_id(promo: Promotion) -> str:
    return f"CMP-{promo.code}"


def campaign_table(promos: list[Promotion]) -> pd.DataFrame:
    rows = []
    for p in promos:
        rows.append(
            {
                "campaign_id": campaign_id(p),
                "name": f"{p.code[-4:]} {p.name} 会员大促",
                "promotion": p.name,
                "year": int(p.code[-4:]),
                **{f"{ph}_start": d[0] for ph, d in p.phases().items()},
                **{f"{ph}_end": d[1] for ph, d in p.phases().items()},
            }
        )
    return pd.DataFrame(rows)


def campaign_promotions(promos: list[Promotion], planted: Planted) -> list[Promotion]:
    """Campaigns run from the second year on, once members have a history."""
    return [p for p in promos if (p.warmup[0] - planted.start).days >= 365]


@dataclass
class CampaignDraw:
    audience: pd.DataFrame  # campaign_id, row, group, arm, segment
    extra_events: pd.DataFrame  # rows to add to the purchase events


def draw_audiences(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    ev: pd.DataFrame,
    promos: list[Promotion],
    planted: Planted,
) -> CampaignDraw:
    """Assign members to holdout and arms; plant extra purchases for the treated."""
    audiences, extras = [], []
    arms = np.array(list(world.ARMS))
    for promo in promos:
        t0 = (promo.warmup[0] - planted.start).days
        members = persons[persons["is_member"] & (persons["join_t"] < t0)]
        if members.empty:
            continue
        seg = segment_at(persons, ev, t0).loc[members.index]
        n = len(members)
        control = rng.random(n) < planted.holdout_share
        arm = np.where(control, "control", arms[rng.integers(0, len(arms), n)])
        aud = pd.DataFrame(
            {
                "campaign_id": campaign_id(promo),
                "row": members.index.to_numpy(),
                "group": np.where(control, "control", "treatment"),
                "arm": arm,
                "segment": seg.to_numpy(),
            }
        )
        lift = np.array(
            [
                0.0 if a == "control" else planted.uplift[s][a]
                for s, a in zip(aud["segment"], arm, strict=True)
            ]
        )
        aud["planted_uplift"] = lift
        hit = rng.random(n) < lift
        aud["planted_extra_order"] = hit
        audiences.append(aud)
        if hit.any():
            b0 = (promo.burst[0] - planted.start).days
            b1 = (promo.burst[1] - planted.start).days
            who = members.loc[aud["row"].to_numpy()[hit]]
            # In one of the categories the person buys, at random.
            buys = who[[f"buys_{c.code}" for c in world.CATEGORIES]].to_numpy()
            cats = (buys * rng.random(buys.shape)).argmax(axis=1)
            extras.append(
                pd.DataFrame(
                    {
                        "row": who.index.to_numpy(),
                        "category": [world.CATEGORIES[i].code for i in cats],
                        "t": b0 + rng.uniform(0, b1 - b0 + 1, len(who)),
                        "promo": True,
                        "qty": 2,
                        "brand": world.OUR_BRAND,
                        "source": "campaign",
                        "person_rc": np.nan,
                        "campaign_id": campaign_id(promo),
                    }
                )
            )
    audience = pd.concat(audiences, ignore_index=True) if audiences else pd.DataFrame()
    extra = pd.concat(extras, ignore_index=True) if extras else pd.DataFrame()
    return CampaignDraw(audience, extra)


def coupons_and_touches(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    orders: pd.DataFrame,
    audience: pd.DataFrame,
    promos: list[Promotion],
    planted: Planted,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coupons for arms A and B (claimed, used on a qualifying order) and the touches sent.

    A used coupon lowers the paid amount of the order it was used on
    (``orders.campaign_coupon``), so the review job finds it in both places.
    """
    if audience.empty:
        return pd.DataFrame(), pd.DataFrame()
    by_id = {campaign_id(p): p for p in promos}
    coupon_rows, touch_rows = [], []
    paid = orders[orders["status"] != "cancelled"]
    for cid, aud in audience.groupby("campaign_id", sort=False):
        promo = by_id[cid]
        w0 = (promo.warmup[0] - planted.start).days
        w1 = (promo.close[1] - planted.start).days
        in_window = paid[(paid["day"] >= w0) & (paid["day"] <= w1) & (paid["our_lines"] > 0)]
        treated = aud[aud["group"] == "treatment"]
        bought = treated["row"].isin(set(in_window["row"])).to_numpy()
        per = persons.loc[treated["row"]]
        n = len(treated)
        # Touches: SMS twice (warm-up and burst start), WeChat and app push once.
        sends = [
            ("短信", promo.warmup[0], np.ones(n, bool), 0.95),
            ("短信", promo.burst[0], np.ones(n, bool), 0.95),
            ("微信", promo.burst[0], (per["unionid"] != "").to_numpy(), 0.98),
            ("APP推送", promo.burst[0], per["app_user"].to_numpy(), 0.80),
        ]
        for channel, day, who, p_deliver in sends:
            k = int(who.sum())
            if not k:
                continue
            delivered = rng.random(k) < p_deliver
            clicked = delivered & (rng.random(k) < 0.03 + 0.25 * bought[who])
            visited = clicked & (rng.random(k) < 0.8)
            sent_at = pd.Timestamp(day) + pd.to_timedelta(
                10 * 3600 + rng.integers(0, 7200, k), unit="s"
            )
            click_at = sent_at + pd.to_timedelta(rng.integers(30, 86400, k), unit="s")
            touch_rows.append(
                pd.DataFrame(
                    {
                        "campaign_id": cid,
                        "row": treated["row"].to_numpy()[who],
                        "channel": channel,
                        "sent_at": sent_at,
                        "delivered": delivered,
                        "clicked_at": pd.Series(click_at).where(clicked),
                        "visited": visited,
                    }
                )
            )
        for arm, (threshold, face) in ARM_COUPON.items():
            sel = (treated["arm"] == arm).to_numpy()
            k = int(sel.sum())
            if not k:
                continue
            rows = treated["row"].to_numpy()[sel]
            claimed = rng.random(k) < 0.30 + 0.4 * bought[sel]
            claim_at = pd.Timestamp(promo.warmup[0]) + pd.to_timedelta(
                rng.integers(0, (w1 - w0) * 86400 // 2, k), unit="s"
            )
            cps = pd.DataFrame(
                {
                    "campaign_id": cid,
                    "row": rows,
                    "arm": arm,
                    "coupon_type": "满减",
                    "threshold": threshold,
                    "face_value": face,
                    "issued_at": pd.Timestamp(promo.warmup[0]),
                    "claimed_at": pd.Series(claim_at).where(claimed),
                    "order_seq": -1,
                }
            )
            # Use it on the first qualifying order in the window.
            qual = in_window[
                (in_window["goods_amount"] - in_window["shop_coupon"] >= threshold + face)
                & in_window["row"].isin(set(rows[claimed]))
                & (in_window["campaign_coupon"] == 0)
            ].sort_values("day")
            first = qual.groupby("row")["order_seq"].first()
            uses = cps["row"].map(first).fillna(-1).astype(int).to_numpy()
            use = claimed & (uses >= 0) & (rng.random(k) < 0.85)
            cps.loc[use, "order_seq"] = uses[use]
            orders.loc[orders["order_seq"].isin(uses[use]), "campaign_coupon"] = face
            coupon_rows.append(cps)
    coupons = pd.concat(coupon_rows, ignore_index=True) if coupon_rows else pd.DataFrame()
    touches = pd.concat(touch_rows, ignore_index=True) if touch_rows else pd.DataFrame()
    return coupons, touches
