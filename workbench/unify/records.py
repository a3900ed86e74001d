"""Normalise the exports that are not orders: the member CRM, the product master, campaigns.

One loader runs every :class:`~workbench.sources.tables.TableSpec`, in named
SQL steps on DuckDB like the order exports' (:mod:`workbench.unify.normalise`)::

    source -> parsed -> checked -> rejections, flags -> rows_out (-> contacts_out)

A required value missing or unreadable, or caught by a ``reject`` rule (an id
of the wrong shape, a touch channel not in the list), rejects its row; an
optional value unreadable or caught by a ``flag`` rule is flagged, and the row
keeps the stored value of that column.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.schema import TABLES
from workbench.sources.tables import FLAG_FALSE, FLAG_TRUE, PLATFORM_NAMES, TableSpec
from workbench.unify.normalise import (
    Normalised,
    Write,
    first_check,
    ident,
    money_expr,
    sql_str,
    store_flags,
    store_rejections,
    time_expr,
    usual_formats,
)

MEMBER_CONTACT_OUTPUTS: dict[str, tuple[str, ...]] = {
    "phone_hash": ("phone",),
    "phone_masked": ("phone",),
    "unionid": ("unionid",),
    "name_hash": ("name",),
    "surname_hash": ("name",),
    "name_chars": ("name",),
    "province": ("province",),
    "city": ("city",),
}


def read_expr(kind: str, raw: str, fmt: str | None = None, places: int | None = None) -> str:
    """SQL reading one export column of ``kind`` (see ``workbench.sources.tables.Kind``);
    ``fmt`` is a date column's usual format; ``places``: a number stored as money, read
    as an exact decimal of so many decimals."""
    if kind == "number" and places is not None:
        return money_expr(raw, places)
    if kind == "date":
        return f"CAST({time_expr(raw, fmt)} AS DATE)"
    if kind == "timestamp":
        return time_expr(raw, fmt)
    if kind == "number":
        return f"wb_amount({raw})"
    if kind == "int":
        return f"try_cast(wb_clean({raw}) AS BIGINT)"
    if kind == "flag":
        yes = ", ".join(sql_str(v) for v in FLAG_TRUE)
        no = ", ".join(sql_str(v) for v in FLAG_FALSE)
        return f"CASE WHEN wb_clean({raw}) IN ({yes}) THEN true WHEN wb_clean({raw}) IN ({no}) THEN false END"
    if kind == "platform":
        pairs = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in PLATFORM_NAMES.items())
        codes = ", ".join(sorted({sql_str(v) for v in PLATFORM_NAMES.values()}))
        return (
            f"CASE WHEN wb_clean({raw}) IN ({codes}) THEN wb_clean({raw}) "
            f"ELSE CASE wb_clean({raw}) {pairs} END END"
        )
    return f"wb_clean({raw})"


def _table_checks(spec: TableSpec, action: str) -> list[tuple[str, str, str, str]]:
    """(condition, header, reason, value) of a table's checks that ``reject`` or ``flag``."""
    checks: list[tuple[str, str, str, str]] = []

    def value(col: str) -> str:
        return "NULL" if col in spec.personal else ident("raw_" + col)

    def unreadable(col: str) -> str:
        return f"{ident(col)} IS NULL AND nullif(trim({ident('raw_' + col)}), '') IS NOT NULL"

    for col in spec.required if action == "reject" else ():
        checks.append(
            (
                f"{ident(col)} IS NULL AND nullif(trim(coalesce({ident('raw_' + col)}, '')), '') IS NULL",
                spec.columns[col][0],
                "missing value",
                "NULL",
            )
        )
    for col, (header, kind) in spec.columns.items():
        if kind != "text" and (col in spec.required) == (action == "reject"):
            checks.append((unreadable(col), header, f"unreadable {kind}", value(col)))
    for rule in spec.rules:
        if rule.action == action:
            cond = f"{ident(rule.column)} IS NOT NULL AND ({rule.bad})"
            checks.append((cond, spec.columns[rule.column][0], rule.reason, value(rule.column)))
    return checks


def normalise_table(con: Any, spec: TableSpec, present: set[str], file: str) -> Normalised:
    def raw(col: str) -> str:
        header = spec.columns[col][0]
        return ident(header) if header in present else "NULL::VARCHAR"

    usual = usual_formats(
        con,
        [h for h, kind in spec.columns.values() if kind in ("date", "timestamp") and h in present],
    )
    target = TABLES[spec.target].schema
    places = {c: t.scale for c, t in target.items() if t.is_decimal()}
    reads = ", ".join(
        f"{read_expr(kind, raw(col), usual.get(header), places.get(col))} AS {ident(col)}, "
        f"{raw(col)} AS {ident('raw_' + col)}"
        for col, (header, kind) in spec.columns.items()
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS SELECT _row, {reads} FROM source")
    rejects = _table_checks(spec, "reject")
    flags = _table_checks(spec, "flag")
    rejected = " OR ".join(f"({c[0]})" for c in rejects) or "false"
    store_rejections(
        con,
        f"SELECT _row, {first_check(rejects, 1)}, {first_check(rejects, 2)}, "
        f"CAST({first_check(rejects, 3)} AS VARCHAR) FROM parsed WHERE {rejected}",
    )
    store_flags(
        con,
        *(
            f"SELECT _row, {sql_str(header)}, {sql_str(reason)}, CAST({value} AS VARCHAR) "
            f"FROM parsed WHERE {cond}"
            for cond, header, reason, value in flags
        ),
    )
    header_of = {header: col for col, (header, _) in spec.columns.items()}
    emptied = ", ".join(
        f'CASE WHEN _row IN (SELECT _row FROM flags WHERE "column" = {sql_str(h)}) '
        f"THEN NULL ELSE {ident(c)} END AS {ident(c)}"
        for h, c in header_of.items()
        if any(f[1] == h for f in flags)
    )
    replace = f" REPLACE ({emptied})" if emptied else ""
    derived = "".join(f", {sql} AS {ident(col)}" for col, sql in spec.derived.items())
    keys = ", ".join(ident(k) for k in spec.key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        SELECT *{derived} FROM (
            SELECT *{replace} FROM parsed WHERE _row NOT IN (SELECT _row FROM rejections)
        )
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE rows_out AS
        SELECT * FROM checked
        QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _row DESC) = 1
        """
    )
    keep_stored_where_flagged(con, spec, {header for _, header, _, _ in flags})
    absent = {col for col, (header, _) in spec.columns.items() if header not in present}
    keep = [c for c in spec.columns if c in absent]
    keep += [
        c
        for c, sql in spec.derived.items()
        if any(re.search(rf"\b{re.escape(a)}\b", sql) for a in absent)
    ]
    writes = [Write(spec.target, "rows_out", spec.key, tuple(keep))]
    if spec.contacts:
        _member_contacts(con)
        _keep_stored_contacts(con, spec)
        contact_keep = tuple(
            col
            for col, fields in MEMBER_CONTACT_OUTPUTS.items()
            if all(f in absent for f in fields)
        )
        writes.append(Write("contacts", "contacts_out", ("source_key",), contact_keep))
    match = " AND ".join(f"c.{ident(k)} IS NOT DISTINCT FROM o.{ident(k)}" for k in spec.key)
    target_match = " AND ".join(f"t.{ident(k)} = o.{ident(k)}" for k in spec.key)
    return Normalised(
        writes=writes,
        loaded_rows=(
            f"SELECT count(DISTINCT c._row) FROM checked c "
            f"WHERE EXISTS (SELECT 1 FROM rows_out o WHERE {match})"
        ),
        new_keys=(
            f"SELECT count(*) FROM rows_out o "
            f"WHERE NOT EXISTS (SELECT 1 FROM {spec.target} t WHERE {target_match})"
        ),
    )


def _depends_on(spec: TableSpec, col: str) -> list[str]:
    """``col`` and the derived columns made from it."""
    return [col] + [
        d for d, sql in spec.derived.items() if re.search(rf"\b{re.escape(col)}\b", sql)
    ]


def keep_stored_where_flagged(con: Any, spec: TableSpec, headers: set[str]) -> None:
    """In ``rows_out``, a flagged value (and what is derived from it) takes the stored one.

    A value that cannot be read, in a row re-exported with a good stored value,
    says nothing against that value: the row keeps it (a new row keeps the value
    empty). ``headers`` are the export columns whose values can be flagged.
    """
    flagged = {r[0] for r in con.execute('SELECT DISTINCT "column" FROM flags').fetchall()}
    schema = set(TABLES[spec.target].schema.names)
    col_of = {header: col for col, (header, _) in spec.columns.items()}
    match = " AND ".join(f"t.{ident(k)} = o.{ident(k)}" for k in spec.key)
    for header in sorted(headers & flagged):
        cols = [c for c in _depends_on(spec, col_of[header]) if c in schema]
        if not cols:
            continue
        sets = ", ".join(f"{ident(c)} = t.{ident(c)}" for c in cols)
        con.execute(
            f"""
            UPDATE rows_out o SET {sets} FROM {spec.target} t
            WHERE {match} AND o._row IN (SELECT _row FROM flags WHERE "column" = {sql_str(header)})
            """
        )


def _keep_stored_contacts(con: Any, spec: TableSpec) -> None:
    """Member contact details made from a flagged value keep the stored contact's."""
    flagged = {r[0] for r in con.execute('SELECT DISTINCT "column" FROM flags').fetchall()}
    for col, (header, _) in spec.columns.items():
        cols = [c for c, fields in MEMBER_CONTACT_OUTPUTS.items() if col in fields]
        if header not in flagged or not cols:
            continue
        sets = ", ".join(f"{ident(c)} = t.{ident(c)}" for c in cols)
        con.execute(
            f"""
            UPDATE contacts_out c SET {sets} FROM contacts t
            WHERE t.source_key = c.source_key AND c.source_key IN (
                SELECT 'crm:' || member_id FROM rows_out
                WHERE _row IN (SELECT _row FROM flags WHERE "column" = {sql_str(header)}))
            """
        )


def _member_contacts(con: Any) -> None:
    """``contacts_out``: each member record's identity evidence, as a ``crm:`` account."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE contacts_out AS
        SELECT 'crm:' || member_id AS source_key, 'crm:' || member_id AS account_key,
            'crm' AS platform, phone_hash, phone_masked, member_id, unionid,
            wb_hmac(nullif(regexp_replace(coalesce(name, ''), '\\s', '', 'g'), '')) AS name_hash,
            wb_hmac(left(nullif(regexp_replace(coalesce(name, ''), '\\s', '', 'g'), ''), 1))
                AS surname_hash,
            CASE WHEN nullif(trim(name), '') IS NOT NULL THEN wb_chars(name) END AS name_chars,
            province, city, NULL::VARCHAR AS district, NULL::VARCHAR AS address_hash,
            NULL::VARCHAR[] AS address_tokens, CAST(joined_at AS TIMESTAMP) AS seen_at
        FROM rows_out
        """
    )
