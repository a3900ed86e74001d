"""Tags per person, and audiences: a readable filter over the tags, saved by name.

Three kinds of tag, one row per person of a snapshot:

- static: ``city`` (the member record's, else the city most of their orders
  ship to), ``register_channel``, ``first_channel`` (platform of the first
  order), ``member_tier``;
- semi-dynamic (their latest state): ``tier_l1``, ``tier_l2``, ``rfm_segment``,
  ``promo_sensitivity``, ``last_channel``;
- dynamic, over windows of the N days that end on the as-of date (``7``,
  ``30``, ``90``, ``365`` by default; the last 30 days as of Dec 31 are Dec 2-31): ``orders_<N>d`` (our brand), ``other_brand_orders_<N>d``,
  ``coupons_used_<N>d``, ``visits_<N>d`` (campaign messages that led to a
  visit), ``bought_<category>_<N>d`` for each category of the product master,
  plus ``orders_ever``.

An audience is a name and a filter written over these tags in SQL's WHERE
syntax, which reads as it says::

    city = '北京市' AND visits_90d >= 3 AND orders_ever >= 1
        AND other_brand_orders_7d = 0

(registered in Beijing, visited 3 or more times in three months, bought at
least once, and no purchase of the other brand in the last week).

:func:`audience` returns the persons it selects (and so its size);
:func:`save_audience` stores the definition and its members in
``audiences`` and ``audience_members``, replacing an audience of the same name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from workbench.segment.segments import Snapshot

WINDOWS: tuple[int, ...] = (7, 30, 90, 365)


def _slug(text: str) -> str:
    """A column-name-safe form of a category name (ASCII letters, digits, CJK kept)."""
    return re.sub(r"[^\w]+", "_", text).strip("_").lower()


def tags(con: Any, s: Snapshot, windows: tuple[int, ...] = WINDOWS) -> ir.Table:
    """Every tag of every person of the snapshot (see the module doc)."""
    as_of = s.as_of
    orders = s.purchases.orders
    table = s.table
    base = table.select(
        "person_id",
        "member_tier",
        "tier_l1",
        "tier_l2",
        "rfm_segment",
        "promo_sensitivity",
        "purchases",
    )
    # channels: the platform of the first and the last order of our brand
    raw_orders = con.table("orders").select("order_key", "platform")
    ours = orders.filter(orders.ours).join(raw_orders, "order_key")
    first_rank = ibis.row_number().over(group_by="person_id", order_by=["day", "order_key"])
    last_rank = ibis.row_number().over(
        group_by="person_id", order_by=[ibis.desc("day"), ibis.desc("order_key")]
    )
    ranked = ours.mutate(first_rank=first_rank, last_rank=last_rank)
    first = ranked.filter(ranked.first_rank == 0).select("person_id", first_channel="platform")
    last = ranked.filter(ranked.last_rank == 0).select("person_id", last_channel="platform")
    city = _city(con)
    out = base
    for part in (city, first, last):
        out = out.left_join(part, "person_id").select(~ibis.selectors.endswith("_right"))
    cats = s.purchases.categories.filter(s.purchases.categories.ours)
    categories = sorted(
        c for c in cats.select("category").distinct().to_pandas()["category"].dropna()
    )
    counts: dict[str, Any] = {"orders_ever": orders.ours.cast("int64").sum()}
    bought: dict[str, Any] = {}
    for n in windows:
        recent = orders.day > as_of - dt.timedelta(days=n)
        counts[f"orders_{n}d"] = (orders.ours & recent).cast("int64").sum()
        counts[f"other_brand_orders_{n}d"] = (orders.other_brand & recent).cast("int64").sum()
        counts[f"coupons_used_{n}d"] = (orders.ours & orders.coupon & recent).cast("int64").sum()
        for c in categories:
            in_window = (cats.category == c) & (cats.day > as_of - dt.timedelta(days=n))
            bought[f"bought_{_slug(c)}_{n}d"] = in_window.any()
    per = orders.group_by("person_id").agg(**counts)
    if bought:
        per = per.left_join(cats.group_by("person_id").agg(**bought), "person_id").select(
            ~ibis.selectors.endswith("_right")
        )
    visits = _visits(con, table, as_of, windows)
    out = out.left_join(per, "person_id").select(~ibis.selectors.endswith("_right"))
    out = out.left_join(visits, "person_id").select(~ibis.selectors.endswith("_right"))
    fill = {
        c: 0
        for c in out.columns
        if re.fullmatch(r"(orders|other_brand_orders|coupons_used|visits)_\d+d|orders_ever", c)
    }
    fill.update({c: False for c in out.columns if c.startswith("bought_")})
    return out.mutate(**{c: out[c].fill_null(v) for c, v in fill.items()})


def _city(con: Any) -> ir.Table:
    """Each person's city and register channel: the member record's, else the city most
    of their orders ship to."""
    acc = con.table("accounts")
    parts = []
    if "members" in con.list_tables():
        m = con.table("members")
        crm = acc.filter(acc.platform == "crm").join(m, acc.account_key == ("crm:" + m.member_id))
        member_city = crm.group_by(crm.person_id).agg(
            member_city=crm.city.min(), register_channel=crm.register_channel.min()
        )
        parts.append(member_city)
    if "contacts" in con.list_tables():
        c = con.table("contacts").filter(ibis._.city.notnull() & ibis._.account_key.notnull())
        j = c.join(acc, c.account_key == acc.account_key).select(acc.person_id, c.city)
        n = j.group_by(["person_id", "city"]).agg(n=j.count())
        rank = ibis.row_number().over(group_by="person_id", order_by=[ibis.desc("n"), "city"])
        order_city = n.mutate(r=rank).filter(ibis._.r == 0).select("person_id", order_city="city")
    else:
        order_city = acc.select("person_id").distinct().mutate(order_city=ibis.null("string"))
    out = order_city
    for part in parts:
        out = out.outer_join(part, "person_id").select(
            person_id=ibis.coalesce(out.person_id, part.person_id),
            order_city=out.order_city,
            member_city=part.member_city,
            register_channel=part.register_channel,
        )
    if not parts:
        out = out.mutate(member_city=ibis.null("string"), register_channel=ibis.null("string"))
    return out.select(
        "person_id",
        city=ibis.coalesce(out.member_city, out.order_city),
        register_channel=out.register_channel,
    )


def _visits(con: Any, table: ir.Table, as_of: dt.date, windows: tuple[int, ...]) -> ir.Table:
    """Campaign messages that led to a visit, per person and window."""
    if "touches" not in con.list_tables():
        return table.select("person_id").mutate(
            **{f"visits_{n}d": ibis.literal(0) for n in windows}
        )
    t = con.table("touches").filter(ibis._.visited)
    acc = con.table("accounts").filter(ibis._.platform == "crm")
    j = t.join(acc, acc.account_key == ("crm:" + t.member_id)).select(
        acc.person_id, day=t.sent_at.date()
    )
    j = j.filter(j.day <= as_of)
    return j.group_by("person_id").agg(
        **{
            f"visits_{n}d": (j.day > as_of - dt.timedelta(days=n)).sum().cast("int64")
            for n in windows
        }
    )


@dataclass(frozen=True)
class Audience:
    """A named filter over the tags, and the persons it selects."""

    name: str
    where: str
    persons: ir.Table

    @property
    def size(self) -> int:
        return int(self.persons.count().execute())


def audience(con: Any, tag_table: ir.Table, name: str, where: str) -> Audience:
    """The persons whose tags satisfy ``where`` (SQL WHERE syntax over the tag columns).

    Raises:
        ValueError: ``where`` names a column that is not a tag, or does not parse.
    """
    scratch = f"_tags_{_slug(name) or 'audience'}"
    from workbench.engine import materialise

    t = materialise(tag_table, scratch, con)
    try:
        picked = con.sql(f'SELECT person_id FROM "{scratch}" WHERE {where}')
        picked.count().execute()
    except Exception as exc:  # the backend's parser or binder names the problem
        first = str(exc).splitlines()[0]
        raise ValueError(f"audience {name!r}: cannot use the filter {where!r}: {first}") from None
    del t
    return Audience(name, where, picked)


def save_audience(con: Any, found: Audience, as_of: dt.date) -> int:
    """Store an audience's definition in ``audiences`` and its persons in
    ``audience_members``, replacing one of the same name; return its size."""
    from workbench.engine import replace_rows

    members = found.persons.mutate(audience=ibis.literal(found.name)).select(
        "audience", "person_id"
    )
    n = replace_rows(con, "audience_members", members, "audience", found.name)
    definition = ibis.memtable(
        {
            "audience": [found.name],
            "where_sql": [found.where],
            "as_of": [as_of],
            "persons": [n],
            "saved_at": [dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        }
    )
    replace_rows(con, "audiences", definition, "audience", found.name)
    return n
