"""Identity resolution, deterministic part: an identity graph over strong keys.

Accounts are nodes; a strong key they share joins them: a hashed full phone,
a member id (a store member card, the CRM record), a WeChat unionid, or a
platform account bound to a member in the CRM (Tmall, JD). The connected
components of the graph are persons. The components are found in the engine
by label propagation (each node takes the smallest label among itself and its
neighbours until nothing changes), so it runs the same on DuckDB and Spark.
Accounts with only weak evidence (masked phone, name, address) stay alone here;
probabilistic linking joins them.
"""

from __future__ import annotations

import logging
from typing import Any

import ibis
import ibis.expr.types as ir

log = logging.getLogger(__name__)


def key_edges(contacts: ir.Table, members: ir.Table) -> ir.Table:
    """Undirected edges ``(a, b)`` between accounts and strong keys.

    Each account links to ``phone:<hash>``, ``member:<id>`` and ``wx:<unionid>``
    nodes for the keys it carries; a CRM member links to the platform accounts
    bound to it. Key nodes are dropped after the components are found.
    """
    c = contacts.filter(contacts.account_key.notnull())
    parts = [
        c.filter(c.phone_hash.notnull()).select(a=c.account_key, b="phone:" + c.phone_hash),
        c.filter(c.member_id.notnull()).select(a=c.account_key, b="member:" + c.member_id),
        c.filter(c.unionid.notnull()).select(a=c.account_key, b="wx:" + c.unionid),
        members.select(a="crm:" + members.member_id, b="member:" + members.member_id),
        members.filter(members.tmall_account.notnull()).select(
            a=members.tmall_account, b="member:" + members.member_id
        ),
        members.filter(members.jd_account.notnull()).select(
            a=members.jd_account, b="member:" + members.member_id
        ),
    ]
    return ibis.union(*parts, distinct=True)


def connected_components(edges: ir.Table, nodes: ir.Table, max_rounds: int = 50) -> ir.Table:
    """``(node, component)``: the smallest node name reachable from each node.

    Parameters:
        edges: undirected edges with columns ``a`` and ``b``.
        nodes: a table with a ``node`` column; nodes without edges are their own component.
        max_rounds: stop with an error after this many rounds (a chain that long
            means something is wrong with the keys).

    Example:
        >>> e = ibis.memtable({"a": ["x", "y", "p"], "b": ["y", "z", "q"]})
        >>> n = ibis.memtable({"node": ["x", "y", "z", "p", "q", "s"]})
        >>> sorted(connected_components(e, n).to_pandas().itertuples(index=False, name=None))
        [('p', 'p'), ('q', 'p'), ('s', 's'), ('x', 'x'), ('y', 'x'), ('z', 'x')]
    """
    both = ibis.union(
        edges.select(src=edges.a, dst=edges.b), edges.select(src=edges.b, dst=edges.a)
    )
    all_nodes = ibis.union(nodes.select(node=nodes.node), both.select(node=both.src), distinct=True)
    labels = all_nodes.mutate(label=all_nodes.node).cache()
    for round_ in range(1, max_rounds + 1):
        joined = both.join(labels, both.dst == labels.node).select(
            node=both.src, label=labels.label
        )
        candidate = ibis.union(labels, joined).group_by("node").agg(label=ibis._.label.min())
        new = candidate.cache()
        changed = new.join(labels, "node").filter(new.label != labels.label).count().execute()
        labels = new
        log.debug("components: round %d, %d labels changed", round_, changed)
        if changed == 0:
            return labels.select(node=labels.node, component=labels.label)
    raise RuntimeError(f"identity graph did not settle in {max_rounds} rounds")


def resolve_deterministic(con: Any) -> ir.Table:
    """``accounts``: every account with its ``person_id`` from the strong-key graph.

    Returns a table with ``account_key``, ``platform``, ``person_id``, ``link_method``
    (``deterministic`` when a strong key joined it to another account, else
    ``unlinked``) and ``match_probability`` (1.0 for deterministic links).
    """
    contacts = con.table("contacts")
    members = con.table("members")
    accounts = ibis.union(
        contacts.filter(contacts.account_key.notnull()).select(
            account_key=contacts.account_key, platform=contacts.platform
        ),
        members.select(account_key="crm:" + members.member_id, platform=ibis.literal("crm")),
        distinct=True,
    )
    edges = key_edges(contacts, members)
    comps = connected_components(edges, accounts.select(node=accounts.account_key))
    sizes = (
        comps.join(accounts, comps.node == accounts.account_key)
        .group_by("component")
        .agg(n_accounts=ibis._.node.count())
    )
    out = (
        accounts.join(comps, accounts.account_key == comps.node)
        .join(sizes, "component")
        .select(
            account_key=accounts.account_key,
            platform=accounts.platform,
            person_id="P" + ibis._.component.hexdigest("md5").substr(0, 15),
            link_method=ibis.ifelse(ibis._.n_accounts > 1, "deterministic", "unlinked"),
            match_probability=ibis.ifelse(ibis._.n_accounts > 1, 1.0, ibis.null("float64")),
        )
    )
    return out


def persons_table(con: Any, accounts: ir.Table) -> ir.Table:
    """``persons``: one row per person with their accounts, platforms and orders."""
    orders = con.table("orders")
    per_order = orders.join(accounts, orders.account_key == accounts.account_key).select(
        person_id=accounts.person_id,
        ordered_at=orders.ordered_at,
        net_amount=orders.net_amount,
    )
    buying = per_order.group_by("person_id").agg(
        orders=per_order.count(),
        net_amount=per_order.net_amount.sum(),
        first_order_at=per_order.ordered_at.min(),
        last_order_at=per_order.ordered_at.max(),
    )
    people = accounts.group_by("person_id").agg(
        accounts=accounts.count(),
        platforms=accounts.platform.nunique(),
        is_member=(accounts.platform == "crm").any(),
    )
    joined = people.left_join(buying, "person_id")
    return joined.select(
        person_id=people.person_id,
        accounts=people.accounts,
        platforms=people.platforms,
        is_member=people.is_member,
        orders=joined.orders.fill_null(0),
        net_amount=joined.net_amount.fill_null(0.0),
        first_order_at=joined.first_order_at,
        last_order_at=joined.last_order_at,
    )


def resolve_identities(con: Any) -> dict[str, int]:
    """Resolve accounts into persons and (re)write ``accounts`` and ``persons``.

    Returns counts: accounts, persons, and accounts per link method.
    """
    accounts = resolve_deterministic(con).cache()
    con.create_table("accounts", accounts, overwrite=True)
    con.create_table("persons", persons_table(con, con.table("accounts")), overwrite=True)
    by_method = con.table("accounts").group_by("link_method").agg(n=ibis._.count()).to_pandas()
    counts = {
        f"accounts_{m}": int(n) for m, n in zip(by_method.link_method, by_method.n, strict=True)
    }
    counts["accounts"] = int(con.table("accounts").count().execute())
    counts["persons"] = int(con.table("persons").count().execute())
    return counts
