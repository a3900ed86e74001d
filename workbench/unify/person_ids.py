"""Person ids that survive re-ingestion.

Identities are resolved again after every ingestion, and the persons change:
accounts join a person, two persons merge, a person splits when new evidence
holds its accounts apart. A person's id must outlive that, or plans and
audience packs saved with person ids lose their members at the next ingest.
So each resolution carries the previous ids over (:func:`carry_person_ids`):

- a person keeps its id when accounts join it;
- a merge (a person now holding the accounts of several earlier ids) keeps the
  oldest of them: the one issued first, by the smallest id among ids issued by
  the same resolution; the others are recorded as ``merged`` into it;
- a split (the accounts of one earlier id now in several persons) leaves the id
  with the part holding most of those accounts (on a tie, the part holding the
  account key that sorts first); each other part is recorded as ``split`` from
  it to the person it is in now: a new one with a new id, or another person;
- a wholly new person gets an id derived from its accounts, ``P`` and 15 hex
  digits of the md5 of its connected component, so a fresh build from the same
  files gives the same ids. An id is never issued twice: a derived id already
  in the register is hashed again until it is new.

Two tables record it (``workbench.schema``): ``person_id_changes``, one row per
change (old id, new id, reason, the resolution's ``resolved_at``), and
``person_ids``, every id ever issued with the resolution that issued it, the
current id it leads to (chains of merges followed: A merged into B, B into C
gives C) and when the person it leads to was last split.
:func:`current_person_ids` resolves any table of recorded ids through them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from workbench.engine import materialise
from workbench.schema import PERSON_ID_CHANGES, PERSON_IDS

log = logging.getLogger(__name__)

ID_STATUSES = ("current", "merged", "split", "unknown")
"""What :func:`current_person_ids` says of each recorded id (see there)."""

MAX_REHASH = 8


@dataclass(frozen=True)
class CarriedIds:
    """What :func:`carry_person_ids` gives: the tables to swap in, and counts.

    Attributes:
        accounts: the ``accounts`` table with the carried-over person ids (materialised).
        changes: this resolution's rows of ``person_id_changes``.
        register: the whole new ``person_ids`` table (reading only scratch tables and the
            previous register, so it can replace that register).
        counts: ``ids_kept`` (persons keeping an earlier id), ``ids_new`` (persons
            given a new id), ``ids_merged`` and ``ids_split`` (rows of each reason).
    """

    accounts: ir.Table
    changes: ir.Table
    register: ir.Table
    counts: dict[str, int]


def _fresh_ids(candidates: ir.Table, taken: ir.Table, con: Any) -> ir.Table:
    """``(comp, person_id)``: each candidate id, hashed again while ``taken.taken`` holds it."""
    ids = materialise(candidates.select("comp", person_id=candidates.comp), "_wb_ids_new_0", con)
    for round_ in range(1, MAX_REHASH + 1):
        clash = ids.person_id.isin(taken.taken)
        if int(ids.filter(clash).count().execute()) == 0:
            return ids
        again = ids.mutate(
            person_id=ibis.ifelse(
                clash, "P" + ids.person_id.hexdigest("md5").substr(0, 15), ids.person_id
            )
        )
        ids = materialise(again, f"_wb_ids_new_{round_}", con)
    raise RuntimeError(f"new person ids still clash with issued ones after {MAX_REHASH} rehashes")


def carry_person_ids(
    fresh: ir.Table,
    previous: ir.Table | None,
    register: ir.Table | None,
    run: int,
    resolved_at: datetime,
    con: Any = None,
) -> CarriedIds:
    """Give this resolution's persons the ids of the previous one (see the module docstring).

    Parameters:
        fresh: ``accounts`` as :func:`~workbench.unify.identity.cluster` gives them:
            ``person_id`` names the connected component (``P`` + md5), not yet carried over.
        previous: the previous ``accounts`` (``account_key``, ``person_id``), or ``None``.
        register: the previous ``person_ids``, or ``None``. Ids of ``previous`` that it
            lacks (a warehouse resolved before ids were registered) are taken as issued
            before any it holds (``issued_run`` 0).
        run: this resolution's number (1 for the first; ``identity_runs`` has ``run - 1`` rows).
        resolved_at: this resolution's time, as in ``identity_runs.resolved_at`` (UTC).
        con: the backend (needed when no input reads a table).

    Returns:
        :class:`CarriedIds`.

    Example:
        >>> fresh = ibis.memtable({"account_key": ["a", "b"], "person_id": ["P1", "P1"]})
        >>> old = ibis.memtable({"account_key": ["a", "b"], "person_id": ["P7", "P8"]})
        >>> carried = carry_person_ids(fresh, old, None, 2, datetime(2026, 11, 1))
        >>> carried.changes.to_pandas()[["old_id", "new_id", "reason"]].values.tolist()
        [['P8', 'P7', 'merged']]
    """
    con = con or fresh._find_backend(use_default=True)
    when = ibis.literal(resolved_at, type="timestamp")
    reg_schema = PERSON_IDS.schema
    if register is None:
        register = ibis.memtable(reg_schema.to_pyarrow().empty_table())
    register = register.select(*reg_schema.names).cast(reg_schema)
    if previous is None:
        ids = ibis.schema({"account_key": "string", "person_id": "string"})
        previous = ibis.memtable(ids.to_pyarrow().empty_table())
    old = previous.select(account_key=previous.account_key, old_id=previous.person_id)

    # Where each earlier id's accounts are now: one row per (earlier id, component).
    # Its heir is the component holding most of them; a component heir to several
    # earlier ids keeps the oldest (an id the register lacks was issued before any it holds).
    parts = (
        fresh.select(account_key=fresh.account_key, comp=fresh.person_id)
        .join(old, "account_key")
        .group_by(["old_id", "comp"])
        .agg(n=ibis._.count(), first_key=ibis._.account_key.min())
    )
    heir_order = ibis.window(group_by=parts.old_id, order_by=[ibis.desc(parts.n), parts.first_key])
    parts = parts.mutate(heir=ibis.row_number().over(heir_order) == 0)
    age = register.select(rid=register.person_id, issued_run=register.issued_run)
    parts = parts.left_join(age, parts.old_id == age.rid)
    parts = parts.mutate(age=parts.issued_run.fill_null(0))
    oldest = ibis.window(group_by=[parts.comp, parts.heir], order_by=[parts.age, parts.old_id])
    parts = parts.mutate(pick=ibis.row_number().over(oldest))
    parts = materialise(parts.select("old_id", "comp", "n", "heir", "pick"), "_wb_id_parts", con)
    heirs = parts.filter(parts.heir)
    kept = heirs.filter(heirs.pick == 0).select("comp", person_id=heirs.old_id)

    comps = fresh.select(comp=fresh.person_id).distinct()
    taken = ibis.union(register.select(taken=register.person_id), old.select(taken=old.old_id))
    new = _fresh_ids(comps.anti_join(kept, "comp"), taken, con)
    ids = materialise(ibis.union(kept, new), "_wb_id_map", con)

    accounts = fresh.join(ids, fresh.person_id == ids.comp)
    accounts = accounts.select(
        *[ids.person_id if c == "person_id" else fresh[c] for c in fresh.columns]
    )
    accounts = materialise(accounts, "_wb_accounts_carried", con)

    losers = heirs.filter(heirs.pick > 0)
    winners = kept.select(kc=kept.comp, new_id=kept.person_id)
    merged = losers.join(winners, losers.comp == winners.kc).select(
        old_id=losers.old_id,
        new_id=winners.new_id,
        reason=ibis.literal("merged"),
        accounts=losers.n,
    )
    others = parts.filter(~parts.heir)
    split = others.join(ids, others.comp == ids.comp).select(
        old_id=others.old_id,
        new_id=ids.person_id,
        reason=ibis.literal("split"),
        accounts=others.n,
    )
    changes = ibis.union(merged, split).mutate(resolved_at=when)
    changes = changes.select(*PERSON_ID_CHANGES.schema.names).cast(PERSON_ID_CHANGES.schema)

    # Every registered id follows its current id to that id's heir's id; the
    # current ids were the previous resolution's, so one step follows the chain.
    unregistered = (
        old.select(person_id=old.old_id)
        .distinct()
        .anti_join(register, "person_id")
        .select(
            person_id=ibis._.person_id,
            issued_run=ibis.literal(0, type="int64"),
            current_id=ibis._.person_id,
            split_at=ibis.null("timestamp"),
        )
    )
    before = ibis.union(register, unregistered.cast(reg_schema))
    fate = heirs.join(ids, heirs.comp == ids.comp).select(fate_of=heirs.old_id, now=ids.person_id)
    was_split = others.select(split_of=others.old_id).distinct()
    r = before.left_join(fate, before.current_id == fate.fate_of).left_join(
        was_split, before.current_id == was_split.split_of
    )
    carried = r.select(
        person_id=r.person_id,
        issued_run=r.issued_run,
        current_id=r.now,
        split_at=ibis.ifelse(r.split_of.notnull(), when, r.split_at),
    )
    issued = new.select(
        person_id=new.person_id,
        issued_run=ibis.literal(run, type="int64"),
        current_id=new.person_id,
        split_at=ibis.null("timestamp"),
    )
    register_after = ibis.union(carried.cast(reg_schema), issued.cast(reg_schema))

    tally = parts.aggregate(
        kept=(parts.heir & (parts.pick == 0)).sum(),
        merged=(parts.heir & (parts.pick > 0)).sum(),
        split=(~parts.heir).sum(),
    ).to_pandas()
    counts = {f"ids_{k}": int(tally[k].fillna(0).iat[0]) for k in ("kept", "merged", "split")}
    counts["ids_new"] = int(new.count().execute())
    log.info("person ids: %s", counts)
    return CarriedIds(accounts, changes, register_after, counts)


def current_person_ids(
    con: Any,
    table: ir.Table,
    column: str = "person_id",
    since: datetime | str | None = None,
) -> ir.Table:
    """``table`` with the current person id of each recorded one, and what became of it.

    Plans and audience packs keep the person ids of the day they were made; later
    ingestions merge and split persons (see :mod:`workbench.unify.person_ids`).
    This follows each recorded id through ``person_ids`` to the person it names
    now, chains of merges included.

    Parameters:
        con: an Ibis connection to the warehouse.
        table: any table with a column of person ids, e.g. ``audience_packs``.
        column: that column's name.
        since: when the ids were recorded, as ``identity_runs.resolved_at`` (UTC), e.g.
            the ``resolved_at`` of :func:`~workbench.unify.identity.latest_run` when a
            pack was made. Only splits after it count. ``None``: every split counts.

    Returns:
        ``table`` (every row, in no particular order) with two columns more:
        ``current_person_id``, the person's id today (``NULL`` when there is none),
        and ``id_status``:

        - ``current``: the id still names the person;
        - ``merged``: the person was merged into another, whose id this is;
        - ``split``: the person was split since; the id now names the part holding
          most of its accounts. A member whose accounts went to a smaller part is
          resolved to the largest part all the same: the recorded id cannot tell
          which part the member was in. Count these before trusting a comparison;
        - ``unknown``: this warehouse never issued the id, or none of its accounts
          remain.

    Raises:
        ValueError: ``column`` is not in ``table``, or the warehouse has no ``person_ids``.

    Example:
        >>> pack = con.table("audience_packs").filter(ibis._.plan == "618-2027")  # doctest: +SKIP
        >>> now = current_person_ids(con, pack, since=created)  # doctest: +SKIP
        >>> now.group_by("id_status").agg(n=ibis._.count()).to_pandas()  # doctest: +SKIP
    """
    if column not in table.columns:
        raise ValueError(
            f"the table of person ids has no column {column!r}; columns found: "
            f"{', '.join(table.columns)}"
        )
    if "person_ids" not in con.list_tables():
        raise ValueError(
            "the warehouse has no person_ids register: run `workbench ingest` so that "
            "identities are resolved with ids that survive re-ingestion"
        )
    reg = con.table("person_ids")
    r = reg.select(
        _wb_recorded=reg.person_id,
        current_person_id=reg.current_id,
        _wb_split_at=reg.split_at,
    )
    j = table.left_join(r, table[column] == r._wb_recorded)
    if since is None:
        split = j._wb_split_at.notnull()
    else:
        split = j._wb_split_at > ibis.literal(since, type="timestamp")
    status = ibis.cases(
        (j.current_person_id.isnull(), "unknown"),
        (split.fill_null(False), "split"),
        (j.current_person_id != j[column], "merged"),
        else_="current",
    )
    return j.mutate(id_status=status).select(*table.columns, "current_person_id", "id_status")
