"""Batch-by-batch generation: persons -> purchases -> campaigns -> exports and truth."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench.errors import WorkbenchError
from workbench.synth import behaviour, campaigns, exports, world
from workbench.synth.people import make_persons
from workbench.synth.world import Planted

log = logging.getLogger(__name__)

TEST_BUYER = {
    "name": "测试",
    "phone": "13800000000",
    "tmall_nick": "清溪测试账号",
    "jd_pin": "jd_qingxi_test",
    "youzan_buyer_id": "100000001",
    "member_id": "",
    "unionid": "",
    "province": "上海",
    "city": "上海市",
    "district": "徐汇区",
    "street_detail": "漕溪北路1号公司仓库",
}


@dataclass
class SynthResult:
    raw_dir: Path
    truth_dir: Path
    customers: int
    orders: int = 0
    files: dict[str, int] = field(default_factory=dict)
    douyin_buyers: int = 0
    douyin_new: int = 0

    @property
    def douyin_new_share(self) -> float:
        return self.douyin_new / self.douyin_buyers if self.douyin_buyers else float("nan")


class _Ids:
    """Platform order ids: unique, deterministic, and shaped like the platform's."""

    def __init__(self) -> None:
        self.seq: dict[str, int] = {}

    def take(self, key: str, n: int) -> np.ndarray:
        start = self.seq.get(key, 1)
        self.seq[key] = start + n
        return np.arange(start, start + n, dtype=np.int64)

    def order_ids(self, platform: str, ts: pd.Series, stores: pd.Series) -> np.ndarray:
        s = self.take(platform, len(ts))
        if platform == "tmall":
            return np.array([f"2{(x * 982451653 + 7) % 10**18:018d}" for x in s])
        if platform == "jd":
            return np.array([f"3{(x * 7919 + 11) % 10**11:011d}" for x in s])
        if platform == "pdd":
            day = ts.dt.strftime("%y%m%d").to_numpy()
            return np.array(
                [f"{d}-{(x * 104723 + 3) % 10**15:015d}" for d, x in zip(day, s, strict=True)]
            )
        if platform == "youzan":
            stamp = ts.dt.strftime("%Y%m%d%H%M%S").to_numpy()
            return np.array(
                [f"E{d}{(x * 7727) % 10**8:08d}" for d, x in zip(stamp, s, strict=True)]
            )
        if platform == "douyin":
            return np.array([f"69{(x * 15485863 + 5) % 10**17:017d}" for x in s])
        day = ts.dt.strftime("%Y%m%d").to_numpy()
        return np.array(
            [f"{st}{d}{x:08d}" for st, d, x in zip(stores.to_numpy(), day, s, strict=True)]
        )

    def sub_ids(self, n: int) -> np.ndarray:
        return np.array(
            [f"69{(x * 32452843 + 9) % 10**17:017d}" for x in self.take("douyin_sub", n)]
        )


def _typo(rng: np.random.Generator, names: pd.Series, p: float) -> pd.Series:
    hit = rng.random(len(names)) < p

    def swap(name: str) -> str:
        for ch in name[1:]:
            if ch in world.TYPO_SWAPS:
                return name.replace(ch, world.TYPO_SWAPS[ch], 1)
        return name

    out = names.copy()
    out[hit] = [swap(x) for x in names[hit]]
    return out


def _address_typo(rng: np.random.Generator, detail: pd.Series, p: float) -> pd.Series:
    hit = rng.random(len(detail)) < p
    kind = rng.integers(0, 3, len(detail))
    out = detail.copy()
    vals = detail[hit].to_numpy()
    ks = kind[hit]
    fixed = []
    for v, k in zip(vals, ks, strict=True):
        if k == 0:
            fixed.append(v.replace("号", "", 1))
        elif k == 1:
            fixed.append(v.replace("栋", "幢", 1))
        else:
            fixed.append(v.replace("室", "", 1) + " ")
    out[hit] = fixed
    return out


def _receivers(
    rng: np.random.Generator, orders: pd.DataFrame, persons: pd.DataFrame, planted: Planted
) -> pd.DataFrame:
    per = persons.loc[orders["row"]].reset_index(drop=True)
    cols = [
        "person_id",
        "name",
        "phone",
        "province",
        "city",
        "district",
        "street_detail",
        "tmall_nick",
        "jd_pin",
        "youzan_buyer_id",
        "member_id",
        "unionid",
    ]
    o = pd.concat([orders.reset_index(drop=True), per[cols]], axis=1)
    gift = rng.random(len(o)) < planted.p_gift_receiver
    o["receiver_name"] = _typo(rng, o["name"], planted.p_name_typo)
    o["receiver_phone"] = o["phone"]
    o["receiver_person_id"] = o["person_id"]
    if gift.any():
        donor = rng.integers(0, len(persons), int(gift.sum()))
        d = persons.iloc[donor]
        o.loc[gift, "receiver_person_id"] = d["person_id"].to_numpy()
        for src, dst in (("name", "receiver_name"), ("phone", "receiver_phone")):
            o.loc[gift, dst] = d[src].to_numpy()
        for col in ("province", "city", "district", "street_detail"):
            o.loc[gift, col] = d[col].to_numpy()
    o["street_detail"] = _address_typo(rng, o["street_detail"], planted.p_address_typo)
    # Till receipts come from a store in the buyer's city where there is one.
    pick = rng.integers(0, len(world.STORES), len(o))
    city = per["city"].to_numpy()
    for c in dict.fromkeys(s[2] for s in world.STORES):  # in a fixed order: rng draws follow it
        local = np.array([i for i, s in enumerate(world.STORES) if s[2] == c])
        here = city == c
        pick[here] = rng.choice(local, int(here.sum()))
    o["store_code"] = np.array([s[0] for s in world.STORES])[pick]
    o["store_name"] = np.array([s[1] for s in world.STORES])[pick]
    return o


def _test_orders(
    rng: np.random.Generator, planted: Planted, specs: list[exports.ExportSpec]
) -> pd.DataFrame:
    """0.01 staff test orders, a few in every export period of every platform."""
    rows = []
    for spec in specs:
        for p_start, p_end, _ in exports.periods(spec, planted.start, planted.end):
            span = (p_end - p_start).days + 1
            for _ in range(planted.test_orders_per_file):
                d = (p_start - planted.start).days + int(rng.integers(0, span))
                rows.append({"platform": spec.platform, "day": d})
    t = pd.DataFrame(rows)
    t["ts"] = (
        pd.Timestamp(planted.start) + pd.to_timedelta(t["day"], unit="D") + pd.Timedelta(hours=15)
    )
    for key, val in TEST_BUYER.items():
        t[key] = val
    t = t.assign(
        person_id="",
        receiver_person_id="",
        receiver_name="测试",
        receiver_phone=TEST_BUYER["phone"],
        row=-1,
        promo=False,
        source="test",
        our_lines=1,
        discount_rate=0.0,
        goods_amount=0.01,
        list_amount=0.01,
        shop_coupon=0.0,
        campaign_coupon=0.0,
        status="paid",
        paid_amount=0.01,
        refund_amount=0.0,
        store_code=world.STORES[0][0],
        store_name=world.STORES[0][1],
    )
    return t


SYNTH_MARKER = ".workbench-synth"


def generate(
    out_dir: str | Path,
    truth_dir: str | Path,
    customers: int,
    seed: int = 42,
    planted: Planted | None = None,
    batch_size: int = 50_000,
    progress: bool = True,
    force: bool = False,
) -> SynthResult:
    """Write raw platform exports to ``out_dir`` and the ground truth to ``truth_dir``.

    Both folders are replaced, but only if they are empty or were written by an
    earlier run of this function (a hidden marker file tells), so real exports
    are never wiped; ``force`` replaces them whatever they hold.

    Parameters:
        out_dir: raw directory; one sub-folder per platform plus ``crm/`` and ``campaign/``.
        truth_dir: ground truth (true person of every account and order, planted RC,
            uplift, promotion classes); the workbench's jobs never read it.
        customers: number of persons (buyers and a pool of members who never buy).
        seed: the same seed gives byte-identical files.
        planted: parameters to plant; :class:`~workbench.synth.world.Planted` defaults.
        batch_size: persons per batch; memory grows with it, not with ``customers``.
        progress: show a progress bar.
        force: replace the folders even if they hold files this function did not write.

    Raises:
        WorkbenchError: a folder holds other files and ``force`` is not set.

    Returns:
        Counts of what was written, and the realised Douyin new-buyer share.

    Example:
        >>> r = generate("/tmp/raw", "/tmp/truth", customers=2000, seed=1, progress=False)
        >>> r.customers
        2000
    """
    planted = planted or Planted()
    out, truth = Path(out_dir), Path(truth_dir)
    for d in (out, truth):
        if d.exists() and any(d.iterdir()) and not (d / SYNTH_MARKER).exists() and not force:
            raise WorkbenchError(
                f"{d} holds files that are not synthetic data; choose an empty folder "
                "(for example --out data/synth/raw) or pass --force to replace it"
            )
    for d in (out, truth):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        (d / SYNTH_MARKER).write_text("written by `workbench synth`; safe to replace\n")
    promos = world.promotions(planted.start, planted.end)
    camp_promos = campaigns.campaign_promotions(promos, planted)
    sink = exports.ExportSink(out)
    ids = _Ids()
    result = SynthResult(out, truth, customers)
    specs = exports.specs_for(planted)
    spec_periods = {id(spec): exports.periods(spec, planted.start, planted.end) for spec in specs}
    n_batches = max(1, -(-customers // batch_size))
    bar = tqdm(total=customers, unit="persons", desc="synth", disable=not progress)
    member_rows = []
    promo_orders: dict[str, np.ndarray] = {}  # class -> (orders of ours, of which on promotion)
    for b in range(n_batches):
        rng = np.random.default_rng([seed, b])
        offset = b * batch_size
        n = min(batch_size, customers - offset)
        persons = make_persons(rng, offset, n, planted)
        ev = behaviour.natural_events(rng, persons, planted, promos)
        ev["platform"] = behaviour.choose_channel(rng, persons, ev, planted)
        draw = campaigns.draw_audiences(rng, persons, ev, camp_promos, planted)
        if len(draw.extra_events):
            extra = draw.extra_events
            extra["platform"] = behaviour.choose_channel(rng, persons, extra, planted)
            ev = pd.concat([ev, extra], ignore_index=True)
        # Pinduoduo has no cart: every purchase is its own order.
        ev["split"] = np.where(ev["platform"] == "pdd", np.arange(len(ev)), 0)
        orders, lines = behaviour.build_orders(rng, persons, ev, planted)
        coupons, touches = campaigns.coupons_and_touches(
            rng, persons, orders, draw.audience, camp_promos, planted
        )
        orders = behaviour.finalize_amounts(orders)
        o = _receivers(rng, orders, persons, planted)
        o["is_test"] = False
        if b == 0:
            t = _test_orders(rng, planted, specs)
            t["order_seq"] = o["order_seq"].max() + 1 + np.arange(len(t))
            t["is_test"] = True
            o = pd.concat([o, t], ignore_index=True)
            test_lines = pd.DataFrame(
                {
                    "order_seq": t["order_seq"],
                    "row": -1,
                    "category": "laundry",
                    "brand": world.OUR_BRAND,
                    "sku": "QX-LD-1500",
                    "title": "清溪 深层洁净洗衣液 1.5kg",
                    "unit_price": 0.01,
                    "qty": 1,
                    "line_amount": 0.01,
                    "platform": t["platform"],
                    "line_no": 1,
                }
            )
            lines = pd.concat([lines, test_lines], ignore_index=True)
        # Drawn once per order, so an order in two overlapping exports reads the same.
        o["paid_ts"] = o["ts"] + pd.to_timedelta(rng.integers(5, 900, len(o)), unit="s")
        o["streamer"] = np.array(world.STREAMERS)[rng.integers(0, len(world.STREAMERS), len(o))]
        o["traffic_source"] = np.array(world.TRAFFIC_SOURCES)[
            rng.choice(len(world.TRAFFIC_SOURCES), len(o), p=[0.55, 0.2, 0.15, 0.1])
        ]
        o["n_lines"] = o["order_seq"].map(lines.groupby("order_seq").size())
        o["n_items"] = o["order_seq"].map(lines.groupby("order_seq")["qty"].sum())
        o["order_id"] = ""
        for platform, idx in o.groupby("platform").indices.items():
            sub = o.iloc[idx]
            o.loc[sub.index, "order_id"] = ids.order_ids(platform, sub["ts"], sub["store_code"])
        head = o.set_index("order_seq")
        lines["order_id"] = head.loc[lines["order_seq"], "order_id"].to_numpy()
        lines["status"] = head.loc[lines["order_seq"], "status"].to_numpy()
        lines["day"] = head.loc[lines["order_seq"], "day"].to_numpy()
        lines["sub_order_id"] = ""
        dy = (lines["platform"] == "douyin").to_numpy()
        lines.loc[dy, "sub_order_id"] = ids.sub_ids(int(dy.sum()))
        share = lines["line_amount"] / lines["order_seq"].map(
            lines.groupby("order_seq")["line_amount"].sum()
        ).replace(0, np.nan)
        lines["paid_share"] = (share.fillna(0) * lines["order_seq"].map(head["paid_amount"])).round(
            2
        )

        for spec in specs:
            po = o[o["platform"] == spec.platform]
            for p_start, _p_end, x_end in spec_periods[id(spec)]:
                lo = (p_start - planted.start).days
                hi = (x_end - planted.start).days
                sel = po[(po["day"] >= lo) & (po["day"] <= hi)]
                if sel.empty:
                    continue
                sl = lines[lines["order_seq"].isin(set(sel["order_seq"]))]
                frames = spec.writer(sel, sl)
                for part, rows in frames.items():
                    sink.write(spec, p_start, part, rows)

        member_rows.append(_members(rng, persons, o, planted))
        _campaign_exports(out, b == 0, persons, draw.audience, touches, coupons, o, camp_promos)
        counts = _truth(truth, b, persons, ev, o, draw.audience, planted)
        ours = o[~o["is_test"] & (o["our_lines"] > 0) & (o["status"] != "cancelled")]
        on_promo = ours["promo"] | (ours["shop_coupon"] > 0) | (ours["campaign_coupon"] > 0)
        cls = persons.loc[ours["row"], "promo_class"].to_numpy()
        for c, k in on_promo.groupby(cls).agg(["size", "sum"]).iterrows():
            promo_orders[c] = promo_orders.get(c, np.zeros(2)) + k.to_numpy()
        result.douyin_buyers += counts[0]
        result.douyin_new += counts[1]
        result.orders += int((~o["is_test"]).sum())
        bar.update(n)
    bar.close()
    sink.close()
    members = pd.concat(member_rows, ignore_index=True)
    (out / "crm").mkdir(exist_ok=True)
    members.to_csv(out / "crm" / "members.csv", index=False, encoding="utf-8-sig")
    (out / "catalog").mkdir(exist_ok=True)
    product_master().to_csv(out / "catalog" / "products.csv", index=False, encoding="utf-8-sig")
    campaigns.campaign_table(camp_promos).rename(columns=_CAMPAIGN_ZH).to_csv(
        out / "campaign" / "campaigns.csv", index=False, encoding="utf-8-sig"
    )
    result.files = dict(sink.rows_written)
    summary = {
        "customers": customers,
        "seed": seed,
        "orders": result.orders,
        "douyin_buyers": result.douyin_buyers,
        "douyin_new_to_brand": result.douyin_new,
        "douyin_new_share": result.douyin_new_share,
        # Share of each promotion class's orders of our brand made in a burst or
        # with a discount or coupon.
        "promo_share_by_class": {
            c.code: float(promo_orders[c.code][1] / promo_orders[c.code][0])
            for c in world.PROMO_CLASSES
            if c.code in promo_orders and promo_orders[c.code][0]
        },
        "files": {str(Path(k).relative_to(out)): v for k, v in sorted(result.files.items())},
    }
    (truth / "parameters.json").write_text(
        json.dumps(planted.to_json(), ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    (truth / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return result


def product_master() -> pd.DataFrame:
    """The brand's product master: what a pack holds and how fast a household uses it."""
    usage = {c.code: c for c in world.CATEGORIES}
    rows = [
        {
            "商品编码": p.sku,
            "商品名称": p.title,
            "品牌": p.brand,
            "品类": usage[p.category].name_zh,
            "每件可用次数": p.pack_units,
            "建议日用量(次/天)": usage[p.category].daily_usage,
            "标价": f"{p.price:.2f}",
        }
        for p in world.PRODUCTS
    ]
    return pd.DataFrame(rows)


def _members(
    rng: np.random.Generator, persons: pd.DataFrame, o: pd.DataFrame, planted: Planted
) -> pd.DataFrame:
    m = persons[persons["is_member"]]
    ours = o[(o["status"] != "cancelled") & (o["our_lines"] > 0) & ~o["is_test"]]
    spend = (ours["paid_amount"] - ours["refund_amount"]).groupby(ours["row"]).sum()
    s = m.index.map(spend).fillna(0.0).to_numpy()
    tier = np.array(world.TIERS)[np.searchsorted(np.array(planted.tier_bounds), s, side="right")]
    join = pd.Timestamp(planted.start) + pd.to_timedelta(m["join_t"].to_numpy(), unit="D")
    birth = pd.to_datetime(
        {
            "year": m["birth_year"],
            "month": rng.integers(1, 13, len(m)),
            "day": rng.integers(1, 29, len(m)),
        }
    )
    return pd.DataFrame(
        {
            "会员编号": m["member_id"].to_numpy(),
            "手机号": m["phone"].to_numpy(),
            "姓名": m["name"].to_numpy(),
            "性别": m["gender"].to_numpy(),
            "生日": birth.dt.strftime("%Y-%m-%d").to_numpy(),
            "会员等级": tier,
            "入会时间": [f"{d.year}年{d.month}月{d.day}日" for d in join],
            "积分": (s * rng.uniform(0.3, 1.0, len(m))).astype(int),
            "微信unionid": m["unionid"].to_numpy(),
            "注册渠道": m["primary"].map(world.CHANNEL_LABELS).to_numpy(),
            "淘宝昵称": np.where(m["bind_tmall"], m["tmall_nick"], ""),
            "京东PIN": np.where(m["bind_jd"], m["jd_pin"], ""),
            "省份": m["province"].to_numpy(),
            "城市": m["city"].to_numpy(),
        }
    )


_CAMPAIGN_ZH = {
    "campaign_id": "活动编号",
    "name": "活动名称",
    "promotion": "大促",
    "year": "年份",
    "warmup_start": "蓄水期开始",
    "warmup_end": "蓄水期结束",
    "burst_start": "爆发期开始",
    "burst_end": "爆发期结束",
    "sustain_start": "返场期开始",
    "sustain_end": "返场期结束",
    "close_start": "收尾期开始",
    "close_end": "收尾期结束",
}
_PLATFORM_ZH = world.CHANNEL_LABELS


def _append_csv(path: Path, df: pd.DataFrame, first: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(
        path,
        mode="w" if first else "a",
        header=first,
        index=False,
        encoding="utf-8-sig" if first else "utf-8",
    )


def _campaign_exports(
    out: Path,
    first: bool,
    persons: pd.DataFrame,
    audience: pd.DataFrame,
    touches: pd.DataFrame,
    coupons: pd.DataFrame,
    o: pd.DataFrame,
    promos: list[world.Promotion],
) -> None:
    d = out / "campaign"
    member = persons["member_id"]
    if not audience.empty:
        _append_csv(
            d / "campaign_audience.csv",
            pd.DataFrame(
                {
                    "活动编号": audience["campaign_id"],
                    "会员编号": member.loc[audience["row"]].to_numpy(),
                    "分组": audience["group"].map({"control": "对照组", "treatment": "实验组"}),
                    "权益方案": audience["arm"].map({**world.ARMS, "control": ""}),
                }
            ),
            first,
        )
    if not touches.empty:
        _append_csv(
            d / "touches.csv",
            pd.DataFrame(
                {
                    "活动编号": touches["campaign_id"],
                    "会员编号": member.loc[touches["row"]].to_numpy(),
                    "触达渠道": touches["channel"],
                    "发送时间": touches["sent_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                    "是否送达": np.where(touches["delivered"], "是", "否"),
                    "点击时间": touches["clicked_at"].dt.strftime("%Y-%m-%d %H:%M:%S").fillna(""),
                    "是否访问": np.where(touches["visited"], "是", "否"),
                }
            ),
            first,
        )
    if not coupons.empty:
        head = o.set_index("order_seq")
        used = coupons["order_seq"] >= 0
        seqs = coupons.loc[used, "order_seq"]
        used_at = pd.Series("", index=coupons.index, dtype=object)
        order_id = pd.Series("", index=coupons.index, dtype=object)
        platform = pd.Series("", index=coupons.index, dtype=object)
        used_at[used] = head.loc[seqs, "ts"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
        order_id[used] = head.loc[seqs, "order_id"].to_numpy()
        platform[used] = head.loc[seqs, "platform"].map(_PLATFORM_ZH).to_numpy()
        members = member.loc[coupons["row"]].to_numpy()
        ids = [
            f"CP{c[4:].replace('-', '')}{m[1:]}"
            for c, m in zip(coupons["campaign_id"], members, strict=True)
        ]
        _append_csv(
            d / "coupons.csv",
            pd.DataFrame(
                {
                    "券编号": ids,
                    "活动编号": coupons["campaign_id"],
                    "会员编号": member.loc[coupons["row"]].to_numpy(),
                    "券类型": coupons["coupon_type"],
                    "门槛": coupons["threshold"].map("{:.0f}".format),
                    "面额": coupons["face_value"].map("{:.0f}".format),
                    "发放时间": coupons["issued_at"].dt.strftime("%Y-%m-%d"),
                    "领取时间": coupons["claimed_at"].dt.strftime("%Y-%m-%d %H:%M:%S").fillna(""),
                    "使用时间": used_at,
                    "使用平台": platform,
                    "使用订单号": order_id,
                }
            ),
            first,
        )


def _truth(
    truth: Path,
    b: int,
    persons: pd.DataFrame,
    ev: pd.DataFrame,
    o: pd.DataFrame,
    audience: pd.DataFrame,
    planted: Planted,
) -> tuple[int, int]:
    """Write this batch's truth parts; return (Douyin buyers, of whom new to the brand)."""
    part = f"part-{b:05d}.parquet"
    real = o[~o["is_test"]]
    start = pd.Timestamp(planted.start)

    def dump(name: str, df: pd.DataFrame) -> None:
        (truth / name).mkdir(exist_ok=True)
        df.to_parquet(truth / name / part, index=False)

    first_any = real.groupby("row")["day"].min()
    dy = real[real["platform"] == "douyin"].groupby("row")["day"].min()
    existing = persons["existing"]
    new = (~existing.loc[dy.index]) & (first_any.loc[dy.index] == dy)
    person = persons.assign(
        acquisition_date=start + pd.to_timedelta(persons["acq_t"].round(), unit="D"),
        churn_date=start + pd.to_timedelta(persons["churn_t"].clip(upper=5000).round(), unit="D"),
        first_douyin_date=persons.index.map(dy).map(
            lambda d: start + pd.Timedelta(days=d) if pd.notna(d) else pd.NaT
        ),
        new_on_douyin=persons.index.map(new).fillna(False).astype(bool),
        channels=[
            ",".join(c for i, c in enumerate(world.PLATFORMS) if m & (1 << i))
            for m in persons["channel_mask"]
        ],
    )
    dump(
        "persons",
        person[
            [
                "person_id",
                "member_id",
                "pool_only",
                "existing",
                "one_off",
                "acquisition_date",
                "churn_date",
                "switches",
                "brand_type",
                "primary",
                "channels",
                "promo_class",
                "is_member",
                "first_douyin_date",
                "new_on_douyin",
            ]
        ].rename(columns={"primary": "primary_channel", "switches": "switched_to_sister"}),
    )
    natural = ev[ev["source"] == "natural"]
    rc = (
        natural.assign(purchases=(natural["brand"] == world.OUR_BRAND).astype(int))
        .groupby(["row", "category"])
        .agg(person_rc=("person_rc", "first"), purchases=("purchases", "sum"))
        .reset_index()
    )
    rc["person_id"] = persons.loc[rc["row"], "person_id"].to_numpy()
    churn = np.select(
        [rc["category"] == c.code for c in world.CATEGORIES],
        [persons.loc[rc["row"], f"churn_{c.code}"].to_numpy() for c in world.CATEGORIES],
        np.nan,
    )
    rc["churn_date"] = start + pd.to_timedelta(np.minimum(churn, 5000).round(), unit="D")
    dump(
        "person_rc",
        rc[["person_id", "category", "person_rc", "purchases", "churn_date"]].rename(
            columns={"person_rc": "rc_days"}
        ),
    )
    dump(
        "orders",
        pd.DataFrame(
            {
                "platform": o["platform"],
                "order_id": o["order_id"],
                "person_id": o["person_id"],
                # Whose name, phone and address the order shows (a gift shows the receiver's).
                "receiver_person_id": o["receiver_person_id"],
                "is_test": o["is_test"],
                "source": o["source"],
                "order_date": (start + pd.to_timedelta(o["day"], unit="D")).dt.date,
                "status": o["status"],
                "paid_amount": o["paid_amount"],
                "refund_amount": o["refund_amount"],
            }
        ),
    )
    acc = []
    used = real.groupby("row")["platform"].agg(set)
    for platform, col in (("tmall", "tmall_nick"), ("jd", "jd_pin"), ("youzan", "youzan_buyer_id")):
        rows = [r for r, ps in used.items() if platform in ps]
        acc.append(
            pd.DataFrame(
                {
                    "platform": platform,
                    "account_key": persons.loc[rows, col].to_numpy(),
                    "person_id": persons.loc[rows, "person_id"].to_numpy(),
                }
            )
        )
    members = persons[persons["is_member"]]
    acc.append(
        pd.DataFrame(
            {
                "platform": "crm",
                "account_key": members["member_id"],
                "person_id": members["person_id"],
            }
        )
    )
    dump("accounts", pd.concat(acc, ignore_index=True))
    if not audience.empty:
        dump(
            "campaign_audience",
            pd.DataFrame(
                {
                    "campaign_id": audience["campaign_id"],
                    "person_id": persons.loc[audience["row"], "person_id"].to_numpy(),
                    "member_id": persons.loc[audience["row"], "member_id"].to_numpy(),
                    "segment": audience["segment"],
                    "group": audience["group"],
                    "arm": audience["arm"],
                    "planted_uplift": audience["planted_uplift"],
                    "planted_extra_order": audience["planted_extra_order"],
                }
            ),
        )
    return len(dy), int(new.sum())
