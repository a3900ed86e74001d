"""The warehouse file itself: its tables, upserts, and what it records about itself.

Two facts are kept in ``warehouse_meta``:

- ``salt_fingerprint``: a hash of the salt that phones, names and addresses were
  hashed with (never the salt). Hashes made with two salts never match, so an
  ingestion with another salt would silently split every person in two; it is
  refused instead (:class:`~workbench.errors.SaltMismatch`).
- ``state``: ``loading since ...`` from the start of an ingestion until its
  identity tables are swapped in, then ``complete``. A warehouse left
  ``loading`` (a killed run) is reported as incomplete (:func:`warehouse_problem`).
- ``currency``: the ISO code of every amount it holds, recorded by the first file
  loaded (platform exports are CNY; a mapping file may declare another). A file
  of another currency is refused (:func:`check_currency`): sums across currencies
  mean nothing. Reports format money in it (:func:`warehouse_currency`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
from datetime import datetime
from typing import Any

import ibis.expr.datatypes as dt

from workbench.errors import DataError, SaltMismatch
from workbench.schema import TABLES
from workbench.sources.mapping import PLATFORM_CURRENCY
from workbench.unify.normalise import Write, ident

log = logging.getLogger(__name__)

SALT_KEY = "salt_fingerprint"
CURRENCY_KEY = "currency"
STATE_KEY = "state"
COMPLETE = "complete"

_DUCK_TYPES = {
    "string": "VARCHAR",
    "float64": "DOUBLE",
    "int64": "BIGINT",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "array<string>": "VARCHAR[]",
}


def duck_type(typ: dt.DataType) -> str:
    """The DuckDB type of a schema column type (``decimal(18, 2)``: ``DECIMAL(18,2)``)."""
    if isinstance(typ, dt.Decimal):
        return f"DECIMAL({typ.precision},{typ.scale})"
    return _DUCK_TYPES[str(typ)]


def ensure_tables(con: Any) -> None:
    """Create the warehouse tables that do not exist yet (from ``schema.TABLES``), and
    make the money columns of a warehouse built before they were exact decimals."""
    for table in TABLES.values():
        cols = ", ".join(f"{ident(name)} {duck_type(typ)}" for name, typ in table.schema.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({cols})")
    exact_money(con)


def exact_money(con: Any) -> list[str]:
    """Turn money columns stored as floating point (a warehouse built by an earlier
    version) into the exact decimals of ``schema.TABLES``; return them as ``table.column``.

    Each value becomes the nearest fen, which is the amount the export gave: a
    float sum's noise (``232850.18999998964``) goes with it.
    """
    stored = {
        (t, c): typ
        for t, c, typ in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        ).fetchall()
    }
    changed = []
    for table in TABLES.values():
        for name, typ in table.schema.items():
            if isinstance(typ, dt.Decimal) and stored.get((table.name, name)) == "DOUBLE":
                con.execute(
                    f"ALTER TABLE {ident(table.name)} ALTER COLUMN {ident(name)} "
                    f"SET DATA TYPE {duck_type(typ)}"
                )
                changed.append(f"{table.name}.{name}")
    if changed:
        log.info("money stored as exact decimals in %s", ", ".join(changed))
    return changed


def upsert(con: Any, w: Write, replace_by: str | None = None) -> None:
    """Write ``w.source`` into ``w.target``: rows with the same key are replaced.

    Columns in ``w.keep`` (the file did not carry them) take the stored value of
    the row they replace. With ``replace_by``, every stored row sharing that
    column's value with a new row goes (an order's lines are replaced whole).
    """
    schema = TABLES[w.target].schema.names
    match = " AND ".join(f"t.{ident(k)} = s.{ident(k)}" for k in w.key)
    keep = [c for c in w.keep if c in schema]
    if keep:
        sets = ", ".join(f"{ident(c)} = t.{ident(c)}" for c in keep)
        con.execute(f"UPDATE {w.source} s SET {sets} FROM {w.target} t WHERE {match}")
    if replace_by:
        col = ident(replace_by)
        con.execute(f"DELETE FROM {w.target} WHERE {col} IN (SELECT {col} FROM {w.source})")
    else:
        con.execute(
            f"DELETE FROM {w.target} t WHERE EXISTS (SELECT 1 FROM {w.source} s WHERE {match})"
        )
    cols = ", ".join(ident(c) for c in schema)
    con.execute(f"INSERT INTO {w.target} ({cols}) SELECT {cols} FROM {w.source}")


def get_meta(con: Any, key: str) -> str | None:
    row = con.execute("SELECT value FROM warehouse_meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_meta(con: Any, key: str, value: str) -> None:
    con.execute("DELETE FROM warehouse_meta WHERE key = ?", [key])
    con.execute("INSERT INTO warehouse_meta VALUES (?, ?)", [key, value])


def salt_fingerprint(salt: str) -> str:
    """A short one-way hash that tells salts apart without revealing them."""
    return hashlib.sha256(b"retail-workbench salt check\0" + salt.encode("utf-8")).hexdigest()[:16]


def check_salt(con: Any, salt: str, where: str) -> None:
    """Refuse to add hashes made with another salt than the warehouse's; record it if new.

    Raises:
        SaltMismatch: the warehouse was built with another salt.
    """
    mine = salt_fingerprint(salt)
    stored = get_meta(con, SALT_KEY)
    if stored is None:
        row = con.execute("SELECT count(*) FROM contacts").fetchone()
        if row and row[0]:
            log.warning(
                "the warehouse %s records no salt fingerprint; assuming its hashes use this salt",
                where,
            )
        set_meta(con, SALT_KEY, mine)
        return
    if stored != mine:
        raise SaltMismatch(
            f"the warehouse {where} was built with another salt (fingerprint {stored}, this "
            f"run's {mine}); mixing them would split every person in two. Set WORKBENCH_SALT "
            "(or `salt` in workbench.toml) back to the salt it was built with, or move the "
            "warehouse aside and ingest every export again with the new salt"
        )


def mark_loading(con: Any) -> None:
    set_meta(con, STATE_KEY, f"loading since {datetime.now():%Y-%m-%d %H:%M:%S}")


def mark_complete(con: Any) -> None:
    set_meta(con, STATE_KEY, COMPLETE)


def warehouse_status(con: Any) -> str:
    """``complete``; ``incomplete`` (the last ingestion stopped, earlier persons remain);
    ``no_persons`` (no ingestion ever finished resolving identities); ``missing``.

    Parameters:
        con: an Ibis backend, a raw DuckDB connection, or settings (the
            warehouse is then opened read-only).
    """
    from workbench.config import Settings

    if isinstance(con, Settings):
        from workbench.engine import open_duckdb

        if not con.warehouse.exists():
            return "missing"
        raw = open_duckdb(con.warehouse, con, read_only=True)
        try:
            return warehouse_status(raw)
        finally:
            raw.close()
    raw = getattr(con, "con", con)  # an Ibis DuckDB backend keeps its raw connection here
    if not hasattr(raw, "execute"):
        return COMPLETE  # Spark: ingestion, and its state, live in DuckDB
    names = {
        r[0] for r in raw.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    state = get_meta(raw, STATE_KEY) if "warehouse_meta" in names else COMPLETE
    if state in (None, COMPLETE):
        return COMPLETE if "persons" in names else "no_persons"
    row = raw.execute("SELECT count(*) FROM persons").fetchone() if "persons" in names else None
    return "incomplete" if row and row[0] else "no_persons"


PROBLEMS = {
    "missing": "there is no warehouse yet: run `workbench ingest`",
    "no_persons": (
        "the warehouse has no persons: no ingestion has finished resolving identities; "
        "run `workbench ingest` again"
    ),
    "incomplete": (
        "the warehouse is incomplete: the last ingestion stopped before it finished, so "
        "persons do not cover all its orders; run `workbench ingest` again"
    ),
}


def warehouse_problem(con: Any) -> str | None:
    """One line saying why the warehouse cannot be fully trusted, or ``None`` when it can.

    Example:
        >>> warehouse_problem(load_settings())  # doctest: +SKIP
    """
    return PROBLEMS.get(warehouse_status(con))


def check_currency(con: Any, currency: str, file: str) -> None:
    """Refuse a file whose amounts are in another currency than the warehouse's.

    A warehouse that records no currency holds none yet when it has no orders;
    with orders, it was built before currencies were recorded, when every amount
    was a platform's yuan (CNY).

    Parameters:
        con: a raw DuckDB connection on the warehouse.
        currency: the ISO code of the file's amounts.
        file: the file, as logged.

    Raises:
        DataError: one line naming the file and both currencies.

    Example:
        >>> check_currency(con, "USD", "cdnow/CDNOW_master.txt.gz")  # doctest: +SKIP
    """
    held = get_meta(con, CURRENCY_KEY)
    if held is None:
        row = con.execute("SELECT count(*) FROM orders").fetchone()
        if not (row and row[0]):
            return
        held = PLATFORM_CURRENCY
        set_meta(con, CURRENCY_KEY, held)
    if held == currency:
        return
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    where = row[0] if row and row[0] else "in memory"
    raise DataError(
        f"{file}: amounts in {currency}, but the warehouse {where} holds {held}; a warehouse "
        f"holds one currency: load the file into another warehouse (WORKBENCH_WAREHOUSE), or "
        f"declare its currency in its mapping file if {currency} is wrong"
    )


def record_currency(con: Any, currency: str) -> None:
    """Record the warehouse's currency, once: with the first file that loads
    (after :func:`check_currency` let it in)."""
    if get_meta(con, CURRENCY_KEY) is None:
        set_meta(con, CURRENCY_KEY, currency)


def warehouse_currency(con: Any) -> str:
    """The ISO code of the amounts a warehouse holds, for reports to format money in.

    Parameters:
        con: an Ibis backend on the warehouse (DuckDB or Spark).

    Returns:
        The recorded currency; ``CNY`` (the platforms') when none is recorded.

    Example:
        >>> warehouse_currency(connect(load_settings(), read_only=True))  # doctest: +SKIP
        'USD'
    """
    if "warehouse_meta" not in con.list_tables():
        return PLATFORM_CURRENCY
    meta = con.table("warehouse_meta")
    found = meta.filter(meta.key == CURRENCY_KEY).select("value").to_pandas()
    return str(found["value"].iat[0]) if len(found) else PLATFORM_CURRENCY


def order_days(con: Any) -> tuple[_dt.date, _dt.date] | None:
    """The days of the first and the last order in the warehouse, or ``None`` without
    orders."""
    if "orders" not in con.list_tables():
        return None
    orders = con.table("orders")
    row = orders.aggregate(
        first=orders.ordered_at.min().date(), last=orders.ordered_at.max().date()
    ).to_pandas()
    if row.empty or row["first"].isna().iat[0]:
        return None
    return _day(row["first"].iat[0]), _day(row["last"].iat[0])


def last_order_day(con: Any) -> _dt.date | None:
    """The day of the last order in the warehouse, or ``None`` without orders."""
    days = order_days(con)
    return None if days is None else days[1]


def _day(value: Any) -> _dt.date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(str(value)[:10])
