"""Audience packs as files a channel's own tool takes: one CSV per pack and channel.

A pack is the treated persons of one phase and group of a plan. For each
channel the file lists those persons' own account ids on that channel: the
Tmall buyer nickname, the JD account, the Youzan buyer id, the CRM member id
(for the CRM's SMS tool), the Douyin and Pinduoduo buyer ids. That is what a
platform's audience tool (达摩盘, 京准通) or the CRM takes to reach them.

What never goes in a file:
- persons of the arms ``control`` and ``global_control`` (see
  :mod:`workbench.plan.arms`): they are held out, so they are not contacted;
- account keys the workbench made itself where an export had no buyer id
  (``platform:~p...`` from the hash of a phone, ``platform:~r...`` from the
  receiver's masked phone, name and address): no platform knows them, and the
  first is a phone hash;
- an id that is itself a mobile number (a nickname that is a phone): it is
  withheld and counted, never written;
- any other column: a file holds one column, the channel's id.

Ids come from the warehouse's ``accounts`` (``platform:id``, the person it
belongs to) and, for Tmall and JD, also from the members' bound accounts
(``members.tmall_account``, ``members.jd_account``) of the person's member
records, which count even when the bound account never ordered. The point of
sale is no channel of its own: its cards are CRM member ids, in the CRM file.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.engine import materialise, scratch_name
from workbench.errors import ParameterError
from workbench.plan.arms import NOT_TREATED
from workbench.spreadsheet import formula_safe_expr


@dataclass(frozen=True)
class Channel:
    """A channel a pack is exported for.

    Attributes:
        name: the channel in file names and counts (``tmall``).
        platform: the ``platform`` of its accounts in the warehouse.
        column: the header of the file's one column, what the channel calls the id.
        binding: the ``members`` column holding an account key of this platform
            bound to a member record, or ``None``.
    """

    name: str
    platform: str
    column: str
    binding: str | None = None


CHANNELS: tuple[Channel, ...] = (
    Channel("tmall", "tmall", "buyer_nick", "tmall_account"),
    Channel("jd", "jd", "jd_account", "jd_account"),
    Channel("youzan", "youzan", "youzan_buyer_id"),
    Channel("crm", "crm", "member_id"),
    Channel("douyin", "douyin", "douyin_buyer_id"),
    Channel("pdd", "pdd", "pdd_buyer_id"),
)
"""The channels packs are exported for, in the order of the counts."""

MADE_KEY = "~"
"""How an account id the workbench made itself begins (``~p``: phone hash, ``~r``: receiver)."""
PHONE_LIKE = r"^(\+?86)?1[3-9][0-9]{9}$"
"""An id that is a mainland mobile number, with or without the country code."""
PACK_COLUMNS = ("person_id", "phase", "group", "arm")
COUNT_COLUMNS = (
    "phase",
    "group",
    "channel",
    "file",
    "pack_persons",
    "persons",
    "accounts",
    "withheld_phone_like",
    "quoted",
)
"""The columns of :func:`export_packs`' counts."""


def _require(table: ir.Table, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ParameterError(
            f"{what} lacks the column(s) {', '.join(missing)}; "
            f"columns found: {', '.join(table.columns)}"
        )


def treated(packs: ir.Table) -> ir.Table:
    """The persons of each pack who are contacted: ``(person_id, phase, group)``, distinct.

    Rows of the arms ``control`` and ``global_control``, rows without an arm,
    and rows flagged ``global_control`` (when the table carries the flag) are
    left out.

    Parameters:
        packs: the plan's packs: ``person_id``, ``phase``, ``group``, ``arm``.

    Returns:
        One row per treated person and pack.

    Example:
        >>> packs = ibis.memtable(
        ...     {"person_id": ["P1", "P2"], "phase": ["burst"] * 2, "group": ["active"] * 2,
        ...      "arm": ["treatment", "control"]}
        ... )
        >>> treated(packs).to_pandas().person_id.tolist()
        ['P1']
    """
    _require(packs, PACK_COLUMNS, "the packs table")
    kept = packs.arm.notnull() & ~packs.arm.isin(list(NOT_TREATED))
    if "global_control" in packs.columns:
        kept &= ~packs["global_control"].fill_null(False)
    return packs.filter(kept).select("person_id", "phase", "group").distinct()


def channel_accounts(
    accounts: ir.Table, members: ir.Table, channels: Sequence[Channel] = CHANNELS
) -> ir.Table:
    """Every person's own account ids per channel: ``(person_id, channel, account_id)``.

    The id is the part of the account key after ``platform:``. Keys the
    workbench made (``~p...``, ``~r...``) are no platform's ids and are left
    out. Members' bound Tmall and JD accounts join their person through the
    member record (``crm:<member_id>``).

    Parameters:
        accounts: the warehouse's ``accounts``: ``account_key`` and ``person_id``.
        members: the warehouse's ``members``: ``member_id`` and the binding columns
            the channels name.
        channels: the channels to list.

    Returns:
        Distinct rows, plus ``phone_like``: whether the id is a mobile number.

    Example:
        >>> accounts = ibis.memtable(
        ...     {"account_key": ["tmall:tb_a", "youzan:~p1a2b"], "platform": ["tmall", "youzan"],
        ...      "person_id": ["P1", "P1"]}
        ... )
        >>> members = ibis.memtable(
        ...     {"member_id": ["M1"], "tmall_account": [None], "jd_account": [None]},
        ...     schema={"member_id": "string", "tmall_account": "string", "jd_account": "string"},
        ... )
        >>> channel_accounts(accounts, members).to_pandas()[["channel", "account_id"]].values.tolist()
        [['tmall', 'tb_a']]
    """
    _require(accounts, ("account_key", "person_id"), "the accounts table")
    doubled = sorted({c.name for c in channels if [d.name for d in channels].count(c.name) > 1})
    if doubled:
        raise ParameterError(f"channels {', '.join(doubled)} are named more than once")
    bindings = sorted({c.binding for c in channels if c.binding})
    _require(members, ("member_id", *bindings), "the members table")
    keys = [accounts.select("person_id", "account_key")]
    if bindings:
        member_person = accounts.filter(accounts.account_key.startswith("crm:")).select(
            person_id=accounts.person_id, member_key=accounts.account_key
        )
        for binding in bindings:
            bound = members.filter(members[binding].notnull()).select(
                member_key="crm:" + members.member_id.cast("string"),
                account_key=members[binding].cast("string"),
            )
            joined = bound.join(member_person, "member_key")
            keys.append(joined.select(joined.person_id, joined.account_key))
    every = ibis.union(*keys)
    colon = every.account_key.find(":")
    split = every.filter(colon > 0).select(
        person_id=every.person_id,
        platform=every.account_key.substr(0, colon),
        account_id=every.account_key.substr(colon + 1),
    )
    channel_of = ibis.memtable(
        {"platform": [c.platform for c in channels], "channel": [c.name for c in channels]},
        schema={"platform": "string", "channel": "string"},
    )
    own = split.join(channel_of, "platform").select("person_id", "channel", "account_id")
    own = own.filter(
        own.account_id.notnull()
        & (own.account_id.length() > 0)
        & ~own.account_id.startswith(MADE_KEY)
    ).distinct()
    return own.mutate(phone_like=own.account_id.re_search(PHONE_LIKE))


def safe_name(part: object) -> str:
    """``part`` as a piece of a file name: letters (Chinese too), digits, ``.``, ``-``, ``_``.

    Every run of other characters (spaces, slashes, colons, quotes) becomes
    one ``_``; dots and underscores at either end are dropped, so no piece is
    ``..`` or hidden.

    Parameters:
        part: a plan name, phase, group or channel.

    Returns:
        The piece; ``_`` when nothing is left.

    Example:
        >>> safe_name("双11 / 2026"), safe_name("../etc"), safe_name("蓄水期")
        ('双11_2026', 'etc', '蓄水期')
    """
    text = re.sub(r"[^\w.-]+", "_", str(part)).strip("._")
    return text or "_"


def pack_file_name(plan_name: str, phase: object, group: object, channel: str) -> str:
    """``<plan>_<phase>_<group>_<channel>.csv``, each piece made safe (:func:`safe_name`).

    Example:
        >>> pack_file_name("618-2027", "爆发期", "active/VIP", "tmall")
        '618-2027_爆发期_active_VIP_tmall.csv'
    """
    return "_".join(safe_name(p) for p in (plan_name, phase, group, channel)) + ".csv"


def export_packs(
    packs: ir.Table,
    accounts: ir.Table,
    members: ir.Table,
    plan_name: str,
    out_dir: str | Path,
    *,
    channels: Sequence[Channel] = CHANNELS,
) -> pd.DataFrame:
    """Write one CSV per pack and channel listing the treated persons' ids on that channel.

    Each file (:func:`pack_file_name`) holds one column, named for the
    channel's id (:attr:`Channel.column`), one row per account id, sorted;
    UTF-8 with a byte-order mark, so spreadsheet programs read Chinese
    nicknames. An id a spreadsheet would run as a formula (``=...``, ``-...``)
    is written with a leading single quote and counted in ``quoted``. A pack and
    channel without any id gets no file, and a file of that name left by an
    earlier export is removed, so the folder never lists a stale pack.

    Parameters:
        packs: the plan's packs: ``person_id``, ``phase``, ``group``, ``arm``
            (and optionally the ``global_control`` flag).
        accounts: the warehouse's ``accounts``.
        members: the warehouse's ``members``.
        plan_name: the plan's name, the first piece of each file name.
        out_dir: the folder to write to (created if missing); best the plan
            version's own folder.
        channels: the channels to export for.

    Returns:
        One row per pack and channel, with :data:`COUNT_COLUMNS`: ``file`` (the
        name written, missing when none), ``pack_persons`` (treated persons in
        the pack), ``persons`` (of them, those with an id on the channel),
        ``accounts`` (ids written), ``withheld_phone_like`` (ids not written
        because they are mobile numbers), ``quoted`` (ids written with a
        leading quote).

    Raises:
        ParameterError: a table lacks a column; a pack without a phase or
            group; two packs whose names become the same file name.

    Example:
        >>> counts = export_packs(packs, con.table("accounts"), con.table("members"),
        ...                       "618-2027", "reports/plans/618-2027/v1")  # doctest: +SKIP
    """
    people = treated(packs)
    keys = ("phase", "group", "channel")
    sizes = (
        people.group_by("phase", "group")
        .agg(pack_persons=people.count())  # persons are distinct per pack
        .order_by("phase", "group")
        .to_pandas()
    )
    if sizes[["phase", "group"]].isna().any(axis=None):
        raise ParameterError(
            "the packs table has treated persons without a phase or group; give every row both"
        )
    names: dict[str, tuple[object, object, str]] = {}
    for phase, group in sizes[["phase", "group"]].itertuples(index=False):
        for channel in channels:
            name = pack_file_name(plan_name, phase, group, channel.name)
            if name in names and names[name] != (phase, group, channel.name):
                raise ParameterError(
                    f"packs {names[name][:2]!r} and {(phase, group)!r} would both be written "
                    f"as {name}; rename one phase or group"
                )
            names[name] = (phase, group, channel.name)

    # Counted and listed from one stored join, not from the join twice.
    joined = materialise(
        people.join(channel_accounts(accounts, members, channels), "person_id"),
        scratch_name("pack_accounts", plan_name),
    )
    kept = ~joined.phone_like.fill_null(False)
    cell = formula_safe_expr(joined.account_id)
    tally = joined.group_by(*keys).agg(
        persons=joined.person_id.nunique(where=kept),
        withheld_phone_like=joined.account_id.nunique(where=~kept),
        quoted=joined.account_id.nunique(where=kept & (cell != joined.account_id)),
    )
    tallies = {tuple(r[:3]): r[3:] for r in tally.to_pandas().itertuples(index=False)}
    # Sorted by pack, channel and id: each file's ids are one run of the listing, and an
    # id two persons share (through a member's binding) sits next to itself.
    lines = joined.filter(kept).select(*keys, cell=cell).order_by(*keys, "cell").to_pyarrow()
    slices = _file_ids(lines, keys)

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    counts = []
    for phase, group, pack_persons in sizes.itertuples(index=False):
        for channel in channels:
            name = pack_file_name(plan_name, phase, group, channel.name)
            key = (phase, group, channel.name)
            cells = slices.get(key)
            persons, withheld, quoted = tallies.get(key, (0, 0, 0))
            target = folder / name
            if cells is not None and len(cells):
                _write_ids(target, channel.column, cells)
            elif target.exists():
                target.unlink()
            counts.append(
                {
                    "phase": phase,
                    "group": group,
                    "channel": channel.name,
                    "file": name if cells is not None and len(cells) else None,
                    "pack_persons": int(pack_persons),
                    "persons": int(persons),
                    "accounts": 0 if cells is None else len(cells),
                    "withheld_phone_like": int(withheld),
                    "quoted": int(quoted),
                }
            )
    return pd.DataFrame(counts, columns=list(COUNT_COLUMNS))


def _file_ids(table: pa.Table, keys: Sequence[str]) -> dict[tuple[object, ...], pa.Array]:
    """Each run of equal ``keys`` in ``table`` (sorted by them and ``cell``): its distinct cells."""
    n = table.num_rows
    if n == 0:
        return {}
    cells = table.column("cell")
    new_key = np.zeros(n - 1, dtype=bool)
    for key in keys:
        column = table.column(key)
        new_key |= pc.not_equal(column.slice(1), column.slice(0, n - 1)).to_numpy(
            zero_copy_only=False
        )
    new_cell = pc.not_equal(cells.slice(1), cells.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    first = np.concatenate([[True], new_key | new_cell])
    starts = [0, *(np.flatnonzero(new_key) + 1).tolist()]
    out = {}
    for start, stop in zip(starts, [*starts[1:], n], strict=True):
        run = tuple(table.column(k)[start].as_py() for k in keys)
        out[run] = pc.filter(cells.slice(start, stop - start), first[start:stop])
    return out


NEEDS_QUOTES = r'[",\r\n]'
"""What a CSV field must be quoted for: the delimiter, a quote, a line break."""


def _write_ids(target: Path, header: str, cells: pa.Array) -> None:
    """Write the one-column CSV beside ``target`` and move it into place, so no half file
    is ever seen. UTF-8 with a byte-order mark; a field is quoted only where it must be."""
    partial = target.with_name(target.name + ".partial")
    values = cells.to_pylist()
    with partial.open("w", encoding="utf-8-sig", newline="") as f:
        if pc.any(pc.match_substring_regex(cells, NEEDS_QUOTES)).as_py():
            csv.writer(f, lineterminator="\n").writerows(zip([header, *values], strict=True))
        else:
            f.write(header + "\n" + "\n".join(values) + "\n")
    os.replace(partial, target)
