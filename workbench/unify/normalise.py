"""Normalise one staged export into the unified tables: named SQL steps on DuckDB.

Each step builds one temporary table named for what it holds, so a step can
be read, tested and profiled on its own. For an order export::

    source -> parsed -> checked -> order_holds -> order_groups, refund_tickets
           -> order_verdicts -> rejections, flags
           -> order_contacts -> orders_out, refunds_out, lines_out, contacts_out

For the member CRM, the product master and campaign records
(:class:`~workbench.sources.tables.TableSpec`, in :mod:`workbench.unify.records`)::

    source -> parsed -> checked -> rejections, flags -> rows_out (-> contacts_out)

``source`` is the staged file (every column text, ``_row`` the data row).
Nothing here writes to the warehouse: :func:`normalise` returns a
:class:`Normalised` that names what to write where, and the ingest writes it
in one transaction. The platform knowledge (columns, statuses, id shapes,
refund tickets) comes from :mod:`workbench.sources`; this module only knows
how to apply it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.sources.specs import DATETIME_FORMATS, OrderSpec
from workbench.sources.tables import TableSpec

LABEL = {
    "order_id": "order id",
    "ordered_at": "order time",
    "paid_at": "payment time",
    "paid_amount": "paid amount",
    "goods_amount": "goods amount",
    "discount_amount": "discount",
    "refund_amount": "refund",
    "quantity": "quantity",
    "unit_price": "unit price",
    "line_amount": "line amount",
}

# Output columns of an order export, and the unified fields each is made from:
# when a file carries none of them, the stored value is kept.
ORDER_OUTPUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "paid_at": ("paid_at",),
        "discount_amount": ("discount_amount",),
        "goods_amount": ("goods_amount", "line_amount", "unit_price"),
        "items": ("quantity",),
        "store_code": ("store_code",),
        "traffic_source": ("traffic_source",),
    },
    "order_lines": {
        "sku": ("sku",),
        "title": ("title",),
        "quantity": ("quantity",),
        "unit_price": ("unit_price", "line_amount"),
    },
    "contacts": {
        "phone_hash": ("phone",),
        "phone_masked": ("phone_masked", "phone"),
        "member_id": ("member_id",),
        "unionid": ("unionid",),
        "name_hash": ("name",),
        "surname_hash": ("name",),
        "name_chars": ("name",),
        "province": ("province", "address"),
        "city": ("city", "address"),
        "district": ("district", "address"),
        "address_hash": ("address",),
        "address_tokens": ("address",),
    },
}


@dataclass(frozen=True)
class Write:
    """Rows of a temporary table to upsert into a warehouse table.

    ``keep`` are columns the file did not carry: their stored values stay.
    """

    target: str
    source: str
    key: tuple[str, ...]
    keep: tuple[str, ...] = ()


@dataclass
class Normalised:
    """What one file gives, in temporary tables, and how to count it.

    Attributes:
        writes: upserts, in order.
        loaded_rows: SQL counting the distinct source rows whose data is in ``writes``.
        new_keys: SQL counting the keys of the main table not yet in the warehouse.
        refund_deltas: for a file of refund tickets, orders loaded earlier whose
            refund changes (``order_key``, ``delta``), applied after the writes.
        replace_lines: order keys whose lines are replaced as a whole.
    """

    writes: list[Write] = field(default_factory=list)
    loaded_rows: str = "SELECT 0"
    new_keys: str = "SELECT 0"
    refund_deltas: bool = False
    replace_lines: bool = False


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


CURRENCY_SIGNS = "¥￥$£€元"
"""Signs an amount may carry (CNY, USD, GBP, EUR), taken off before it is read."""


def money_expr(raw: str, places: int = 2) -> str:
    """SQL reading an amount as an exact decimal of ``places`` decimals.

    The text is read as a decimal, never through a float, so ``0.1`` is one
    tenth and a sum of amounts is exact; a finer amount is rounded half away
    from zero (``12.345`` to ``12.35``). Currency signs, thousands separators
    and spaces are taken off (``¥1,234.00``, ``$12.50``, ``12.5元``); what is
    still not a number, or is too large, reads as NULL.

    Example:
        >>> money_expr('"实付金额"')  # doctest: +ELLIPSIS
        'TRY_CAST(nullif(regexp_replace(trim("实付金额"), ...) AS DECIMAL(18,2))'
    """
    signs = sql_str(f"[{CURRENCY_SIGNS},\\s]")
    return f"TRY_CAST(nullif(regexp_replace(trim({raw}), {signs}, '', 'g'), '') AS DECIMAL(18,{places}))"


def first_check(checks: list[tuple[str, str, str, str]], pick: int) -> str:
    """CASE over (condition, column, reason, value) checks giving the column (1),
    reason (2) or value (3) of the first that holds."""
    whens = " ".join(
        f"WHEN {c[0]} THEN {c[pick] if pick == 3 else sql_str(c[pick])}" for c in checks
    )
    return f"CASE {whens} END" if checks else "NULL"


NO_ROWS = (
    'SELECT NULL::BIGINT AS _row, NULL::VARCHAR AS "column", NULL::VARCHAR AS reason, '
    "NULL::VARCHAR AS value WHERE false"
)


COLUMNS = '(_row, "column", reason, value)'


def store_rejections(con: Any, *parts: str) -> None:
    """``rejections``: one row per rejected source row, the first reason of ``parts`` that applies.

    Each part selects ``_row, column, reason, value``; rows the reader could not
    split (``bad_rows``) come before all of them.
    """
    unsplit = 'SELECT _row, NULL::VARCHAR AS "column", reason, NULL::VARCHAR AS value FROM bad_rows'
    union = " UNION ALL ".join(
        f"SELECT *, {i} AS priority FROM ({part}) AS p{i}{COLUMNS}"
        for i, part in enumerate((unsplit, *parts))
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE rejections AS
        SELECT _row, "column", reason, value FROM ({union})
        QUALIFY row_number() OVER (PARTITION BY _row ORDER BY priority) = 1
        """
    )


def store_flags(con: Any, *parts: str) -> None:
    """``flags``: the values ``parts`` flag (``_row, column, reason, value``) in rows not rejected."""
    union = (
        " UNION ALL ".join(
            f"SELECT * FROM ({part}) AS p{i}{COLUMNS}" for i, part in enumerate(parts)
        )
        or NO_ROWS
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE flags AS
        SELECT DISTINCT * FROM ({union}) WHERE _row NOT IN (SELECT _row FROM rejections)
        """
    )


SAMPLE = 2000


def usual_formats(con: Any, columns: list[str]) -> dict[str, str]:
    """The date format most values of each ``source`` column are written in (from a sample).

    A column's values almost always share one format; trying it first
    (``wb_ts_as``) spares the failed attempts at the others, which cost more
    than the parse itself. Columns with no value in any format are left out.
    """
    formats = [f for f in DATETIME_FORMATS if "%z" not in f]
    out: dict[str, str] = {}
    for col in columns:
        counts = ", ".join(f"count(try_strptime(v, {sql_str(f)}))" for f in formats)
        row = con.execute(
            f"""
            SELECT {counts}
            FROM (SELECT trim({ident(col)}) AS v FROM source
                  WHERE nullif(trim({ident(col)}), '') IS NOT NULL LIMIT {SAMPLE})
            """
        ).fetchone()
        if row and max(row) > 0:
            out[col] = formats[list(row).index(max(row))]
    return out


def time_expr(raw: str, fmt: str | None) -> str:
    """SQL reading a date or time column, its usual format first."""
    return f"wb_ts_as({raw}, {sql_str(fmt)})" if fmt else f"wb_ts({raw})"


def _lacks(fmt: str, missing: list[str], present: set[str], file: str) -> str:
    return (
        f"{file}: a {fmt} export lacks column {', '.join(missing)}; "
        f"columns found: {', '.join(sorted(present))}"
    )


def missing_columns(spec: OrderSpec | TableSpec, present: set[str]) -> list[str]:
    """The required columns a header lacks, as ``header (meaning)``."""
    if isinstance(spec, TableSpec):
        return [
            f"{spec.columns[c][0]} ({c})"
            for c in spec.required
            if spec.columns[c][0] not in present
        ]
    return [
        f"{spec.columns[f]} ({LABEL.get(f, f)})"
        for f in spec.required
        if spec.columns[f] not in present
    ]


def lacks_message(spec: OrderSpec | TableSpec, present: set[str], file: str) -> str | None:
    """Why a file cannot be loaded for lack of columns, or ``None``."""
    missing = missing_columns(spec, present)
    return _lacks(spec.format, missing, present, file) if missing else None


def normalise(con: Any, spec: OrderSpec | TableSpec, present: set[str], file: str) -> Normalised:
    """Build the temporary tables of one staged file (``source``, with ``bad_rows``).

    Parameters:
        con: a raw DuckDB connection holding ``source`` and ``bad_rows`` (``_row``,
            ``reason``: rows the reader could not split) and the warehouse tables.
        spec: the format of the file.
        present: the columns the file carries.
        file: the file's name as logged.
    """
    if isinstance(spec, TableSpec):
        # Imported here: the records module builds on this module's steps.
        from workbench.unify.records import normalise_table

        return normalise_table(con, spec, present, file)
    if spec.lines == "only":
        return _normalise_lines(con, spec, present)
    return _normalise_orders(con, spec, present, file)


# --- orders ----------------------------------------------------------------------------


def _raw(spec: OrderSpec, name: str, present: set[str]) -> str:
    col = spec.columns.get(name)
    return ident(col) if col and col in present else "NULL::VARCHAR"


def parse_orders(con: Any, spec: OrderSpec, present: set[str]) -> None:
    """``parsed``: the unified fields, parsed, one row per source row (or trade item).

    A table, not a view: the checks that follow read each parsed field several
    times, and a view would parse it again for every read.
    """
    r = lambda name: _raw(spec, name, present)  # noqa: E731
    single_address = "province" not in spec.columns
    addr = f"regexp_replace(coalesce({r('address')}, ''), '\\s', '', 'g')"
    # A single address column is split once, into province, city, district and the rest.
    split = "_address"
    split_expr = (
        f"regexp_extract({addr}, '^(.+?(?:省|自治区)|北京|上海|天津|重庆)?(.+?市)?(.+?[区县])?(.*)$',"
        " ['p', 'c', 'd', 'rest'])"
        if single_address
        else "NULL"
    )
    province = f"nullif({split}.p, '')" if single_address else f"wb_clean({r('province')})"
    city = f"nullif({split}.c, '')" if single_address else f"wb_clean({r('city')})"
    district = f"nullif({split}.d, '')" if single_address else f"wb_clean({r('district')})"
    detail = f"{split}.rest" if single_address else addr
    detail = f"nullif(regexp_replace({detail}, '幢', '栋', 'g'), '')"
    refund = spec.refund_rows
    is_refund = (
        f"coalesce(trim({r(refund[0])}) = {sql_str(refund[1])}, false)" if refund else "false"
    )
    original = f"wb_id({r(refund[2])})" if refund else "NULL::VARCHAR"
    times = [spec.columns[f] for f in ("ordered_at", "paid_at") if spec.columns.get(f) in present]
    usual = usual_formats(con, times)

    def ts(name: str) -> str:
        return time_expr(r(name), usual.get(spec.columns.get(name, "")))

    amounts = ("goods_amount", "discount_amount", "paid_amount", "refund_amount")
    # Amounts to the fen, as stored; a unit price to four decimals (it may be a quotient).
    money = ",\n".join(
        f"{money_expr(r(f), 4 if f == 'unit_price' else 2)} AS {f}, {r(f)} AS {f}_raw"
        for f in (*amounts, "unit_price", "line_amount")
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE parsed AS
        SELECT _row, {"_line" if "_line" in present else "_row"} AS _line,
            wb_id({r("order_id")}) AS order_id, {r("order_id")} AS order_id_raw,
            wb_clean({r("account_id")}) AS account_id,
            {ts("ordered_at")} AS ordered_at, {r("ordered_at")} AS ordered_at_raw,
            {ts("paid_at")} AS paid_at, {r("paid_at")} AS paid_at_raw,
            trim({r("status")}) AS status_raw, trim({r("aftersale")}) AS aftersale_raw,
            {money},
            try_cast(wb_clean({r("quantity")}) AS DOUBLE) AS quantity, {r("quantity")} AS quantity_raw,
            wb_clean({r("sku")}) AS sku, wb_clean({r("title")}) AS title,
            wb_clean({r("store_code")}) AS store_code, wb_clean({r("traffic_source")}) AS traffic_source,
            wb_phone({r("phone")}) AS phone_hash, nullif(trim({r("phone")}), '') AS phone_given,
            coalesce(wb_masked({r("phone_masked")}), wb_mask_full({r("phone")})) AS phone_masked,
            wb_clean({r("member_id")}) AS member_id, wb_clean({r("unionid")}) AS unionid,
            nullif(regexp_replace(coalesce({r("name")}, ''), '\\s', '', 'g'), '') AS name_clean,
            {province} AS province, {city} AS city, {district} AS district, {detail} AS detail,
            {is_refund} AS is_refund, {original} AS original_id
        FROM (SELECT *, {split_expr} AS _address FROM source)
        """
    )


def row_checks(spec: OrderSpec, present: set[str]) -> list[tuple[str, str, str, str]]:
    """(condition, column, reason, value expression) of each row, in the order checked."""
    checks = [("order_id IS NULL", "order_id", "missing order id", "order_id_raw")]
    if spec.id_pattern:
        checks.append(
            (
                f"NOT regexp_full_match(order_id, {sql_str(spec.id_pattern)})",
                "order_id",
                f"damaged order id (not the shape of a {spec.platform} order id)",
                "order_id_raw",
            )
        )
    if spec.lines != "only":
        checks.append(
            ("ordered_at IS NULL", "ordered_at", "unreadable or missing date", "ordered_at_raw")
        )
        if spec.columns.get("paid_at") in present:
            checks.append(
                (
                    "paid_at IS NULL AND nullif(trim(paid_at_raw), '') IS NOT NULL",
                    "paid_at",
                    "unreadable date",
                    "paid_at_raw",
                )
            )
    amounts = ("goods_amount", "discount_amount", "paid_amount", "refund_amount")
    for f in (*amounts, "unit_price", "line_amount"):
        if spec.columns.get(f) in present:
            checks.append(
                (
                    f"{f} IS NULL AND nullif(trim({f}_raw), '') IS NOT NULL",
                    f,
                    "unreadable amount",
                    f"{f}_raw",
                )
            )
    if spec.columns.get("quantity") in present:
        checks += [
            (
                "quantity IS NULL OR quantity <> round(quantity)",
                "quantity",
                "unreadable quantity",
                "quantity_raw",
            ),
            ("quantity < 0 AND NOT is_refund", "quantity", "negative quantity", "quantity_raw"),
        ]
    if spec.refund_rows:
        checks.append(
            (
                "is_refund AND original_id IS NULL",
                spec.refund_rows[2],
                "refund without the original ticket",
                "NULL",
            )
        )
        if spec.id_pattern:
            checks.append(
                (
                    f"is_refund AND NOT regexp_full_match(original_id, {sql_str(spec.id_pattern)})",
                    spec.refund_rows[2],
                    f"damaged original ticket id (not the shape of a {spec.platform} ticket id)",
                    "original_id",
                )
            )
    # Report the column as the platform names it.
    return [(c, spec.columns.get(f, f), reason, v) for c, f, reason, v in checks]


def check_rows(con: Any, spec: OrderSpec, present: set[str]) -> None:
    """``checked``: ``parsed`` with the first failed row check (column, reason, value)."""
    checks = row_checks(spec, present)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        SELECT *, {first_check(checks, 1)} AS rej_column, {first_check(checks, 2)} AS rej_reason,
               CAST({first_check(checks, 3)} AS VARCHAR) AS rej_value
        FROM parsed
        """
    )


def _status_expr(spec: OrderSpec) -> str:
    whens = " ".join(
        f"WHEN first({f}_raw ORDER BY _row) = {sql_str(value)} THEN {sql_str(status)}"
        for f, value, status in spec.status_rules
    )
    void = (
        f"WHEN bool_or(status_raw = {sql_str(spec.void[1])}) THEN 'cancelled'" if spec.void else ""
    )
    if not whens and not void:
        return "'paid'"
    return f"CASE {void} {whens} ELSE 'paid' END"


def _account_expr(spec: OrderSpec) -> str:
    """The account: the platform's buyer id, else the buyer's full phone (``platform:~p...``),
    else the receiver's masked phone, name and address (``platform:~r...``)."""
    p = sql_str(spec.platform + ":")
    receiver = (
        "substr(wb_hmac(concat_ws('|', phone_masked, name_clean, city, district, detail)), 1, 16)"
    )
    fallback = (
        "NULL"
        if spec.platform == "pos"  # a walk-in without a member card is anonymous
        else f"{p} || coalesce('~p' || substr(phone_hash, 1, 16), '~r' || {receiver})"
    )
    return f"CASE WHEN account_id IS NOT NULL THEN {p} || account_id ELSE {fallback} END"


LINE_VALUE = "TRY_CAST(quantity AS BIGINT) * unit_price"
"""A line's amount from its quantity and unit price, exact (a whole quantity times a decimal)."""


def group_orders(con: Any, spec: OrderSpec, present: set[str]) -> None:
    """``order_groups``: one row per order id of the file (refund tickets aside), with
    the row that holds it back (``bad_row``, ``hold_reason``) from ``order_holds``."""
    paid = "max(paid_amount)" if "paid_amount" in spec.order_level else "sum(line_amount)"
    goods = (
        "max(goods_amount)"
        if spec.columns.get("goods_amount") in present
        else f"sum(coalesce(line_amount, {LINE_VALUE}))"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE order_groups AS
        SELECT g.*, h.bad_row, h.reason AS hold_reason FROM (
            SELECT order_id,
                min(ordered_at) AS ordered_at, min(paid_at) AS paid_at,
                {_status_expr(spec)} AS status,
                {goods} AS goods_amount, coalesce(max(discount_amount), 0) AS discount_amount,
                {paid} AS paid_amount, coalesce(max(refund_amount), 0) AS refund_amount,
                CAST(sum(quantity) AS BIGINT) AS items,
                first(account_id ORDER BY _row) AS account_id,
                first(store_code ORDER BY _row) AS store_code,
                first(traffic_source ORDER BY _row) AS traffic_source
            FROM checked WHERE NOT is_refund AND order_id IS NOT NULL
            GROUP BY order_id
        ) g LEFT JOIN order_holds h USING (order_id)
        """
    )


# Parsed columns holding each order-level field, compared to tell the lines of one order.
ORDER_DETAILS: dict[str, tuple[str, ...]] = {
    "ordered_at": ("ordered_at_raw",),
    "paid_at": ("paid_at_raw",),
    "goods_amount": ("goods_amount_raw",),
    "discount_amount": ("discount_amount_raw",),
    "paid_amount": ("paid_amount_raw",),
    "refund_amount": ("refund_amount_raw",),
    "account_id": ("account_id",),
    "phone": ("phone_given",),
    "phone_masked": ("phone_masked",),
    "name": ("name_clean",),
    "address": ("province", "city", "district", "detail"),
    "province": ("province",),
    "city": ("city",),
    "district": ("district",),
    "member_id": ("member_id",),
    "unionid": ("unionid",),
    "store_code": ("store_code",),
    "traffic_source": ("traffic_source",),
}


def hold_orders(con: Any, spec: OrderSpec, present: set[str]) -> None:
    """``order_holds``: the orders (and refund tickets) held back whole, and why.

    An order is held back when one of its rows is rejected, so that a stored
    order is never replaced by part of itself. In an export of one row per
    order line, a row whose order id is damaged or missing cannot name its
    order: the orders of the rows beside it (the nearest rows before and after
    with a readable id) are held back when they carry the same order details
    (order time, buyer, receiver, order amounts: the order-level fields the
    file has), since the platforms write the lines of an order together.
    """
    id_col = sql_str(spec.columns["order_id"])
    one_row_per_order = spec.lines == "none" or spec.explode is not None
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE order_holds AS
        SELECT order_id, min(_row) AS bad_row,
            'another row of the order was rejected (row ' || min(_row) || ')' AS reason
        FROM checked WHERE rej_reason IS NOT NULL AND order_id IS NOT NULL
        GROUP BY order_id
        """
    )
    damaged = con.execute(
        f"SELECT count(*) FROM checked WHERE rej_column = {id_col} AND rej_reason IS NOT NULL"
    ).fetchone()
    if one_row_per_order or not damaged or not damaged[0]:
        return
    details = sorted(
        {
            col
            for f in spec.order_level - {"order_id", "status", "aftersale"}
            if spec.columns.get(f) in present
            for col in ORDER_DETAILS.get(f, ())
        }
    )
    same = "".join(f" AND i.{c} IS NOT DISTINCT FROM d.{c}" for c in details)
    con.execute(
        f"""
        INSERT INTO order_holds
        WITH intact AS (
            SELECT * FROM checked
            WHERE order_id IS NOT NULL AND rej_column IS DISTINCT FROM {id_col}
        ), damaged AS (
            SELECT d.*,
                (SELECT max(i._row) FROM intact i WHERE i._row < d._row) AS before,
                (SELECT min(i._row) FROM intact i WHERE i._row > d._row) AS after
            FROM checked d WHERE d.rej_column = {id_col} AND d.rej_reason IS NOT NULL
        )
        SELECT i.order_id, min(d._row),
            'row ' || min(d._row) || ' beside it, with the same order details, has a '
                || 'damaged or missing order id: the order is held back whole'
        FROM damaged d JOIN intact i ON i._row IN (d.before, d.after){same}
        WHERE i.order_id NOT IN (SELECT order_id FROM order_holds)
        GROUP BY i.order_id
        """
    )


def group_refund_tickets(con: Any, spec: OrderSpec) -> None:
    """``refund_tickets``: one row per refund ticket (POS 退货), keyed by its own id.

    A ticket's amount is counted once however many times, or in however many
    files, it arrives: it is stored under its own key (``refunds``).
    """
    p = sql_str(spec.platform + ":")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE refund_tickets AS
        SELECT {p} || order_id AS refund_key, {p} || original_id AS order_key,
               original_id, -sum(line_amount) AS amount, min(ordered_at) AS refunded_at
        FROM checked
        WHERE is_refund AND rej_reason IS NULL
            AND order_id NOT IN (SELECT order_id FROM order_holds)
        GROUP BY order_id, original_id
        """
    )


def judge_orders(con: Any) -> None:
    """``order_verdicts``: each order with the reason it is not loaded, if it is not."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE order_verdicts AS
        SELECT * REPLACE (CASE WHEN status = 'cancelled' AND refund_amount > 0 THEN 'refunded'
                               ELSE status END AS status),
          CASE
            WHEN bad_row IS NOT NULL THEN NULL
            WHEN paid_amount = 0.01 THEN 'test order (paid 0.01)'
            -- A closed order that was refunded had been paid: it is a refund, not a cancellation.
            WHEN status = 'cancelled' AND NOT refund_amount > 0 THEN 'cancelled order'
          END AS order_reason
        FROM order_groups
        """
    )


def collect_rejections(con: Any, spec: OrderSpec) -> None:
    """``rejections``: one row per rejected source row, with the first reason that applies.

    A row is rejected when its own check fails, when its order (or refund
    ticket) is held back (``order_holds``), or when its order is excluded by
    rule (cancelled, test order).
    Rows the reader could not split come first, from ``bad_rows``. A refund
    ticket whose sale is not loaded yet is not rejected: it is kept, and netted
    into the sale whenever that arrives.
    """
    status_col = sql_str(spec.columns.get("status", spec.columns["order_id"]))
    id_col = sql_str(spec.columns["order_id"])
    store_rejections(
        con,
        "SELECT _row, rej_column, rej_reason, rej_value FROM checked WHERE rej_reason IS NOT NULL",
        f"""
        SELECT c._row, CASE WHEN v.order_reason IS NULL THEN {id_col} ELSE {status_col} END,
            coalesce(v.order_reason, v.hold_reason),
            CASE WHEN v.order_reason IS NOT NULL THEN c.order_id END
        FROM checked c JOIN order_verdicts v ON c.order_id = v.order_id AND NOT c.is_refund
        WHERE v.bad_row IS NOT NULL OR v.order_reason IS NOT NULL
        """,
        f"""
        SELECT c._row, {id_col}, h.reason, NULL
        FROM checked c JOIN order_holds h ON c.order_id = h.order_id AND c.is_refund
        """,
    )


def collect_flags(con: Any, spec: OrderSpec, present: set[str]) -> None:
    """``flags``: values of loaded rows that could not be read, with the column and reason.

    A phone that is not a mainland mobile number is flagged without its value.
    """
    phone = spec.columns.get("phone")
    parts = []
    if phone in present:
        parts.append(
            f"SELECT _row, {sql_str(phone)}, 'not a mainland mobile number', NULL::VARCHAR "
            "FROM checked WHERE phone_given IS NOT NULL AND phone_hash IS NULL AND NOT is_refund"
        )
    store_flags(con, *parts)


def order_contacts(con: Any) -> None:
    """``order_contacts``: the first contact details of each order (gifts carry the receiver's)."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE order_contacts AS
        SELECT order_id, first(phone_hash ORDER BY _row) AS phone_hash,
            first(phone_masked ORDER BY _row) AS phone_masked,
            first(member_id ORDER BY _row) AS member_id, first(unionid ORDER BY _row) AS unionid,
            first(name_clean ORDER BY _row) AS name_clean,
            first(province ORDER BY _row) AS province, first(city ORDER BY _row) AS city,
            first(district ORDER BY _row) AS district, first(detail ORDER BY _row) AS detail
        FROM checked WHERE NOT is_refund AND order_id IS NOT NULL GROUP BY order_id
        """
    )


def build_orders(con: Any, spec: OrderSpec, file: str) -> None:
    """``refunds_out`` (tickets of loaded orders) and ``orders_out`` (orders, refunds netted).

    An order's refund is the refund its own export reports plus every refund
    ticket of it: those of this file and those stored from earlier files.
    """
    p = sql_str(spec.platform + ":")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE refunds_out AS
        SELECT t.refund_key, t.order_key, t.amount, t.refunded_at, {sql_str(file)} AS source_file
        FROM refund_tickets t
        WHERE t.refund_key NOT IN (SELECT {p} || c.order_id FROM checked c
                                   JOIN rejections r USING (_row))
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE orders_out AS
        WITH tickets AS (
            SELECT order_key, sum(amount) AS tickets FROM (
                SELECT order_key, amount FROM refunds_out
                UNION ALL
                SELECT order_key, amount FROM refunds
                WHERE refund_key NOT IN (SELECT refund_key FROM refunds_out)
            ) GROUP BY order_key
        ), o AS (
            SELECT {p} || v.order_id AS order_key, v.*,
                   v.refund_amount + coalesce(t.tickets, 0) AS refund_total
            FROM order_verdicts v LEFT JOIN tickets t ON t.order_key = {p} || v.order_id
            WHERE v.bad_row IS NULL AND v.order_reason IS NULL
        )
        SELECT o.order_key, {sql_str(spec.platform)} AS platform, o.order_id,
            {_account_expr(spec)} AS account_key,
            o.ordered_at, o.paid_at,
            CASE WHEN o.refund_total >= o.paid_amount AND o.paid_amount > 0 THEN 'refunded'
                 WHEN o.refund_total > 0 THEN 'partially_refunded'
                 ELSE o.status END AS status,
            o.goods_amount, o.discount_amount, o.paid_amount,
            o.refund_total AS refund_amount, o.paid_amount - o.refund_total AS net_amount,
            o.items, o.store_code, o.traffic_source, {sql_str(file)} AS source_file
        FROM o JOIN order_contacts x USING (order_id)
        """
    )


def build_lines(con: Any, spec: OrderSpec, rows: str) -> None:
    """``lines_out``: the order lines of the loaded orders, numbered in file order."""
    p = sql_str(spec.platform + ":")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE lines_out AS
        SELECT {p} || order_id AS order_key,
            row_number() OVER (PARTITION BY order_id ORDER BY _row, _line) AS line_no,
            sku, title, CAST(quantity AS BIGINT) AS quantity,
            coalesce(unit_price, CAST(line_amount / nullif(quantity, 0) AS DECIMAL(18,4)))
                AS unit_price,
            coalesce(line_amount, CAST({LINE_VALUE} AS DECIMAL(18,2))) AS line_amount, _row
        FROM {rows}
        """
    )


def build_contacts(con: Any) -> None:
    """``contacts_out``: each loaded order's identity evidence, names and addresses hashed."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE contacts_out AS
        WITH names AS (
            SELECT name_clean, wb_hmac(name_clean) AS name_hash,
                   wb_hmac(left(name_clean, 1)) AS surname_hash, wb_chars(name_clean) AS name_chars
            FROM (SELECT DISTINCT name_clean FROM order_contacts WHERE name_clean IS NOT NULL)
        ), places AS (
            SELECT detail, wb_hmac(detail) AS address_hash, wb_tokens(detail) AS address_tokens
            FROM (SELECT DISTINCT detail FROM order_contacts WHERE detail IS NOT NULL)
        )
        SELECT o.order_key AS source_key, o.account_key, o.platform,
            x.phone_hash, x.phone_masked, x.member_id, x.unionid,
            names.name_hash, names.surname_hash, names.name_chars,
            x.province, x.city, x.district, places.address_hash, places.address_tokens,
            o.ordered_at AS seen_at
        FROM orders_out o JOIN order_contacts x USING (order_id)
        LEFT JOIN names USING (name_clean) LEFT JOIN places USING (detail)
        """
    )


def _kept(
    outputs: dict[str, tuple[str, ...]], spec: OrderSpec, present: set[str]
) -> tuple[str, ...]:
    """Output columns made only from fields the file does not carry."""

    def carried(f: str) -> bool:
        return spec.columns.get(f) in present

    return tuple(col for col, fields in outputs.items() if not any(carried(f) for f in fields))


def _normalise_orders(con: Any, spec: OrderSpec, present: set[str], file: str) -> Normalised:
    parse_orders(con, spec, present)
    check_rows(con, spec, present)
    hold_orders(con, spec, present)
    group_orders(con, spec, present)
    group_refund_tickets(con, spec)
    judge_orders(con)
    collect_rejections(con, spec)
    collect_flags(con, spec, present)
    order_contacts(con)
    build_orders(con, spec, file)
    p = sql_str(spec.platform + ":")
    writes = [
        Write("orders", "orders_out", ("order_key",), _kept(ORDER_OUTPUTS["orders"], spec, present))
    ]
    out = Normalised(refund_deltas=bool(spec.refund_rows))
    if spec.lines == "rows":
        build_lines(
            con,
            spec,
            f"checked WHERE NOT is_refund AND {p} || order_id IN (SELECT order_key FROM orders_out)",
        )
        writes.append(
            Write(
                "order_lines",
                "lines_out",
                ("order_key", "line_no"),
                _kept(ORDER_OUTPUTS["order_lines"], spec, present),
            )
        )
        out.replace_lines = True
    build_contacts(con)
    _keep_stored_phones(con, spec)
    writes.append(
        Write(
            "contacts",
            "contacts_out",
            ("source_key",),
            _kept(ORDER_OUTPUTS["contacts"], spec, present),
        )
    )
    if spec.refund_rows:
        writes.append(Write("refunds", "refunds_out", ("refund_key",)))
    out.writes = writes
    out.loaded_rows = f"""
        SELECT count(DISTINCT _row) FROM checked
        WHERE (NOT is_refund AND {p} || order_id IN (SELECT order_key FROM orders_out))
           OR (is_refund AND {p} || order_id IN (SELECT refund_key FROM refunds_out))
    """
    out.new_keys = (
        "SELECT count(*) FROM orders_out WHERE order_key NOT IN (SELECT order_key FROM orders)"
    )
    return out


def _keep_stored_phones(con: Any, spec: OrderSpec) -> None:
    """An order whose phone is flagged (not a mainland mobile) keeps its stored contact phone."""
    p = sql_str(spec.platform + ":")
    con.execute(
        f"""
        UPDATE contacts_out c SET phone_hash = t.phone_hash, phone_masked = t.phone_masked
        FROM contacts t
        WHERE t.source_key = c.source_key AND c.phone_hash IS NULL
            AND c.source_key IN (SELECT {p} || order_id FROM checked
                                 WHERE _row IN (SELECT _row FROM flags))
        """
    )


def _normalise_lines(con: Any, spec: OrderSpec, present: set[str]) -> Normalised:
    """Lines of orders loaded from another file (Tmall's item report)."""
    parse_orders(con, spec, present)
    check_rows(con, spec, present)
    hold_orders(con, spec, present)
    p = sql_str(spec.platform + ":")
    id_col = sql_str(spec.columns["order_id"])
    store_rejections(
        con,
        "SELECT _row, rej_column, rej_reason, rej_value FROM checked WHERE rej_reason IS NOT NULL",
        f"SELECT c._row, {id_col}, h.reason, NULL FROM checked c JOIN order_holds h USING (order_id)",
        f"""
        SELECT _row, {id_col}, 'order not loaded (rejected or not in the order report)', order_id
        FROM checked WHERE {p} || order_id NOT IN (SELECT order_key FROM orders)
        """,
    )
    store_flags(con)
    build_lines(con, spec, "checked WHERE _row NOT IN (SELECT _row FROM rejections)")
    return Normalised(
        writes=[
            Write(
                "order_lines",
                "lines_out",
                ("order_key", "line_no"),
                _kept(ORDER_OUTPUTS["order_lines"], spec, present),
            )
        ],
        loaded_rows="SELECT count(DISTINCT _row) FROM lines_out",
        new_keys=(
            "SELECT count(DISTINCT order_key) FROM lines_out "
            "WHERE order_key NOT IN (SELECT order_key FROM order_lines)"
        ),
        replace_lines=True,
    )
