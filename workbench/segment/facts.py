"""What segmentation reads: each person's purchases up to an as-of date, per order and category.

A purchase is an order of a resolved person (``accounts`` at a link threshold)
placed on or before ``as_of`` that kept some value after refunds. Categories
and brands come from the product master; a line whose SKU the master does not
know (a free sample, a data set without a master) has no category, and is of
our brand. "Our brand" is a setting; by default the brand with the most order
lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.engine import materialise, scratch_name
from workbench.schema import MONEY
from workbench.segment.rfm import promotion_measures
from workbench.unify.channels import orders_until
from workbench.unify.identity import accounts_at


@dataclass(frozen=True)
class Purchases:
    """The purchase tables of one as-of date.

    The three purchase tables are computed once into scratch tables (temporary on
    DuckDB, so a read-only warehouse will do): every step of a snapshot reads
    them several times.

    Attributes:
        orders: one row per purchase: ``person_id``, ``order_key``, ``day``,
            ``net_amount``, ``paid_amount``, ``list_value`` (list price of its
            lines), ``ours`` (holds a line of our brand), ``other_brand`` (holds a
            line of another brand), ``coupon`` (a discount or coupon was applied),
            ``promo`` (placed in a campaign's burst phase).
        categories: one row per purchase and category: ``person_id``, ``order_key``,
            ``day``, ``category``, ``ours``, ``units`` (uses bought),
            ``daily_uses``.
        persons: every resolved person: ``person_id`` and ``first_day``, the day of their
            first order of any value (``None`` for a member who never ordered); the
            snapshot's pool is those who had ordered or joined by as-of.
        per_person: one row per person with any purchase (ours or another
            brand's): of our brand ``purchases`` (purchase days), ``orders``,
            ``net_amount`` (an exact decimal), ``first_day``, ``last_day`` and the
            :func:`~workbench.segment.rfm.promotion_measures`, all ``None`` or
            0 for a person who bought only other brands; ``last_other`` (the
            last day with another brand's product, ``None`` if never).
        as_of: the as-of date.
        brand: our brand (``None`` when the product master names none).
        has_other_brands: whether any purchase holds another brand's product:
            without such data, competitor and brand-lost tiers cannot be told apart.
        absent: the parts of a brand's data these purchases lack, each of which
            leaves something unshown: ``other_brands``, ``members`` (no member CRM),
            ``promotions`` (no campaign bursts, coupons or discounts: promotion
            sensitivity cannot be judged), ``products`` (no product master: no
            categories and no usage RC).
        link_threshold: the link threshold the persons were resolved at (``None``: as
            stored).
    """

    orders: ir.Table
    categories: ir.Table
    persons: ir.Table
    per_person: ir.Table
    as_of: dt.date
    brand: str | None
    has_other_brands: bool
    absent: tuple[str, ...] = ()
    link_threshold: float | None = None


def our_brand(con: Any) -> str | None:
    """The brand with the most order lines in the product master (``None`` without one)."""
    if "products" not in con.list_tables():
        return None
    lines = con.table("order_lines")
    products = con.table("products")
    j = lines.join(products, lines.sku == products.sku)
    top = j.group_by(j.brand).agg(n=j.count()).order_by([ibis.desc("n"), "brand"]).limit(1)
    found = top.to_pandas()
    return None if found.empty else str(found["brand"].iat[0])


def purchases(
    con: Any,
    as_of: dt.date,
    link_threshold: float | None = None,
    brand: str | None = None,
    *,
    within: Purchases | None = None,
) -> Purchases:
    """Each resolved person's purchases up to ``as_of`` (see :class:`Purchases`).

    Parameters:
        con: an Ibis backend on the warehouse.
        as_of: the as-of date; later orders are left out.
        link_threshold: the link threshold persons are resolved at (``None``: as stored).
        brand: our brand; ``None`` takes :func:`our_brand`.
        within: the purchases of a later as-of date, at the same link threshold and
            brand: this date's are their orders up to ``as_of``, read from their
            scratch tables instead of computed again from the warehouse (several
            snapshots made at once pay for the order facts once).

    Raises:
        ValueError: ``within`` is of an earlier date, another brand or link threshold.
    """
    brand = brand or (within.brand if within is not None else None) or our_brand(con)
    if within is not None:
        if within.as_of < as_of or within.brand != brand or within.link_threshold != link_threshold:
            raise ValueError(
                f"purchases as of {as_of} (brand {brand}, link threshold {link_threshold}) "
                f"cannot be read from those as of {within.as_of} (brand {within.brand}, "
                f"link threshold {within.link_threshold})"
            )
        return _earlier(con, within, as_of, link_threshold)
    accounts = accounts_at(con, link_threshold)
    orders = orders_until(con, as_of)
    orders = orders.filter(orders.net_amount > 0)
    o = orders.join(accounts, orders.account_key == accounts.account_key).select(
        person_id=accounts.person_id,
        order_key=orders.order_key,
        day=orders.ordered_at.date(),
        net_amount=orders.net_amount,
        paid_amount=orders.paid_amount,
        discount_amount=orders.discount_amount.fill_null(0.0),
    )
    lines = con.table("order_lines")
    if "products" in con.list_tables():
        products = con.table("products").select(
            "sku", "brand", "category", "uses_per_unit", "daily_uses", "list_price"
        )
        lines = lines.left_join(products, lines.sku == products.sku)
    else:
        lines = lines.mutate(
            brand=ibis.null("string"),
            category=ibis.null("string"),
            uses_per_unit=ibis.null("float64"),
            daily_uses=ibis.null("float64"),
            list_price=ibis.null(MONEY),
        )
    is_ours = lines.brand.isnull() | (lines.brand == (brand or ""))
    lines = lines.mutate(
        ours=is_ours,
        units=lines.quantity * lines.uses_per_unit,
        list_value=lines.quantity * lines.list_price.fill_null(lines.unit_price),
    )
    per_order = lines.group_by("order_key").agg(
        ours=lines.ours.any(),
        other_brand=(~lines.ours).any(),
        list_value=lines.list_value.sum(),
    )
    used = con.table("coupons").filter(ibis._.used_order_key.notnull())
    used = used.group_by("used_order_key").agg(coupons=ibis._.count())
    orders_out = (
        o.left_join(per_order, "order_key")
        .left_join(used, [("order_key", "used_order_key")])
        .select(
            "person_id",
            "order_key",
            "day",
            "net_amount",
            "paid_amount",
            list_value=ibis._.list_value.fill_null(0.0),
            ours=ibis._.ours.fill_null(True),
            other_brand=ibis._.other_brand.fill_null(False),
            coupon=(ibis._.discount_amount > 0) | ibis._.coupons.notnull(),
        )
    )
    orders_out = orders_out.mutate(promo=_in_promotion(con, orders_out.day))
    cat_lines = lines.filter(lines.category.notnull() & (lines.line_amount > 0))
    per_cat = cat_lines.group_by(["order_key", "category"]).agg(
        ours=cat_lines.ours.any(),
        units=cat_lines.units.sum(),
        daily_uses=cat_lines.daily_uses.max(),
    )
    key = (as_of, link_threshold, brand)
    orders_out = materialise(orders_out, scratch_name("purchase_orders", *key), con)
    categories = orders_out.join(per_cat, "order_key").select(
        "person_id", "order_key", "day", "category", per_cat.ours, "units", "daily_uses"
    )
    categories = materialise(categories, scratch_name("purchase_categories", *key), con)
    every = con.table("orders")
    every = every.join(accounts, every.account_key == accounts.account_key)
    first = every.group_by(accounts.person_id).agg(first_day=every.ordered_at.min().date())
    if "persons" in con.list_tables():
        persons = con.table("persons").select("person_id").left_join(first, "person_id")
        persons = persons.select("person_id", "first_day")
    else:
        persons = first
    return _completed(con, orders_out, categories, persons, as_of, link_threshold, brand)


def _earlier(
    con: Any, within: Purchases, as_of: dt.date, link_threshold: float | None
) -> Purchases:
    """The purchases up to ``as_of`` from those of a later date (see :func:`purchases`)."""
    orders = within.orders.filter(within.orders.day <= as_of)
    categories = within.categories.filter(within.categories.day <= as_of)
    return _completed(con, orders, categories, within.persons, as_of, link_threshold, within.brand)


def _completed(
    con: Any,
    orders_out: ir.Table,
    categories: ir.Table,
    persons: ir.Table,
    as_of: dt.date,
    link_threshold: float | None,
    brand: str | None,
) -> Purchases:
    """:class:`Purchases` from its order and category facts: the per-person table,
    computed once, and the parts of the data that are absent."""
    key = (as_of, link_threshold, brand)
    per_person = materialise(_per_person(orders_out), scratch_name("purchase_persons", *key), con)
    other = bool(per_person.last_other.notnull().any().execute())
    on_promotion = orders_out.filter(orders_out.coupon | orders_out.promo).count()
    tables = set(con.list_tables())
    absent = tuple(
        part
        for part, missing in (
            ("other_brands", not other),
            (
                "members",
                "members" not in tables or int(con.table("members").count().execute()) == 0,
            ),
            ("promotions", int(on_promotion.execute()) == 0),
            ("products", "products" not in tables or _empty(con.table("products"))),
        )
        if missing
    )
    return Purchases(
        orders_out, categories, persons, per_person, as_of, brand, other, absent, link_threshold
    )


def _empty(table: ir.Table) -> bool:
    return int(table.count().execute()) == 0


def _per_person(orders: ir.Table) -> ir.Table:
    """:attr:`Purchases.per_person` from :attr:`Purchases.orders`."""
    ours = orders.ours
    return orders.group_by("person_id").agg(
        purchases=orders.day.nunique(where=ours),
        orders=orders.count(where=ours),
        # A sum of exact decimals: the same whatever the order of addition, so no
        # run-to-run difference in its last bits moves a person across a bound.
        net_amount=orders.net_amount.sum(where=ours),
        first_day=orders.day.min(where=ours),
        last_day=orders.day.max(where=ours),
        last_other=orders.day.max(where=orders.other_brand),
        **promotion_measures(orders, where=ours),
    )


def _in_promotion(con: Any, day: ir.DateValue) -> ir.BooleanValue:
    """Whether ``day`` falls in the burst phase (爆发期) of any campaign."""
    if "campaigns" not in con.list_tables():
        return ibis.literal(False)
    windows = con.table("campaigns").select("burst_start", "burst_end").to_pandas().dropna()
    if windows.empty:
        return ibis.literal(False)
    conditions = [
        day.between(pd.Timestamp(s).date(), pd.Timestamp(e).date())
        for s, e in zip(windows["burst_start"], windows["burst_end"], strict=True)
    ]
    out = conditions[0]
    for c in conditions[1:]:
        out = out | c
    return out
