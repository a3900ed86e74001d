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
least once, and no purchase of the other brand in the last week). The filter
is parsed (sqlglot) into an Ibis expression, never sent to the engine as SQL:
it runs on DuckDB and Spark alike, and only comparisons, AND/OR/NOT, IN,
BETWEEN, LIKE and IS NULL over the tags are accepted (:func:`audience_filter`).

:func:`audience` returns the persons it selects (and so its size);
:func:`save_audience` stores the definition and its members in
``audiences`` and ``audience_members``, replacing an audience of the same name.
"""

from __future__ import annotations

import datetime as dt
import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

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


ALLOWED = "comparisons of tags with values, AND, OR, NOT, IN (...), BETWEEN, LIKE, IS [NOT] NULL"

_COMPARE: dict[type[exp.Expr], Callable[[Any, Any], Any]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
}


def _refuse(what: str) -> ValueError:
    return ValueError(f"audience filter: {what} is not allowed; use {ALLOWED}")


def _snippet(node: exp.Expr) -> str:
    text = " ".join(node.sql(dialect="duckdb").split())
    return text if len(text) <= 60 else text[:57] + "..."


def _construct(node: exp.Expr) -> str:
    """What ``node`` is, in words, with its text."""
    if isinstance(node, exp.Alias):
        return f"the word {node.alias!r} after a complete condition"
    if isinstance(node, exp.Subquery | exp.Query | exp.Exists) or (
        isinstance(node, exp.In) and node.args.get("query")
    ):
        kind = "a subquery"
    elif isinstance(node, exp.Cast):
        kind = "a cast or typed literal"
    elif isinstance(node, exp.Anonymous):
        kind = f"the function {node.name}()"
    elif isinstance(node, exp.Func):
        kind = f"the function {node.sql_name().lower()}()"
    elif isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod | exp.DPipe):
        kind = "arithmetic"
    elif isinstance(node, exp.Placeholder):
        kind = "a parameter placeholder"
    elif isinstance(node, exp.Is):
        kind = "IS TRUE/FALSE (write tag = TRUE)"
    elif isinstance(node, exp.Between):
        kind = "BETWEEN SYMMETRIC"
    elif isinstance(node, exp.NullSafeEQ | exp.NullSafeNEQ):
        kind = "IS [NOT] DISTINCT FROM"
    elif isinstance(node, exp.Escape):
        kind = "LIKE ... ESCAPE"
    elif isinstance(node, exp.Neg):
        kind = "a minus sign before something other than a number"
    else:
        kind = node.key.upper()
    return f"{kind} `{_snippet(node)}`"


def _extra(node: exp.Expr, *known: str) -> bool:
    """Whether ``node`` carries a part other than ``known`` (a subquery, SYMMETRIC, ...)."""
    return any(v for k, v in node.args.items() if k not in known)


def _family(value: ir.Value) -> str:
    """The kind of value for comparisons: a number, text, true/false, or the type's name."""
    t = value.type()
    if t.is_boolean():
        return "true/false"
    if t.is_numeric():
        return "a number"
    if t.is_string():
        return "text"
    return str(t)


class _Filter:
    """Turns a parsed filter into an Ibis expression over the columns of ``table``."""

    def __init__(self, table: ir.Table) -> None:
        self.table = table
        self.lower = {c.lower(): c for c in table.columns}

    def condition(self, node: exp.Expr) -> ir.BooleanValue:
        value = self.value(node)
        if not isinstance(value, ir.BooleanValue):
            raise ValueError(
                f"audience filter: `{_snippet(node)}` is {_family(value)}, not a condition; "
                f"compare it with a value, e.g. `{_snippet(node)} = ...`"
            )
        return value

    def value(self, node: exp.Expr) -> ir.Value:
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.And | exp.Or):
            left, right = self.condition(node.this), self.condition(node.expression)
            return left & right if isinstance(node, exp.And) else left | right
        if isinstance(node, exp.Not):
            return ~self.condition(node.this)
        if type(node) in _COMPARE:
            left, right = self.operands(node, node.this, node.expression)
            return _COMPARE[type(node)](left, right)
        if isinstance(node, exp.In) and not _extra(node, "this", "expressions"):
            this = self.value(node.this)
            items = [self.operands(node, node.this, item)[1] for item in node.expressions]
            return this.isin(items)
        if isinstance(node, exp.Between) and not _extra(node, "this", "low", "high"):
            this, low = self.operands(node, node.this, node.args["low"])
            return this.between(low, self.operands(node, node.this, node.args["high"])[1])
        if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            return self.value(node.this).isnull()
        if isinstance(node, exp.Like) and not _extra(node, "this", "expression", "negate"):
            return self.like(node)
        if isinstance(node, exp.Column):  # the only names a filter may use
            return self.column(node)
        return self.literal(node)

    def operands(self, node: exp.Expr, a: exp.Expr, b: exp.Expr) -> tuple[ir.Value, ir.Value]:
        """Both sides of a comparison, when they are of the same kind."""
        for side in (a, b):
            if isinstance(side, exp.Null):
                raise ValueError(
                    f"audience filter: `{_snippet(node)}` compares with NULL, which selects "
                    "nobody; write `tag IS NULL` or `tag IS NOT NULL`"
                )
        left, right = self.value(a), self.value(b)
        if _family(left) != _family(right):
            raise ValueError(
                f"audience filter: `{_snippet(node)}` compares {_snippet(a)} "
                f"({_family(left)}) with {_snippet(b)} ({_family(right)})"
            )
        return left, right

    def like(self, node: exp.Like) -> ir.BooleanValue:
        this = self.value(node.this)
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise _refuse(f"LIKE with a pattern that is not text in quotes `{_snippet(node)}`")
        if "\\" in pattern.this:
            # DuckDB reads a backslash as itself, Spark as an escape: the same text
            # would select different persons.
            raise _refuse(f"a backslash in a LIKE pattern `{_snippet(node)}`")
        if _family(this) != "text":
            raise ValueError(f"audience filter: `{_snippet(node)}`: LIKE needs a text tag")
        found = this.like(pattern.this)
        return ~found if node.args.get("negate") else found

    def column(self, node: exp.Column) -> ir.Value:
        if node.table or not isinstance(node.this, exp.Identifier):
            raise _refuse(f"the qualified name `{_snippet(node)}`")
        name = node.name
        quoted = bool(node.this.args.get("quoted"))
        if name not in self.table.columns and not quoted:
            name = self.lower.get(name.lower(), name)
        if name in self.table.columns:
            return self.table[name]
        close = difflib.get_close_matches(name, self.table.columns, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        if quoted:
            hint += f" (text takes single quotes: '{name}')"
        known = ", ".join(self.table.columns)
        raise ValueError(f"audience filter: unknown tag {name!r}{hint}; known tags: {known}")

    def literal(self, node: exp.Expr) -> ir.Value:
        if isinstance(node, exp.Boolean):
            return ibis.literal(bool(node.this))
        sign = 1
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            sign, node = -1, node.this
            if node.is_string:
                raise _refuse(f"a minus sign before text `-{_snippet(node)}`")
        if not isinstance(node, exp.Literal):
            raise _refuse(_construct(node))
        if node.is_string:
            return ibis.literal(node.this, type="string")
        try:
            return ibis.literal(sign * int(node.this))
        except ValueError:
            return ibis.literal(sign * float(node.this))


def audience_filter(table: ir.Table, where: str) -> ir.BooleanValue:
    """The condition ``where`` over the tags, as an Ibis expression on ``table``.

    ``where`` is read by sqlglot as SQL WHERE syntax, but only a small part of it
    is accepted: comparisons (``=``, ``!=``/``<>``, ``<``, ``<=``, ``>``, ``>=``)
    of tags (columns of ``table``) with values or other tags of the same kind,
    ``AND``, ``OR``, ``NOT``, parentheses, ``IN (...)`` lists,
    ``BETWEEN ... AND ...``, ``LIKE`` with a quoted pattern, ``IS [NOT] NULL``,
    numbers, 'text' and ``TRUE``/``FALSE``. Nothing of it reaches the engine as
    SQL text, so it runs on DuckDB and Spark alike and can only select rows.

    Parameters:
        table: the tag table (:func:`tags`), or any table whose columns are the tags.
        where: the analyst's filter, e.g. ``city = '北京市' AND visits_90d >= 3``.

    Returns:
        A boolean expression, true for the rows the filter selects.

    Raises:
        ValueError: one line naming the unknown tag (and the known ones), or the
            construct that is not allowed (a subquery, a function, a comment, ``;``),
            or where the filter does not parse.

    Example:
        >>> t = ibis.memtable({"person_id": ["P1", "P2"], "city": ["北京市", "上海市"]})
        >>> t.filter(audience_filter(t, "city IN ('北京市', '天津市')")).person_id.to_list()
        ['P1']
    """
    dialect = sqlglot.Dialect.get_or_raise("duckdb")
    try:
        tokens = dialect.tokenize(where)
        if any(t.comments for t in tokens):
            raise _refuse("a comment (-- or /* */)")
        if any(t.token_type == TokenType.SEMICOLON for t in tokens):
            raise _refuse("';' (a filter is one condition)")
        parsed = dialect.parse(where)
    except ParseError as exc:
        e = exc.errors[0] if exc.errors else {}
        near = f" near {e['highlight']!r}" if e.get("highlight") else ""
        at = f" (line {e['line']}, column {e['col']})" if "line" in e else ""
        raise ValueError(f"audience filter: cannot read {where!r}{near}{at}") from None
    except TokenError:
        raise ValueError(
            f"audience filter: cannot read {where!r}: is a quote not closed?"
        ) from None
    if not parsed or parsed[0] is None:
        raise ValueError(
            "audience filter: the filter is empty; write a condition over the tags, "
            "e.g. city = '北京市' AND orders_ever >= 1"
        )
    try:
        return _Filter(table).condition(parsed[0])
    except RecursionError:
        raise _refuse("nesting this deep") from None


def audience(con: Any, tag_table: ir.Table, name: str, where: str) -> Audience:
    """The persons whose tags satisfy ``where`` (see :func:`audience_filter`).

    The filter is checked before anything runs; then its persons are written to a
    scratch table, so counting, profiling and saving the audience read them once.

    Parameters:
        con: the backend the tag table lives on.
        tag_table: every person's tags (:func:`tags`).
        name: the audience's name, under which :func:`save_audience` stores it.
        where: the filter over the tags, e.g. ``city = '北京市' AND orders_ever >= 1``.

    Returns:
        The audience: its name, its filter as written and its persons (``person_id``).

    Raises:
        ValueError: ``where`` names a column that is not a tag, uses something other
            than the conditions :func:`audience_filter` accepts, or does not parse.

    Example:
        >>> beijing = audience(con, tags(con, snapshot), "beijing", "city = '北京市'")
        >>> beijing.size
        1
    """
    from workbench.engine import materialise, scratch_name

    picked = tag_table.filter(audience_filter(tag_table, where)).select("person_id")
    return Audience(name, where, materialise(picked, scratch_name("audience", name), con))


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
