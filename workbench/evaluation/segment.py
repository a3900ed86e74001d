"""How well segmentation recovers what the synthetic world planted.

Two checks of Job 2 against ``data/truth/``:

- :func:`rc_recovery`: the repurchase cycle (RC) each method found per
  category beside the planted RC (``parameters.json``), with the relative
  error. Given a snapshot, it also applies the inductive method to the true
  buyers (the truth's orders, so identity resolution is out of the picture)
  and reports the planted person-level RC of those who repurchased: this
  tells a gap the generator makes (who gets to be a repeat customer) from one
  our computation makes.
- :func:`sensitivity_confusion`: promotion-sensitivity classes found vs the
  planted promotion class, through each resolved person's majority true
  owner, with agreement and Cohen's kappa.

Only this package reads the truth; the jobs never do.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from workbench.config import SegmentSettings
from workbench.evaluation.identity import account_people, has_truth
from workbench.segment.rc import RepurchaseCycles, p90_interval, purchase_intervals
from workbench.segment.rfm import SENSITIVITY
from workbench.segment.segments import Snapshot
from workbench.unify.identity import accounts_at

PLANTED_CLASSES: tuple[str, ...] = ("fanatic", "sensitive", "neutral", "indifferent")
"""The planted promotion classes, most to least sensitive (``world.PROMO_CLASSES``)."""


def planted_categories(truth_dir: str | Path) -> pd.DataFrame:
    """The planted categories: ``code``, ``name_zh``, ``name_en`` and ``rc_days``.

    Example:
        >>> planted_categories("data/truth")[["code", "rc_days"]]  # doctest: +SKIP
                 code  rc_days
        0     laundry     60.0
        1  dishwasher    100.0
        2    handwash     45.0
    """
    params = json.loads((Path(truth_dir) / "parameters.json").read_text(encoding="utf-8"))
    rows = [
        {
            "code": c["code"],
            "name_zh": c["name_zh"],
            "name_en": c["name_en"],
            "rc_days": float(c["rc_days"]),
        }
        for c in params["categories"]
    ]
    return pd.DataFrame(rows, columns=["code", "name_zh", "name_en", "rc_days"])


def _category_code(names: pd.Series, planted: pd.DataFrame) -> pd.Series:
    """The planted code of each warehouse category name (Chinese, English or the code)."""
    lookup: dict[str, str] = {}
    for r in planted.itertuples():
        lookup.update({str(r.code): str(r.code), str(r.name_zh): str(r.code)})
        lookup[str(r.name_en)] = str(r.code)
    return names.map(lambda n: lookup.get(n) if isinstance(n, str) else None)


def truth_cycles(
    con: Any,
    truth_dir: str | Path,
    as_of: dt.date,
    brand: str | None = None,
    settings: SegmentSettings | None = None,
) -> pd.DataFrame:
    """The inductive method applied to the true buyers, and the planted RC of those it sees.

    A purchase is a real order (no test order) placed by the true buyer on or
    before ``as_of`` that kept some value after refunds; its categories are
    those of its lines of ``brand`` with a positive amount (the warehouse's
    order lines and product master). A repeat customer has two or more
    purchase days in the category; RC = p90 of their mean interval / 3, as
    :mod:`workbench.segment.rc` defines it.

    Parameters:
        con: an Ibis backend on the warehouse (order lines and products).
        truth_dir: the synthetic truth.
        as_of: the as-of date.
        brand: our brand (``None``: lines of every brand count).
        settings: ``rc_quantile`` and ``rc_multiple`` (the defaults if ``None``).

    Returns:
        One row per planted category ``code``: ``true_repeaters``,
        ``rc_inductive_true`` (the method on the true buyers),
        ``rc_planted_buyers`` (p90 / 3 of the planted person RC over the true
        buyers of the category up to ``as_of``) and ``rc_planted_repeaters``
        (the same over the true repeat customers only).
    """
    truth = Path(truth_dir)
    planted = planted_categories(truth)
    o = con.read_parquet(str(truth / "orders" / "*.parquet"))
    day_end = as_of
    o = o.filter(
        ~o.is_test,
        o.order_date.cast("date") <= day_end,
        (o.paid_amount - o.refund_amount.fill_null(0.0)) > 0,
    )
    o = o.select(
        order_key=o.platform + ":" + o.order_id,
        person_id=o.person_id,
        day=o.order_date.cast("date"),
    )
    lines = con.table("order_lines")
    products = con.table("products").select("sku", "brand", "category")
    lines = lines.join(products, lines.sku == products.sku)
    lines = lines.filter(lines.line_amount > 0, lines.category.notnull())
    if brand is not None:
        lines = lines.filter(lines.brand == brand)
    days = (
        o.join(lines, o.order_key == lines.order_key)
        .select(o.person_id, o.day, lines.category)
        .distinct()
    )
    g = days.group_by(["person_id", "category"]).agg(
        n=days.count(), first=days.day.min(), last=days.day.max()
    )
    g = g.mutate(
        mean_interval=ibis.ifelse(
            g.n >= 2, g["last"].delta(g["first"], unit="day") / (g.n - 1), ibis.null("float64")
        )
    )
    people = g.select("person_id", "category", "n", "mean_interval").to_pandas()
    people["code"] = _category_code(people["category"], planted)
    person_rc = pd.read_parquet(truth / "person_rc", columns=["person_id", "category", "rc_days"])
    people = people.merge(
        person_rc.rename(columns={"category": "code", "rc_days": "planted_rc"}),
        on=["person_id", "code"],
        how="left",
    )

    rule = settings or SegmentSettings()

    def p90(s: pd.Series) -> float:
        s = s.dropna()
        return float(s.quantile(rule.rc_quantile)) / rule.rc_multiple if len(s) else float("nan")

    rows = []
    for code in planted["code"]:
        buyers = people[people["code"] == code]
        rep = buyers[buyers["n"] >= 2]
        rows.append(
            {
                "code": code,
                "true_repeaters": len(rep),
                "rc_inductive_true": p90(rep["mean_interval"]),
                "rc_planted_buyers": p90(buyers["planted_rc"]),
                "rc_planted_repeaters": p90(rep["planted_rc"]),
            }
        )
    return pd.DataFrame(rows)


def rc_recovery(
    snapshot_or_cycles: Snapshot | RepurchaseCycles, truth_dir: str | Path
) -> pd.DataFrame:
    """RC per planted category by each method beside the planted RC, with relative errors.

    Parameters:
        snapshot_or_cycles: a :class:`~workbench.segment.segments.Snapshot` (adds
            the columns of :func:`truth_cycles` for its as-of date and brand) or
            just its :class:`~workbench.segment.rc.RepurchaseCycles`.
        truth_dir: the synthetic truth.

    Returns:
        One row per planted category: ``code``, ``category`` (as the warehouse
        names it), ``rc_planted``, ``rc_usage``, ``rc_inductive``, ``repeaters``,
        ``usage_error`` and ``inductive_error`` (found / planted - 1); from a
        snapshot also ``true_repeaters``, ``rc_inductive_true``,
        ``rc_planted_buyers``, ``rc_planted_repeaters`` and ``error_vs_true``
        (our inductive RC / the method on the true buyers - 1).

    Example:
        >>> rc_recovery(run(con, dt.date(2026, 11, 19)), "data/truth")  # doctest: +SKIP
    """
    planted = planted_categories(truth_dir)
    snapshot: Snapshot | None
    if isinstance(snapshot_or_cycles, Snapshot):
        snapshot, cycles = snapshot_or_cycles, snapshot_or_cycles.cycles
    else:
        snapshot, cycles = None, snapshot_or_cycles
    found = cycles.table.dropna(subset=["category"]).copy()
    found["code"] = _category_code(found["category"], planted)
    found = found.dropna(subset=["code"])
    out = planted.rename(columns={"rc_days": "rc_planted"})[["code", "rc_planted"]].merge(
        found[["code", "category", "rc_usage", "rc_inductive", "repeaters"]], on="code", how="left"
    )
    out["usage_error"] = out["rc_usage"] / out["rc_planted"] - 1
    out["inductive_error"] = out["rc_inductive"] / out["rc_planted"] - 1
    if snapshot is not None:
        p = snapshot.purchases
        con = p.orders.get_backend()
        true = truth_cycles(con, truth_dir, p.as_of, p.brand, snapshot.settings)
        out = out.merge(true, on="code", how="left")
        out["error_vs_true"] = out["rc_inductive"] / out["rc_inductive_true"] - 1
    first = ["code", "category"]
    return out[first + [c for c in out.columns if c not in first]]


@dataclass(frozen=True)
class SensitivityAgreement:
    """Promotion sensitivity found vs planted.

    Attributes:
        matrix: persons by planted class (rows, :data:`PLANTED_CLASSES`) and
            class found (columns: the four classes, then ``unknown``).
        agreement: share of classified persons (found class not ``unknown``)
            whose class is the planted one.
        chance: the agreement expected by chance from the margins.
        kappa: Cohen's kappa over the classified persons.
        weighted_kappa: linearly weighted kappa (the classes are ordered, so
            fanatic found as sensitive is a smaller miss than as indifferent).
        classified: persons classified; ``unknown``: persons left unknown.
    """

    matrix: pd.DataFrame
    agreement: float
    chance: float
    kappa: float
    weighted_kappa: float
    classified: int
    unknown: int


def person_owners(con: Any, truth_dir: str | Path, threshold: float | None = None) -> pd.DataFrame:
    """Each resolved person's majority true owner.

    The owner of each of a person's accounts comes from
    :func:`~workbench.evaluation.identity.account_people`; the majority is
    counted in orders (accounts without orders, such as CRM records, count
    for ties only); remaining ties go to the smallest id.

    Returns:
        ``person_id``, ``owner``, ``owner_share`` (the owner's share of the
        person's orders, or of their accounts when they have no order).
    """
    people = account_people(con, truth_dir)["owner"].rename("owner")
    acc = accounts_at(con, threshold).select("account_key", "person_id").to_pandas()
    n = con.table("orders").group_by("account_key").agg(orders=ibis._.count()).to_pandas()
    acc = acc.merge(n, on="account_key", how="left").fillna({"orders": 0})
    acc = acc.join(people, on="account_key", how="inner")
    w = acc.groupby(["person_id", "owner"]).agg(
        orders=("orders", "sum"), accounts=("orders", "size")
    )
    w = w.reset_index().sort_values(
        ["person_id", "orders", "accounts", "owner"],
        ascending=[True, False, False, True],
        kind="mergesort",
    )
    tot = w.groupby("person_id")[["orders", "accounts"]].transform("sum")
    share = np.where(
        tot["orders"] > 0,
        w["orders"] / tot["orders"].where(tot["orders"] > 0, 1),
        w["accounts"] / tot["accounts"],
    )
    w = w.assign(owner_share=share)
    return w.drop_duplicates("person_id")[["person_id", "owner", "owner_share"]].reset_index(
        drop=True
    )


def sensitivity_confusion(
    segments: pd.DataFrame | ir.Table,
    con: Any,
    truth_dir: str | Path,
    threshold: float | None = None,
) -> SensitivityAgreement:
    """Promotion sensitivity found vs the planted promotion class.

    Parameters:
        segments: one row per person with ``person_id`` and
            ``promo_sensitivity`` (a snapshot's table, or the stored
            ``segments`` of one as-of date); persons without a class (never
            bought) are left out.
        con: an Ibis backend on the warehouse the segments came from.
        truth_dir: the synthetic truth.
        threshold: the link threshold the segments were resolved at (``None``: as stored).

    Returns:
        A :class:`SensitivityAgreement`.

    Example:
        >>> s = sensitivity_confusion(snapshot.table, con, "data/truth")  # doctest: +SKIP
        >>> s.kappa  # doctest: +SKIP
    """
    from sklearn.metrics import cohen_kappa_score  # loaded on first use: sklearn is slow to import

    if isinstance(segments, ir.Table):
        segments = segments.select("person_id", "promo_sensitivity").to_pandas()
    found = segments[["person_id", "promo_sensitivity"]].dropna()
    owners = person_owners(con, truth_dir, threshold)
    truth = pd.read_parquet(Path(truth_dir) / "persons", columns=["person_id", "promo_class"])
    truth = truth.rename(columns={"person_id": "owner"})
    j = found.merge(owners, on="person_id").merge(truth, on="owner")
    found_order = [c for c in SENSITIVITY if c in PLANTED_CLASSES] + [
        c for c in SENSITIVITY if c not in PLANTED_CLASSES
    ]
    matrix = pd.crosstab(
        pd.Categorical(j["promo_class"], categories=list(PLANTED_CLASSES)),
        pd.Categorical(j["promo_sensitivity"], categories=found_order),
        dropna=False,
    )
    matrix.index.name, matrix.columns.name = "planted", "found"
    known = j[j["promo_sensitivity"].isin(PLANTED_CLASSES)]
    labels = list(PLANTED_CLASSES)
    if known.empty:
        nan = float("nan")
        return SensitivityAgreement(matrix, nan, nan, nan, nan, 0, len(j))
    sub = matrix[labels].to_numpy(dtype=float)
    total = sub.sum()
    agreement = float(np.trace(sub) / total)
    chance = float((sub.sum(axis=1) @ sub.sum(axis=0)) / total**2)
    kappa = float(
        cohen_kappa_score(known["promo_class"], known["promo_sensitivity"], labels=labels)
    )
    weighted = float(
        cohen_kappa_score(
            known["promo_class"], known["promo_sensitivity"], labels=labels, weights="linear"
        )
    )
    return SensitivityAgreement(
        matrix, agreement, chance, kappa, weighted, len(known), len(j) - len(known)
    )


def _truth_orders(truth_dir: str | Path) -> pd.DataFrame:
    """The true orders' keys, buyers and receivers (read once for the checks)."""
    return pd.read_parquet(
        Path(truth_dir) / "orders",
        columns=["platform", "order_id", "person_id", "receiver_person_id"],
    )


def rc_without_gifts(s: Snapshot, truth: str | Path | pd.DataFrame) -> pd.DataFrame:
    """The inductive RC per category on the snapshot's purchases with the gift orders
    left out (orders whose true buyer is not their receiver: the warehouse, by their
    evidence, gives them to the receiver).

    Parameters:
        s: a snapshot.
        truth: the synthetic truth's folder, or its orders already read.

    Returns:
        ``category`` (as the warehouse names it) and ``rc_no_gifts``.
    """
    if not isinstance(truth, pd.DataFrame):
        truth = _truth_orders(truth)
    gifts = truth[truth["person_id"] != truth["receiver_person_id"]]
    keys = ibis.memtable(
        pd.DataFrame({"order_key": gifts["platform"] + ":" + gifts["order_id"]}),
        schema={"order_key": "string"},
    )
    c = s.purchases.categories
    kept = c.filter(c.ours).anti_join(keys, "order_key")
    rule = s.settings
    found = p90_interval(
        purchase_intervals(kept, ("category",)), ("category",), rule.rc_quantile
    ).to_pandas()
    found["rc_no_gifts"] = found["p90_interval"].astype("float64") / rule.rc_multiple
    return found[["category", "rc_no_gifts"]]


@dataclass(frozen=True)
class SegmentChecks:
    """What 02_segment shows of a snapshot against the synthetic truth.

    Attributes:
        rc: per planted category: ``category``, ``rc_planted``, the RC found
            (``rc_inductive`` with its 95% interval ``rc_inductive_low`` ..
            ``rc_inductive_high``, ``inductive_error``), the method on the true
            buyers (``rc_inductive_true``), the RC with gift orders left out
            (``rc_no_gifts``), and p90 / 3 of the planted person RC over the true
            repeat customers (``rc_planted_repeaters``) and over all true buyers
            (``rc_planted_buyers``): the window's end, which keeps long cycles
            from repeating, is their difference.
        sensitivity: promotion sensitivity found against the planted class.
    """

    rc: pd.DataFrame
    sensitivity: SensitivityAgreement


def _truth_of(s: Snapshot, truth: pd.DataFrame) -> bool:
    """Whether the truth describes the snapshot's warehouse: some of its orders are there
    (a project may hold a demo's truth beside real data ingested later)."""
    sample = truth.head(50)
    keys = list(sample["platform"] + ":" + sample["order_id"])
    orders = s.purchases.orders.get_backend().table("orders")
    return bool(int(orders.filter(orders.order_key.isin(keys)).count().execute()) > 0)


def segment_checks(s: Snapshot, truth_dir: str | Path | None) -> SegmentChecks | None:
    """The snapshot's RC and promotion sensitivity against the planted truth, with the
    two measured causes of the RC's distance from the planted value; ``None`` on real
    data (no truth).

    Example:
        >>> checks = segment_checks(now, "data/truth")  # doctest: +SKIP
        >>> checks.rc[["category", "rc_planted", "rc_inductive", "rc_no_gifts"]]  # doctest: +SKIP
    """
    if truth_dir is None or not has_truth(truth_dir):
        return None
    truth = _truth_orders(truth_dir)
    if not _truth_of(s, truth):
        return None
    rc = rc_recovery(s, truth_dir)
    bounds = s.cycles.table[["category", "rc_inductive_low", "rc_inductive_high"]]
    rc = rc.merge(bounds, on="category", how="left")
    rc = rc.merge(rc_without_gifts(s, truth), on="category", how="left")
    con = s.purchases.orders.get_backend()
    agreement = sensitivity_confusion(s.table, con, truth_dir, s.link_threshold)
    return SegmentChecks(rc, agreement)
