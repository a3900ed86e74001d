"""Identity resolution (OneID): which accounts are the same person.

Two steps, both run in the engine:

1. Strong keys. Accounts are nodes of a graph; a strong key they share joins
   them: a hashed full phone, a member id (store member card, CRM record), a
   WeChat unionid, or a platform account bound to a member in the CRM (Tmall,
   JD). The connected components are *key groups*, found by label propagation
   (each node takes the smallest label among itself and its neighbours until
   nothing changes), so it runs the same on DuckDB and Spark.
2. Weak evidence. Most marketplace accounts carry only what the order shows:
   a masked phone (first three and last four digits), the receiver's name and
   address (hashed tokens), city and district. Splink scores pairs of accounts
   on these (:func:`account_model`); its ``m`` probabilities are learnt from the
   pairs step 1 already joined, its ``u`` probabilities from random pairs. Pairs
   at or above the threshold join key groups into persons, except pairs whose
   groups show different phones (full, or masked where that is all there is):
   those are held apart, on the rule that a person shows one phone.

What limits it: an account whose orders were all gifts shows only the
receiver's details, so it links to the receiver; nothing in the exports tells
it apart from the receiver's own account.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.engine import is_spark, materialise, open_duckdb, replace_tables
from workbench.schema import MONEY, TABLES
from workbench.unify.linking import LinkModel, link
from workbench.unify.person_ids import carry_person_ids

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
    scratch = f"_wb_components_{uuid.uuid4().hex[:10]}"
    both = ibis.union(
        edges.select(src=edges.a, dst=edges.b), edges.select(src=edges.b, dst=edges.a)
    )
    both = materialise(both, f"{scratch}_edges")
    all_nodes = ibis.union(nodes.select(node=nodes.node), both.select(node=both.src), distinct=True)
    labels = materialise(all_nodes.mutate(label=all_nodes.node), f"{scratch}_0")
    for round_ in range(1, max_rounds + 1):
        joined = both.join(labels, both.dst == labels.node).select(
            node=both.src, label=labels.label
        )
        candidate = ibis.union(labels, joined).group_by("node").agg(label=ibis._.label.min())
        new = materialise(candidate, f"{scratch}_{round_ % 2 + 1}")
        changed = new.join(labels, "node").filter(new.label != labels.label).count().execute()
        labels = new
        log.debug("components: round %d, %d labels changed", round_, changed)
        if changed == 0:
            # Only the last round's table is still needed: the result reads it.
            backend = labels._find_backend(use_default=True)
            final = f"{scratch}_{round_ % 2 + 1}"
            for name in (f"{scratch}_edges", f"{scratch}_0", f"{scratch}_1", f"{scratch}_2"):
                if name != final:
                    backend.drop_table(name, force=True)
            return labels.select(node=labels.node, component=labels.label)
    raise RuntimeError(f"identity graph did not settle in {max_rounds} rounds")


def key_groups(con: Any) -> ir.Table:
    """``(account_key, platform, key_group)``: accounts grouped by strong keys alone.

    Every account seen in ``contacts`` and every CRM member record is a node; the
    group is the connected component of the strong-key graph (:func:`key_edges`).
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
    comps = connected_components(
        key_edges(contacts, members), accounts.select(node=accounts.account_key)
    )
    return accounts.join(comps, accounts.account_key == comps.node).select(
        account_key=accounts.account_key,
        platform=accounts.platform,
        key_group="K" + comps.component.hexdigest("md5").substr(0, 15),
    )


def account_evidence(con: Any, groups: ir.Table) -> ir.Table:
    """One row of weak evidence per account, for the probabilistic linker.

    An account's orders may show different details (a gift shows the receiver's,
    a typo changes a name); the account keeps the details most of its orders show,
    the latest on a tie.

    A key group shows one phone: ``group_phone`` is the full phone (hash) it
    carries, if any, and ``group_masked`` that phone masked, else the masked
    phone most of its accounts show. Accounts whose groups show different
    phones are held apart: a gift bound to the buyer's member record then
    cannot pull the receiver into the buyer's person.
    """
    contacts = con.table("contacts")
    c = contacts.filter(contacts.account_key.notnull())
    cols = list(EVIDENCE)
    variants = c.group_by(["account_key", *cols]).agg(
        n=ibis._.count(), last_seen=ibis._.seen_at.max()
    )
    rank = variants.n.cast("float64") * 1e10 + variants.last_seen.epoch_seconds().fill_null(0)
    best = variants.group_by("account_key").agg(
        ev=ibis.struct({col: variants[col] for col in cols}).argmax(rank)
    )
    best = best.select("account_key", **{col: best.ev[col] for col in cols})
    full = (
        c.filter(c.phone_hash.notnull())
        .join(groups, "account_key")
        .group_by("key_group")
        .agg(group_phone=ibis._.phone_hash.min(), full_masked=ibis._.phone_masked.min())
    )
    shown = best.filter(best.phone_masked.notnull()).join(groups, "account_key")
    shown = shown.group_by(["key_group", "phone_masked"]).agg(n=ibis._.count())
    shown = shown.group_by("key_group").agg(most_masked=shown.phone_masked.argmax(shown.n))
    joined = (
        groups.left_join(best, "account_key")
        .left_join(full, "key_group")
        .left_join(shown, "key_group")
    )
    return joined.select(
        "account_key",
        "platform",
        "key_group",
        *cols,
        "group_phone",
        group_masked=ibis.coalesce(joined.full_masked, joined.most_masked),
    )


EVIDENCE = (
    "phone_masked",
    "name_hash",
    "name_chars",
    "city",
    "district",
    "address_hash",
    "address_tokens",
)


def _whole_or_parts(name: str, whole: str, parts: str, shared: int) -> Any:
    """A comparison with three levels: the same hash, at least ``shared`` common tokens, else."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=name,
        comparison_levels=[
            cll.NullLevel(whole),
            cll.ExactMatchLevel(whole),
            cll.ArrayIntersectLevel(parts, shared),
            cll.ElseLevel(),
        ],
    )


BLOCKING_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("phone_masked",),
    ("name_hash", "city"),
    ("address_hash",),
)
"""Candidate pairs share all the columns of one of these rules."""

PRIOR_COLUMNS: tuple[str, ...] = ("phone_masked", "name_hash")
"""Pairs sharing these are taken as almost surely one person, to estimate the prior."""


def account_model() -> LinkModel:
    """The model that links accounts on weak evidence (see the module docstring)."""
    import splink.comparison_library as cl
    from splink import block_on

    return LinkModel(
        unique_id="account_key",
        comparisons=(
            cl.ExactMatch("phone_masked"),
            _whole_or_parts("name", "name_hash", "name_chars", 2),
            cl.ExactMatch("city"),
            cl.ExactMatch("district"),
            _whole_or_parts("address", "address_hash", "address_tokens", 3),
        ),
        blocking=tuple(block_on(*cols) for cols in BLOCKING_COLUMNS),
        training_blocks=(),
        m_from_label="key_group",
        deterministic=(" AND ".join(f"l.{c} = r.{c}" for c in PRIOR_COLUMNS),),
        recall=0.8,
        retain=("key_group", "group_phone", "group_masked"),
        description=(
            "Accounts are compared on the masked phone (first three and last four digits), "
            "the name (the same hash, or at least two of its characters), city, district, "
            "and the street address (the same hash, or at least three of its tokens). "
            "Candidate pairs share the masked phone, or the name and city, or the whole "
            "address. How often the evidence agrees for the same person (m) is learnt from "
            "accounts that strong keys already join; how often it agrees by chance (u) from "
            "random pairs."
        ),
    )


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
        net_amount=per_order.net_amount.sum().cast(MONEY),
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
        net_amount=joined.net_amount.fill_null(0).cast(MONEY),
        first_order_at=joined.first_order_at,
        last_order_at=joined.last_order_at,
    )


FLOOR = 0.5


def score_links(
    con: Any, groups: ir.Table, floor: float = FLOOR, config: dict[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Score account pairs on weak evidence with Splink; keep pairs above ``floor``.

    Returns the pairs (both sides' keys, match probability and weight, whether
    they are held apart), the trained weights, and a note when there was too
    little evidence to train a model (then no pairs are scored).
    """
    evidence = account_evidence(con, groups)
    evidence = evidence.filter(
        evidence.phone_masked.notnull()
        | evidence.name_hash.notnull()
        | evidence.address_hash.notnull()
    )
    # Computed once: the counts below and the linker all read it.
    evidence = materialise(evidence, "_wb_account_evidence")
    sizes = evidence.group_by("key_group").agg(n=ibis._.count())
    totals = sizes.aggregate(
        n_accounts=sizes.n.sum(), labelled=(sizes.n * (sizes.n - 1) / 2).sum()
    ).to_pandas()
    n_accounts = int(totals["n_accounts"].fillna(0).iat[0])
    labelled = int(totals["labelled"].fillna(0).iat[0])
    if n_accounts < 2 or labelled == 0:
        note = (
            f"no probabilistic linking: {n_accounts:,} accounts carry weak evidence "
            f"and {labelled:,} pairs of them are joined by strong keys to learn from"
        )
        log.warning(note)
        empty = pd.DataFrame(columns=["comparison", "level", "m", "u", "match_weight"])
        return _empty_links(), empty, note
    model = account_model()
    if is_spark(con):
        # Splink on Spark, reading the evidence table from the Spark catalogue.
        result = link(con._session, ["_wb_account_evidence"], model, floor, cluster=False)
    else:
        mem = open_duckdb(None, config=config or {})
        try:
            mem.register("evidence_arrow", evidence.to_pyarrow())
            mem.execute("CREATE TABLE account_evidence AS SELECT * FROM evidence_arrow")
            result = link(mem, ["account_evidence"], model, threshold=floor, cluster=False)
        finally:
            mem.close()
    p = result.pairs
    p = p[p["key_group_l"] != p["key_group_r"]]
    held = _differ(p, "group_phone") | _differ(p, "group_masked")
    links = pd.DataFrame(
        {
            "account_key_l": p["account_key_l"].astype(str),
            "account_key_r": p["account_key_r"].astype(str),
            "match_probability": p["match_probability"].astype("float64"),
            "match_weight": p["match_weight"].astype("float64"),
            "held_apart": held.astype(bool),
        }
    ).reset_index(drop=True)
    return links, result.weights(), ""


def _differ(pairs: pd.DataFrame, col: str) -> pd.Series:
    left, right = pairs[f"{col}_l"], pairs[f"{col}_r"]
    return left.notna() & right.notna() & (left != right)


def _empty_links() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_key_l": pd.Series(dtype="string"),
            "account_key_r": pd.Series(dtype="string"),
            "match_probability": pd.Series(dtype="float64"),
            "match_weight": pd.Series(dtype="float64"),
            "held_apart": pd.Series(dtype="bool"),
        }
    )


def cluster(groups: ir.Table, links: ir.Table, threshold: float) -> ir.Table:
    """``accounts`` at a threshold: key groups joined by links at or above it.

    Parameters:
        groups: ``account_key``, ``platform``, ``key_group`` (from :func:`key_groups`).
        links: scored pairs (``account_links``).
        threshold: the match probability a link needs.

    Returns:
        The ``accounts`` table: ``link_method`` is ``deterministic`` for an account
        a strong key joins to another, ``probabilistic`` for one joined only by a
        link (``match_probability`` is its best link), else ``unlinked``.
        ``person_id`` is derived from the connected component (``P`` + md5), so the
        same accounts and links give the same ids; :func:`resolve_identities` then
        carries the previous resolution's ids over
        (:func:`~workbench.unify.person_ids.carry_person_ids`).
    """
    kept = links.filter((links.match_probability >= threshold) & ~links.held_apart)
    gl = groups.select(kl=groups.account_key, gl=groups.key_group)
    gr = groups.select(kr=groups.account_key, gr=groups.key_group)
    edges = (
        kept.join(gl, kept.account_key_l == gl.kl)
        .join(gr, kept.account_key_r == gr.kr)
        .select(a=ibis._.gl, b=ibis._.gr)
    )
    comps = connected_components(edges, groups.select(node=groups.key_group).distinct())
    best = (
        ibis.union(
            kept.select(account_key=kept.account_key_l, p=kept.match_probability),
            kept.select(account_key=kept.account_key_r, p=kept.match_probability),
        )
        .group_by("account_key")
        .agg(best=ibis._.p.max())
    )
    g = groups.join(comps, groups.key_group == comps.node)
    g = g.mutate(
        group_size=ibis._.account_key.count().over(group_by="key_group"),
        person_size=ibis._.account_key.count().over(group_by="component"),
    )
    g = g.left_join(best, "account_key")
    method = ibis.cases(
        (g.group_size > 1, "deterministic"),
        (g.person_size > g.group_size, "probabilistic"),
        else_="unlinked",
    )
    g = g.mutate(link_method=method)
    return g.select(
        account_key=g.account_key,
        platform=g.platform,
        person_id="P" + g.component.hexdigest("md5").substr(0, 15),
        link_method=g.link_method,
        match_probability=ibis.cases(
            (g.link_method == "deterministic", 1.0),
            (g.link_method == "probabilistic", g.best),
            else_=ibis.null("float64"),
        ),
        key_group=g.key_group,
    )


def resolve_identities(
    con: Any,
    threshold: float = 0.9,
    floor: float = FLOOR,
    config: dict[str, Any] | None = None,
    on_commit: Callable[[Any], None] | None = None,
) -> dict[str, int]:
    """Resolve accounts into persons and replace the identity tables at once.

    Strong keys group accounts first (:func:`key_groups`); the probabilistic
    linker scores pairs of accounts on weak evidence (:func:`score_links`);
    links at or above ``threshold`` join groups into persons (:func:`cluster`).
    The persons keep the ids the previous resolution gave them, through joins,
    merges and splits (:func:`~workbench.unify.person_ids.carry_person_ids`).
    ``accounts``, ``persons``, ``account_links``, ``link_weights``,
    ``person_ids``, ``person_id_changes`` (this resolution's rows more) and
    ``identity_runs`` (one row more) are built aside and swapped in together
    (:func:`~workbench.engine.replace_tables`): a failure or a kill midway
    leaves the previous identity tables whole.

    Parameters:
        con: an Ibis connection to the warehouse (DuckDB, or Spark).
        threshold: match probability a weak-evidence link needs.
        floor: pairs scored at or above this are kept in ``account_links``, so a
            report can re-cluster at any threshold down to it.
        config: DuckDB options (threads, memory limit) for the linker's scratch database.
        on_commit: run on the raw connection inside the swap's transaction (DuckDB).

    Returns:
        Counts: ``accounts``, ``persons``, ``accounts_<link method>``, ``pairs_scored``,
        and of person ids ``ids_kept``, ``ids_new``, ``ids_merged``, ``ids_split``.
    """
    if not floor <= threshold < 1.0:
        raise ValueError(f"link threshold {threshold} must be in [{floor}, 1)")
    t0 = time.perf_counter()
    groups = materialise(key_groups(con), "_wb_key_groups")
    links, weights, note = score_links(con, groups, floor, config)
    links_t = materialise(ibis.memtable(links), "_wb_account_links", con)
    weights_t = ibis.memtable(weights, schema=TABLES["link_weights"].schema)
    fresh = materialise(cluster(groups, links_t, threshold), "_wb_accounts")
    tables = set(con.list_tables())
    resolved_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    earlier_runs = (
        int(con.table("identity_runs").count().execute()) if "identity_runs" in tables else 0
    )
    carried = carry_person_ids(
        fresh,
        con.table("accounts") if "accounts" in tables else None,
        con.table("person_ids") if "person_ids" in tables else None,
        run=earlier_runs + 1,
        resolved_at=resolved_at.to_pydatetime(),
        con=con,
    )
    accounts = carried.accounts
    persons = materialise(persons_table(con, accounts), "_wb_persons")
    by_method = accounts.group_by("link_method").agg(n=ibis._.count()).to_pandas()
    counts = {
        f"accounts_{m}": int(n) for m, n in zip(by_method.link_method, by_method.n, strict=True)
    }
    counts["accounts"] = int(by_method.n.sum())
    counts["persons"] = int(persons.count().execute())
    counts["pairs_scored"] = len(links)
    counts.update(carried.counts)
    run = {
        "resolved_at": resolved_at,
        "threshold": threshold,
        "floor": floor,
        "accounts": counts["accounts"],
        "persons": counts["persons"],
        "deterministic": counts.get("accounts_deterministic", 0),
        "probabilistic": counts.get("accounts_probabilistic", 0),
        "unlinked": counts.get("accounts_unlinked", 0),
        "pairs_scored": len(links),
        "pairs_held_apart": int(links["held_apart"].sum()),
        "seconds": time.perf_counter() - t0,
        "note": note,
    }
    runs = ibis.memtable(pd.DataFrame([run]), schema=TABLES["identity_runs"].schema)
    if "identity_runs" in tables:
        before = con.table("identity_runs")
        runs = ibis.union(before, runs.cast(before.schema()))
    changes = carried.changes
    if "person_id_changes" in tables:
        logged = con.table("person_id_changes")
        changes = ibis.union(logged, changes.cast(logged.schema()))
    changes = materialise(changes, "_wb_person_id_changes", con)
    register = carried.register
    if is_spark(con):  # tables are overwritten one by one there: none may read another
        register = materialise(register, "_wb_person_ids", con)
    replace_tables(
        con,
        {
            "account_links": links_t,
            "link_weights": weights_t,
            "accounts": accounts,
            "persons": persons,
            "person_ids": register,
            "person_id_changes": changes,
            "identity_runs": runs,
        },
        also=on_commit,
    )
    log.info("identity: %s", counts)
    return counts


def latest_run(con: Any) -> dict[str, Any]:
    """The latest row of ``identity_runs`` as a dict (empty if identities were never resolved)."""
    if "identity_runs" not in con.list_tables():
        return {}
    runs = con.table("identity_runs")
    last = runs.order_by(runs.resolved_at.desc()).limit(1).to_pandas()
    return {} if last.empty else last.iloc[0].to_dict()


def accounts_at(con: Any, threshold: float | None = None) -> ir.Table:
    """``accounts`` as resolved at ``threshold`` (``None``: as the warehouse holds them).

    A different threshold re-clusters the stored key groups and scored pairs
    without writing anything, so a report can show what another threshold gives.
    Its person ids are derived from the components, as a fresh build would give
    them, not carried over from earlier resolutions: only the stored resolution's
    ids are in ``person_ids`` and resolve later (``current_person_ids``).

    Raises:
        ValueError: the threshold is below the floor of the pairs kept.
    """
    run = latest_run(con)
    if threshold is None or not run or abs(float(run["threshold"]) - threshold) < 1e-12:
        return con.table("accounts")
    if threshold < float(run["floor"]) or threshold >= 1.0:
        raise ValueError(
            f"link threshold {threshold} is outside the scored range "
            f"[{run['floor']}, 1); re-run `workbench ingest` with a lower floor"
        )
    acc = con.table("accounts")
    groups = acc.select("account_key", "platform", "key_group")
    return cluster(groups, con.table("account_links"), threshold)
