"""Persons: who they are, where they live, which channels and categories they use."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.synth import world
from workbench.synth.world import Planted

_ALNUM = np.array(list("abcdefghijkmnpqrstuvwxyz23456789"))
_B64 = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))


def random_strings(
    rng: np.random.Generator, n: int, length: int, alphabet: np.ndarray
) -> list[str]:
    """``n`` random strings of ``length`` characters drawn from ``alphabet``."""
    codes = rng.integers(0, len(alphabet), size=(n, length))
    return ["".join(row) for row in alphabet[codes]]


def chinese_names(rng: np.random.Generator, n: int) -> np.ndarray:
    weights = np.array(world.SURNAME_WEIGHTS) / sum(world.SURNAME_WEIGHTS)
    surnames = rng.choice(np.array(world.SURNAMES), size=n, p=weights)
    chars = np.array(list(world.GIVEN_CHARS))
    first = rng.choice(chars, size=n)
    second = rng.choice(chars, size=n)
    two = rng.random(n) < 0.7
    return np.where(two, surnames + first + second, surnames + first)


def phones(rng: np.random.Generator, person_idx: np.ndarray) -> np.ndarray:
    """Distinct 11-digit mobile numbers: a bijection of the person index under 10**8."""
    prefixes = rng.choice(np.array(world.PHONE_PREFIXES), size=len(person_idx))
    body = (person_idx.astype(np.int64) * 48271 + 19937) % 10**8
    return np.char.add(prefixes.astype(str), np.char.zfill(body.astype(str), 8))


def addresses(rng: np.random.Generator, n: int) -> pd.DataFrame:
    weights = np.array(world.CITY_WEIGHTS, dtype=float)
    place = rng.choice(len(world.PLACES), size=n, p=weights / weights.sum())
    province = np.array([world.PLACES[i][0] for i in place])
    city = np.array([world.PLACES[i][1] for i in place])
    district = np.array(
        [
            world.PLACES[i][2][j % len(world.PLACES[i][2])]
            for i, j in zip(place, rng.integers(0, 60, n), strict=True)
        ]
    )
    street = rng.choice(np.array(world.STREETS), size=n)
    number = rng.integers(1, 999, size=n).astype(str)
    compound = rng.choice(np.array(world.COMPOUNDS), size=n)
    building = rng.integers(1, 30, size=n).astype(str)
    room = (rng.integers(1, 33, size=n) * 100 + rng.integers(1, 6, size=n)).astype(str)
    detail = np.char.add(
        np.char.add(np.char.add(street.astype(str), number), "号"),
        np.char.add(np.char.add(compound.astype(str), building), "栋"),
    )
    detail = np.char.add(np.char.add(detail, room), "室")
    return pd.DataFrame(
        {"province": province, "city": city, "district": district, "street_detail": detail}
    )


def make_persons(rng: np.random.Generator, offset: int, n: int, planted: Planted) -> pd.DataFrame:
    """Draw ``n`` persons with global indices ``offset .. offset + n - 1``.

    Times are in days since ``planted.start`` (negative: before the window).
    """
    idx = np.arange(offset, offset + n)
    window = (planted.end - planted.start).days
    launch = (planted.douyin_launch - planted.start).days
    p = pd.DataFrame({"person_idx": idx})
    p["person_id"] = [f"P{i:08d}" for i in idx]
    p["name"] = chinese_names(rng, n)
    p["gender"] = np.where(rng.random(n) < 0.72, "女", "男")
    p["birth_year"] = rng.integers(1965, 2004, size=n)
    p["phone"] = phones(rng, idx)
    p = pd.concat([p, addresses(rng, n)], axis=1)
    # A few households: the same address as someone else in the batch.
    household = np.flatnonzero(rng.random(n) < planted.p_household)
    if len(household):
        other = rng.integers(0, n, size=len(household))
        for col in ("province", "city", "district", "street_detail"):
            p.loc[household, col] = p[col].to_numpy()[other]

    p["pool_only"] = rng.random(n) < planted.share_pool_only
    existing = (rng.random(n) < planted.share_existing) & ~p["pool_only"]
    u = rng.random(n)
    grow = np.where(rng.random(n) < 0.5, u, np.sqrt(u))  # acquisitions grow over time
    acq = np.where(existing, -rng.uniform(30, 900, n), grow * (window - 30))
    p["existing"] = existing
    p["acq_t"] = acq

    channels = list(world.PLATFORMS)
    before = np.array([planted.channel_mix_before[c] for c in channels])
    after = np.array([planted.channel_mix_after[c] for c in channels])
    prim_before = rng.choice(len(channels), size=n, p=before / before.sum())
    prim_after = rng.choice(len(channels), size=n, p=after / after.sum())
    primary = np.where(acq >= launch, prim_after, prim_before)
    p["primary"] = np.array(channels)[primary]
    # Secondary channels, as a bit mask over PLATFORMS.
    mask = 1 << primary
    for share in (planted.p_second_channel, planted.p_third_channel):
        extra = rng.integers(0, len(channels), size=n)
        take = rng.random(n) < share
        mask = np.where(take, mask | (1 << extra), mask)
    douyin_bit = 1 << channels.index("douyin")
    adds = (acq < launch) & (rng.random(n) < planted.p_existing_adds_douyin)
    # Before the launch, Douyin is only reachable through this deliberate step.
    mask = np.where(acq < launch, mask & ~douyin_bit, mask)
    mask = np.where(adds, mask | douyin_bit, mask)
    p["channel_mask"] = mask

    kinds = list(planted.brand_mix)
    shares = np.array([planted.brand_mix[k] for k in kinds])
    p["brand_type"] = np.array(kinds)[rng.choice(len(kinds), size=n, p=shares / shares.sum())]
    for cat in world.CATEGORIES:
        p[f"buys_{cat.code}"] = rng.random(n) < planted.category_share[cat.code]
    none = ~p[[f"buys_{c.code}" for c in world.CATEGORIES]].any(axis=1)
    p.loc[none, "buys_laundry"] = True

    classes = world.PROMO_CLASSES
    cls_share = np.array([c.share for c in classes])
    p["promo_class"] = np.array([c.code for c in classes])[
        rng.choice(len(classes), size=n, p=cls_share / cls_share.sum())
    ]
    one_off = ~existing & (rng.random(n) < planted.share_one_off)
    p["one_off"] = one_off
    p["switches"] = (rng.random(n) < planted.p_switch_on_churn) & ~one_off
    # Each category on a personal cycle: RC * lognormal(0, rc_sigma), so that the
    # 90th percentile over persons is 3 RC. Nobody uses a pack up in under a
    # third of the usual time.
    for cat in world.CATEGORIES:
        cycle = cat.rc_days * np.maximum(np.exp(rng.normal(0, planted.rc_sigma, n)), 1 / 3)
        p[f"rc_{cat.code}"] = np.where(p[f"buys_{cat.code}"], cycle, np.nan)
    # A customer stops after a number of repurchases, not after a number of days:
    # the lifetime is counted in the person's own cycles, so a long cycle is not
    # cut short more often than a short one. Existing customers are customers when
    # the window opens, and their (memoryless) lifetime counts from there.
    life = rng.exponential(planted.mean_lifetime_cycles, size=n)
    sister_life = rng.exponential(planted.mean_lifetime_cycles, size=n)
    begin = np.maximum(acq, 0.0)
    for cat in world.CATEGORIES:
        cycle = p[f"rc_{cat.code}"].to_numpy()
        churn = np.where(one_off, acq + 1.0, begin + life * cycle)
        p[f"churn_{cat.code}"] = churn
        p[f"category_end_{cat.code}"] = np.where(p["switches"], churn + sister_life * cycle, churn)
    p["churn_t"] = p[[f"churn_{c.code}" for c in world.CATEGORIES]].max(axis=1)

    p_member = np.array([planted.p_member_by_channel[c] for c in p["primary"]])
    p["is_member"] = p["pool_only"] | (rng.random(n) < p_member)
    join = np.where(
        p["pool_only"],
        rng.uniform(0, window, n),
        np.clip(acq + rng.uniform(-30, 200, n), -900, window - 1),
    )
    p["join_t"] = join
    p["member_id"] = np.where(
        p["is_member"], [f"M{(i * 7331 + 104729) % 10**9:09d}" for i in idx], ""
    )
    youzan = (mask & (1 << channels.index("youzan"))) > 0
    has_wechat = youzan | (p["is_member"] & (rng.random(n) < planted.p_wechat))
    p["unionid"] = np.where(has_wechat, ["o" + s for s in random_strings(rng, n, 27, _B64)], "")
    p["app_user"] = p["is_member"] & (rng.random(n) < 0.3)
    p["tmall_nick"] = np.where(
        rng.random(n) < 0.5,
        ["tb" + s for s in random_strings(rng, n, 10, _ALNUM)],
        [
            nm + s
            for nm, s in zip(chinese_names(rng, n), random_strings(rng, n, 4, _ALNUM), strict=True)
        ],
    )
    p["jd_pin"] = ["jd_" + s for s in random_strings(rng, n, 12, _ALNUM)]
    p["youzan_buyer_id"] = (idx * 9973 + 7 * 10**8).astype(str)
    tmall = (mask & (1 << channels.index("tmall"))) > 0
    jd = (mask & (1 << channels.index("jd"))) > 0
    p["bind_tmall"] = p["is_member"] & tmall & (rng.random(n) < planted.p_bind_tmall)
    p["bind_jd"] = p["is_member"] & jd & (rng.random(n) < planted.p_bind_jd)
    return p
