"""The benchmark's data: N persons' purchases straight into Parquet and a DuckDB warehouse.

:func:`generate` writes exactly the tables and columns
:func:`workbench.segment.segments.segment` reads (no CSV exports, no ingest, no
identity resolution: one shop account per person, plus a CRM account for
members), drawn from :mod:`workbench.bench.world` in batches of persons with
numpy, so memory grows with the batch, not with the number of persons.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from workbench.bench.world import (
    AS_OF,
    BURST_DISCOUNTS,
    END,
    GIFT_SKU,
    INTERVAL_SHAPE,
    KINDS,
    LIFETIME_DAYS,
    MEMBER_TIER_SHARES,
    P_BIG_PACK,
    P_COUPON_OUTSIDE,
    P_EVERYDAY_DISCOUNT,
    P_GIFT,
    P_MEMBER_BUYER,
    P_MEMBER_POOL,
    P_MIXED_SISTER,
    P_NO_LINES,
    P_ONE_OFF,
    P_PARTIAL_REFUND,
    P_REFUND,
    P_SECOND_CATEGORY,
    P_SECOND_LINE,
    P_SWITCH,
    PLATFORMS,
    PRIMARY_CATEGORY,
    PRODUCTS,
    PROMO_WAIT_DAYS,
    RC_SIGMA,
    START,
)
from workbench.engine import open_duckdb
from workbench.schema import TABLES as WAREHOUSE
from workbench.segment.segments import INPUT_TABLES
from workbench.synth.world import CATEGORIES, PROMO_CLASSES, SISTER_BRAND, promotions

log = logging.getLogger(__name__)

BATCH = 250_000
"""Persons generated per batch: memory grows with it, not with the number of persons."""
GENERATOR_VERSION = 2  # 2: money columns as exact decimals
"""Bumped whenever the generator changes, so a kept data folder is not reused by mistake."""
TABLES: tuple[str, ...] = INPUT_TABLES
"""The tables generated: what the segment step reads."""


def _day(d: dt.date) -> int:
    return (d - START).days


def _bursts() -> tuple[np.ndarray, np.ndarray]:
    """First and last day (offsets from START) of every campaign burst, in order."""
    promos = promotions(START, END)
    return (
        np.array([_day(p.burst[0]) for p in promos], dtype=np.int64),
        np.array([_day(p.burst[1]) for p in promos], dtype=np.int64),
    )


def _choice(rng: np.random.Generator, options: dict[str, float], n: int) -> np.ndarray:
    p = np.array(list(options.values()))
    return rng.choice(len(options), size=n, p=p / p.sum())


def _half(x: np.ndarray) -> np.ndarray:
    """Round to the half yuan."""
    return np.round(x * 2.0) / 2.0


def _keys(prefix: str | pa.Array, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + ``numbers`` zero-padded to ``width`` digits, as Arrow strings."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _scramble(i: np.ndarray, salt: int) -> np.ndarray:
    """A bijection of 0 .. 10**15 - 1 (exact in int64 for up to 10**8 persons), so ids
    look like hashes and never collide."""
    m = 10**15
    return (i * 91_234_567_891 + (salt * 1_000_003) % m) % m


@dataclass(frozen=True)
class Generated:
    """A generated data set: where it is and how big.

    Attributes:
        root: the data folder (``parquet/`` and ``warehouse.duckdb``).
        persons: persons generated.
        seed: the seed.
        rows: rows of every table.
        seconds: time taken to generate and load it.
    """

    root: Path
    persons: int
    seed: int
    rows: dict[str, int]
    seconds: float

    @property
    def parquet(self) -> Path:
        return self.root / "parquet"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"


def _sku_table() -> np.ndarray:
    """Index into :data:`PRODUCTS` by (category, sister brand?, small pack?): the first SKU
    of a category and brand is its big pack, a second one its small pack (else the big)."""
    cats = list(PRIMARY_CATEGORY)
    table = np.full((len(cats), 2, 2), -1, dtype=np.int64)
    for i, (_, cat, brand, _, _) in enumerate(PRODUCTS):
        c, s = cats.index(cat), int(brand == SISTER_BRAND)
        if table[c, s, 0] < 0:
            table[c, s, :] = i
        else:
            table[c, s, 1] = i
    return table


def _persons_batch(
    rng: np.random.Generator, first: int, n: int, seed: int, first_order: int, first_coupon: int
) -> dict[str, pa.Table]:
    """The rows of every person-level and order-level table for persons ``first .. first+n``."""
    idx = np.arange(first, first + n, dtype=np.int64)
    digits = _scramble(idx, seed)
    person_id = _keys("P", digits, 15)
    plat_names = np.array(list(PLATFORMS))
    plat = plat_names[_choice(rng, PLATFORMS, n)]
    account_key = _keys(pa.array(np.char.add(plat.astype(str), ":")), digits, 15)
    kind = np.array(list(KINDS))[_choice(rng, KINDS, n)]
    cats = list(PRIMARY_CATEGORY)
    primary = _choice(rng, PRIMARY_CATEGORY, n)
    second = np.where(
        rng.random(n) < P_SECOND_CATEGORY, (primary + 1 + rng.integers(0, 2, n)) % 3, -1
    )
    promo_class = _choice(rng, {c.code: c.share for c in PROMO_CLASSES}, n)
    by_code = {c.code: c.rc_days for c in CATEGORIES}
    rc = np.array([by_code[c] for c in cats])[primary]
    mean_interval = rc * rng.lognormal(0.0, RC_SIGMA, n)
    horizon = _day(END)
    first_day = rng.integers(0, horizon + 1, n)
    lifetime = rng.exponential(LIFETIME_DAYS, n)
    span = np.minimum(lifetime, horizon - first_day)
    extra = np.minimum(rng.poisson(span / mean_interval), 40)
    n_orders = np.where(rng.random(n) < P_ONE_OFF, 1, 1 + extra)
    n_orders = np.where(kind == "none", 0, n_orders)
    switcher = (kind == "ours") & (rng.random(n) < P_SWITCH) & (n_orders >= 3)

    # Orders: one row per purchase, its day walked from the first by gamma intervals.
    k = int(n_orders.sum())
    who = np.repeat(np.arange(n), n_orders)
    starts = np.cumsum(n_orders) - n_orders
    seq = np.arange(k) - np.repeat(starts, n_orders)
    gap = rng.gamma(INTERVAL_SHAPE, mean_interval[who] / INTERVAL_SHAPE)
    gap[seq == 0] = 0.0
    walked = np.cumsum(gap)
    walked -= np.repeat(walked[starts[n_orders > 0]], n_orders[n_orders > 0])
    day = first_day[who] + np.floor(walked).astype(np.int64)
    # Promotion waiters: a purchase due shortly before a burst waits for it.
    b_start, b_end = _bursts()
    nxt = np.searchsorted(b_start, day, side="left")
    has_next = nxt < len(b_start)
    nxt_c = np.minimum(nxt, len(b_start) - 1)
    wait = np.array([c.p_wait for c in PROMO_CLASSES])[promo_class[who]]
    lead = b_start[nxt_c] - day
    moves = has_next & (lead > 0) & (lead <= PROMO_WAIT_DAYS) & (rng.random(k) < wait)
    burst_len = b_end[nxt_c] - b_start[nxt_c] + 1
    day = np.where(moves, b_start[nxt_c] + (rng.random(k) * burst_len).astype(np.int64), day)
    keep = day <= horizon
    who, seq, day = who[keep], seq[keep], day[keep]
    k = len(who)
    prev = np.searchsorted(b_start, day, side="right") - 1
    in_burst = (prev >= 0) & (day <= b_end[np.maximum(prev, 0)])

    # Lines: the main one, sometimes a second category, sometimes a free gift.
    pk = kind[who]
    late = seq >= np.ceil(0.6 * n_orders[who])
    sister_main = (
        (pk == "sister")
        | ((pk == "mixed") & (rng.random(k) < P_MIXED_SISTER))
        | (switcher[who] & late)
    )
    second_line = (second[who] >= 0) & (rng.random(k) < P_SECOND_LINE)
    sister_second = np.where(
        pk == "mixed", rng.random(k) < P_MIXED_SISTER, sister_main
    )  # a mixed person mixes within an order too
    lookup = _sku_table()

    def pick(cat: np.ndarray, sister: np.ndarray) -> np.ndarray:
        small = rng.random(len(cat)) >= P_BIG_PACK
        return lookup[cat, sister.astype(np.int64), small.astype(np.int64)]

    main_sku = pick(primary[who], sister_main)
    extra_packs = np.array([c.extra_packs for c in PROMO_CLASSES])[promo_class[who]]
    qty_main = 1 + rng.poisson(0.12 + extra_packs * in_burst)
    li_order = np.arange(k)
    sec_rows = np.flatnonzero(second_line)
    sec_sku = pick(second[who][sec_rows], sister_second[sec_rows])
    qty_sec = 1 + rng.poisson(0.1, len(sec_rows))
    price = np.array([p[4] for p in PRODUCTS])
    goods_main = qty_main * price[main_sku]
    goods = goods_main.astype(np.float64).copy()
    np.add.at(goods, sec_rows, qty_sec * price[sec_sku])
    ours_line = ~sister_main
    ours_line[sec_rows] |= ~sister_second[sec_rows]
    gift_rows = np.flatnonzero(ours_line & (rng.random(k) < P_GIFT))

    # Amounts: burst and everyday discounts, coupons, refunds.
    pc_code = promo_class[who]
    rate = np.where(
        in_burst,
        np.array(BURST_DISCOUNTS)[rng.integers(0, len(BURST_DISCOUNTS), k)],
        np.where(rng.random(k) < P_EVERYDAY_DISCOUNT, rng.uniform(0.03, 0.12, k), 0.0),
    )
    shop_discount = _half(goods * rate)
    p_coupon = np.where(
        in_burst, np.array([c.p_coupon for c in PROMO_CLASSES])[pc_code], P_COUPON_OUTSIDE
    )
    coupon = (rng.random(k) < p_coupon) & (goods >= 60)
    coupon_value = np.where(coupon, np.where(rng.random(k) < 0.5, 10.0, 20.0), 0.0)
    discount = shop_discount + coupon_value
    paid = np.maximum(goods - discount, 0.5)
    refund = rng.random(k)
    net = np.where(
        refund < P_REFUND,
        0.0,
        np.where(refund < P_REFUND + P_PARTIAL_REFUND, _half(paid / 2), paid),
    )
    discount_exported = np.where(rng.random(k) < 0.08, np.nan, discount)
    seconds = rng.integers(8 * 3600, 24 * 3600, k)
    base = np.datetime64(START.isoformat(), "s")
    ordered_at = base + (day * 86400 + seconds).astype("timedelta64[s]")
    order_no = first_order + np.arange(k, dtype=np.int64)
    order_key = _keys(pa.array(np.char.add(plat[who].astype(str), ":")), order_no, 16)

    orders = pa.table(
        {
            "order_key": order_key,
            "account_key": account_key.take(pa.array(who)),
            "ordered_at": pa.array(ordered_at.astype("datetime64[us]")),
            "discount_amount": pa.array(discount_exported, from_pandas=True),
            "paid_amount": pa.array(paid),
            "net_amount": pa.array(net),
        }
    )
    # Line amounts: each product line's share of what was paid, at least half a yuan.
    share = paid / goods
    all_order = np.concatenate([li_order, sec_rows, gift_rows])
    all_sku_idx = np.concatenate([main_sku, sec_sku, np.full(len(gift_rows), -1)])
    all_qty = np.concatenate([qty_main, qty_sec, np.ones(len(gift_rows), dtype=np.int64)])
    unit = np.concatenate([price[main_sku], price[sec_sku], np.zeros(len(gift_rows))])
    amount = np.concatenate(
        [
            np.maximum(_half(goods_main * share), 0.5),
            np.maximum(_half(qty_sec * price[sec_sku] * share[sec_rows]), 0.5),
            np.zeros(len(gift_rows)),
        ]
    )
    has_lines = rng.random(k) >= P_NO_LINES
    kept = has_lines[all_order]
    sku_names = np.array([p[0] for p in PRODUCTS] + [GIFT_SKU])
    lines = pa.table(
        {
            "order_key": order_key.take(pa.array(all_order[kept])),
            "sku": pa.array(sku_names[all_sku_idx[kept]]),
            "quantity": pa.array(all_qty[kept].astype(np.int64)),
            "unit_price": pa.array(unit[kept]),
            "line_amount": pa.array(amount[kept]),
        }
    )

    # Coupons: one row per coupon used, and as many issued and never used.
    used_rows = np.flatnonzero(coupon)
    unused = int(rng.binomial(len(used_rows) + n // 20, 0.5))
    coupons = pa.table(
        {
            "coupon_id": _keys("C", first_coupon + np.arange(len(used_rows) + unused), 12),
            "used_order_key": pa.concat_arrays(
                [order_key.take(pa.array(used_rows)), pa.nulls(unused, pa.string())]
            ),
        }
    )

    # Members: some buyers and some of the pool; a CRM account each.
    buys = n_orders > 0
    member = np.where(buys, rng.random(n) < P_MEMBER_BUYER, rng.random(n) < P_MEMBER_POOL)
    m_idx = np.flatnonzero(member)
    member_id = _keys("M", digits[m_idx], 15)
    tiers = np.array(list(MEMBER_TIER_SHARES))[_choice(rng, MEMBER_TIER_SHARES, len(m_idx))]
    joined = np.datetime64("2021-01-01") + rng.integers(
        0, (np.datetime64(AS_OF) - np.datetime64("2021-01-01")).astype(int) + 1, len(m_idx)
    ).astype("timedelta64[D]")
    members = pa.table(
        {"member_id": member_id, "tier": pa.array(tiers), "joined_at": pa.array(joined)}
    )
    crm_key = pc.binary_join_element_wise("crm:", member_id, "")
    accounts = pa.table(
        {
            "account_key": pa.concat_arrays([account_key, crm_key]),
            "platform": pa.concat_arrays(
                [pa.array(plat.astype(str)), pa.array(np.full(len(m_idx), "crm"))]
            ),
            "person_id": pa.concat_arrays([person_id, person_id.take(pa.array(m_idx))]),
        }
    )
    persons = pa.table({"person_id": person_id})
    return {
        "orders": orders,
        "order_lines": lines,
        "accounts": accounts,
        "persons": persons,
        "members": members,
        "coupons": coupons,
    }


def _products() -> pa.Table:
    daily = {c.code: c.daily_usage for c in CATEGORIES}
    return pa.table(
        {
            "sku": [p[0] for p in PRODUCTS],
            "brand": [p[2] for p in PRODUCTS],
            "category": [p[1] for p in PRODUCTS],
            "uses_per_unit": pa.array([float(p[3]) for p in PRODUCTS]),
            "daily_uses": pa.array([daily[p[1]] for p in PRODUCTS]),
            "list_price": pa.array([p[4] for p in PRODUCTS]),
        }
    )


def _campaigns() -> pa.Table:
    promos = promotions(START, END)
    return pa.table(
        {
            "campaign_id": [p.code for p in promos],
            "burst_start": pa.array([p.burst[0] for p in promos], pa.date32()),
            "burst_end": pa.array([p.burst[1] for p in promos], pa.date32()),
        }
    )


def _money_as_stored(table: str, columns: list[str]) -> str:
    """``REPLACE (...)`` casting the money among ``columns`` of ``table`` to the
    warehouse's exact decimals, so the benchmark reads the types an ingest stores."""
    schema = WAREHOUSE[table].schema
    typed = [
        f'CAST("{col}" AS DECIMAL({schema[col].precision},{schema[col].scale})) AS "{col}"'
        for col in columns
        if col in schema and schema[col].is_decimal()
    ]
    return f" REPLACE ({', '.join(typed)})" if typed else ""


def _manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def generate(
    persons: int, seed: int, root: str | Path, *, batch: int = BATCH, progress: bool = False
) -> Generated:
    """Write ``persons`` synthetic persons' purchases into ``root``: Parquet and a warehouse.

    ``root/parquet/<table>.parquet`` holds every table segmentation reads (one row
    group per batch of persons) and ``root/warehouse.duckdb`` the same tables,
    loaded from them. A folder that already holds this generator's output for the
    same persons and seed is reused as it is.

    Parameters:
        persons: persons in the pool (about one in eight never buys).
        seed: the same seed (and persons) gives the same data.
        root: the data folder; created if missing, replaced if it holds other data.
        batch: persons generated at once; memory grows with it, not with ``persons``.
        progress: show a progress bar.

    Example:
        >>> g = generate(2000, seed=1, root="/tmp/bench-data")
        >>> g.rows["persons"]
        2000
    """
    root = Path(root)
    want = {"persons": persons, "seed": seed, "version": GENERATOR_VERSION}
    found = _manifest(root)
    if found and all(found.get(k) == v for k, v in want.items()):
        log.info("bench: reusing the data in %s", root)
        return Generated(root, persons, seed, found["rows"], found["seconds"])
    if root.exists():
        shutil.rmtree(root)
    (root / "parquet").mkdir(parents=True)
    t0 = time.perf_counter()
    writers: dict[str, pq.ParquetWriter] = {}
    rows = dict.fromkeys(TABLES, 0)
    bar = tqdm(total=persons, unit="persons", desc="bench data", disable=not progress)
    first_order = first_coupon = 0
    for b, first in enumerate(range(0, persons, batch)):
        n = min(batch, persons - first)
        rng = np.random.default_rng([seed, b])
        tables = _persons_batch(rng, first, n, seed, first_order, first_coupon)
        first_order += tables["orders"].num_rows
        first_coupon += tables["coupons"].num_rows
        for name, t in tables.items():
            if name not in writers:
                writers[name] = pq.ParquetWriter(root / "parquet" / f"{name}.parquet", t.schema)
            writers[name].write_table(t)
            rows[name] += t.num_rows
        bar.update(n)
    bar.close()
    for w in writers.values():
        w.close()
    for name, t in (("products", _products()), ("campaigns", _campaigns())):
        pq.write_table(t, root / "parquet" / f"{name}.parquet")
        rows[name] = t.num_rows
    con = open_duckdb(root / "warehouse.duckdb")
    try:
        for name in TABLES:
            columns = pq.read_schema(root / "parquet" / f"{name}.parquet").names
            path = str(root / "parquet" / f"{name}.parquet").replace("'", "''")
            con.execute(
                f'CREATE TABLE "{name}" AS SELECT *{_money_as_stored(name, columns)} '
                f"FROM read_parquet('{path}')"
            )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    seconds = time.perf_counter() - t0
    (root / "manifest.json").write_text(
        json.dumps({**want, "rows": rows, "seconds": seconds}, indent=1), encoding="utf-8"
    )
    log.info("bench: %s persons, %s orders in %.1f s -> %s", persons, rows["orders"], seconds, root)
    return Generated(root, persons, seed, rows, seconds)
