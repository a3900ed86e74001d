"""Load raw exports into the warehouse: parse, normalise, hash personal data, reject, upsert.

For each file: recognise the format from the header, read it as strings,
map the platform's columns to the unified fields (``sources.specs``), parse
amounts and dates, qualify ids with the platform, hash phones and reduce
names and addresses to hashed tokens, and reject with a reason every row
that cannot be loaded (unreadable date or amount, negative quantity, missing
id, 0.01 test order, cancelled order). Loading is an upsert by platform
order id, so re-ingesting a file or an overlapping export changes nothing.
Per file, rows read = rows loaded + rows rejected, in ``ingest_log``.

Parsing and loading run on DuckDB, where the files are; the loaded tables
are what the engine-neutral jobs read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from tqdm.auto import tqdm

from workbench.config import Settings, load_settings
from workbench.engine import duckdb_config, register_functions
from workbench.schema import TABLES
from workbench.sources.detect import header_of, match_header
from workbench.sources.mapping import MappedSource
from workbench.sources.specs import (
    DATETIME_FORMATS,
    LOAD_ORDER,
    ORDER_SPECS,
    OrderSpec,
)
from workbench.sources.stage import read_export
from workbench.sources.tables import FLAG_FALSE, FLAG_TRUE, PLATFORM_NAMES, TABLE_SPECS, TableSpec

log = logging.getLogger(__name__)

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


@dataclass
class FileResult:
    """What happened to one file."""

    file: str
    platform: str
    format: str
    encoding: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_new: int = 0
    status: str = "loaded"  # loaded | refused | skipped
    message: str = ""
    seconds: float = 0.0


@dataclass
class IngestResult:
    files: list[FileResult] = field(default_factory=list)
    identity: dict[str, int] = field(default_factory=dict)

    @property
    def refused(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "refused"]

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([f.__dict__ for f in self.files])


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the warehouse tables that do not exist yet (from ``schema.TABLES``)."""
    for table in TABLES.values():
        cols = ", ".join(f"{_ident(name)} {_duck_type(typ)}" for name, typ in table.schema.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({cols})")


def _duck_type(typ: Any) -> str:
    s = str(typ)
    return {
        "string": "VARCHAR",
        "float64": "DOUBLE",
        "int64": "BIGINT",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "boolean": "BOOLEAN",
        "array<string>": "VARCHAR[]",
    }[s]


# --- reading and mapping -------------------------------------------------------------


def _flatten_youzan(con: duckdb.DuckDBPyConnection) -> None:
    """One row per trade item, with the trade's fields repeated (``_row`` is the trade)."""
    con.execute(
        """
        CREATE OR REPLACE TEMP VIEW src AS
        SELECT s._row, s.tid, s.created, s.pay_time, s.status, s.refund_state, s.total_fee,
               s.discount_fee, s.payment, s.refund_fee,
               s.buyer_info.buyer_phone AS buyer_phone, s.buyer_info.union_id AS union_id,
               s.buyer_info.yz_open_id AS yz_open_id,
               s.address_info.receiver_name AS receiver_name,
               s.address_info.delivery_province AS delivery_province,
               s.address_info.delivery_city AS delivery_city,
               s.address_info.delivery_district AS delivery_district,
               s.address_info.delivery_address AS delivery_address,
               o.item.outer_sku_id AS outer_sku_id, o.item.title AS title,
               CAST(o.item.num AS VARCHAR) AS num, o.item.price AS price,
               o.item.payment AS item_payment
        FROM stg s LEFT JOIN LATERAL (SELECT unnest(s.orders) AS item) o ON true
        """
    )


def _check_columns(spec: OrderSpec, columns: Iterable[str], path: str) -> None:
    present = set(columns)
    missing = [f for f in spec.required if spec.columns[f] not in present]
    if missing:
        names = ", ".join(f"{spec.columns[f]} ({LABEL.get(f, f)})" for f in missing)
        raise ValueError(
            f"{spec.platform} export '{path}' lacks column {names}; "
            f"columns found: {', '.join(sorted(present))}"
        )


def _raw(spec: OrderSpec, name: str, present: set[str]) -> str:
    col = spec.columns.get(name)
    return _ident(col) if col and col in present else "NULL::VARCHAR"


def _mapped_view(con: duckdb.DuckDBPyConnection, spec: OrderSpec, present: set[str]) -> None:
    """``m``: the unified fields, parsed, one row per source row (or trade item).

    A table, not a view: the checks that follow read each parsed field several
    times, and a view would parse it again for every read.
    """
    r = lambda name: _raw(spec, name, present)  # noqa: E731
    single_address = "province" not in spec.columns
    addr = f"regexp_replace(coalesce({r('address')}, ''), '\\s', '', 'g')"
    split = (
        f"regexp_extract({addr}, '^(.+?(?:省|自治区)|北京|上海|天津|重庆)?(.+?市)?(.+?[区县])?(.*)$',"
        " ['p', 'c', 'd', 'rest'])"
    )
    province = f"nullif({split}.p, '')" if single_address else f"wb_clean({r('province')})"
    city = f"nullif({split}.c, '')" if single_address else f"wb_clean({r('city')})"
    district = f"nullif({split}.d, '')" if single_address else f"wb_clean({r('district')})"
    detail = f"{split}.rest" if single_address else addr
    detail = f"nullif(regexp_replace({detail}, '幢', '栋', 'g'), '')"
    refund = spec.refund_rows
    is_refund = (
        f"coalesce(trim({r(refund[0])}) = {_sql_str(refund[1])}, false)" if refund else "false"
    )
    original = f"wb_id({r(refund[2])})" if refund else "NULL::VARCHAR"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE m AS
        SELECT _row,
            wb_id({r("order_id")}) AS order_id, {r("order_id")} AS order_id_raw,
            wb_clean({r("account_id")}) AS account_id,
            wb_ts({r("ordered_at")}) AS ordered_at, {r("ordered_at")} AS ordered_at_raw,
            wb_ts({r("paid_at")}) AS paid_at, {r("paid_at")} AS paid_at_raw,
            trim({r("status")}) AS status_raw, trim({r("aftersale")}) AS aftersale_raw,
            wb_amount({r("goods_amount")}) AS goods_amount, {r("goods_amount")} AS goods_amount_raw,
            wb_amount({r("discount_amount")}) AS discount_amount,
            {r("discount_amount")} AS discount_amount_raw,
            wb_amount({r("paid_amount")}) AS paid_amount, {r("paid_amount")} AS paid_amount_raw,
            wb_amount({r("refund_amount")}) AS refund_amount,
            {r("refund_amount")} AS refund_amount_raw,
            try_cast(wb_clean({r("quantity")}) AS DOUBLE) AS quantity, {r("quantity")} AS quantity_raw,
            wb_amount({r("unit_price")}) AS unit_price, {r("unit_price")} AS unit_price_raw,
            wb_amount({r("line_amount")}) AS line_amount, {r("line_amount")} AS line_amount_raw,
            wb_clean({r("sku")}) AS sku, wb_clean({r("title")}) AS title,
            wb_clean({r("store_code")}) AS store_code, wb_clean({r("traffic_source")}) AS traffic_source,
            wb_phone({r("phone")}) AS phone_hash,
            coalesce(wb_masked({r("phone_masked")}), wb_mask_full({r("phone")})) AS phone_masked,
            wb_clean({r("member_id")}) AS member_id, wb_clean({r("unionid")}) AS unionid,
            nullif(regexp_replace(coalesce({r("name")}, ''), '\\s', '', 'g'), '') AS name_clean,
            {province} AS province, {city} AS city, {district} AS district, {detail} AS detail,
            {is_refund} AS is_refund, {original} AS original_id
        FROM src
        """
    )


def _row_checks(spec: OrderSpec, present: set[str]) -> list[tuple[str, str, str, str]]:
    """(condition, field, reason, value expression) in the order they are checked."""
    checks = [("order_id IS NULL", "order_id", "missing order id", "order_id_raw")]
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
    # Report the column as the platform names it.
    return [(c, spec.columns.get(f, f), reason, v) for c, f, reason, v in checks]


def _case(checks: list[tuple[str, str, str, str]], pick: int) -> str:
    """CASE over the checks giving the column (1), reason (2) or offending value (3)."""
    whens = " ".join(
        f"WHEN {c[0]} THEN {c[pick] if pick == 3 else _sql_str(c[pick])}" for c in checks
    )
    return f"CASE {whens} END"


def _status_expr(spec: OrderSpec) -> str:
    whens = " ".join(
        f"WHEN first({field}_raw ORDER BY _row) = {_sql_str(value)} THEN {_sql_str(status)}"
        for field, value, status in spec.status_rules
    )
    void = (
        f"WHEN bool_or(status_raw = {_sql_str(spec.void[1])}) THEN 'cancelled'" if spec.void else ""
    )
    if not whens and not void:
        return "'paid'"
    return f"CASE {void} {whens} ELSE 'paid' END"


def _account_expr(spec: OrderSpec) -> str:
    """The account: the platform's buyer id, else the buyer's full phone (``platform:~p...``),
    else the receiver's masked phone, name and address (``platform:~r...``)."""
    p = _sql_str(spec.platform + ":")
    receiver = (
        "substr(wb_hmac(concat_ws('|', phone_masked, name_clean, city, district, detail)), 1, 16)"
    )
    fallback = (
        "NULL"
        if spec.platform == "pos"  # a walk-in without a member card is anonymous
        else f"{p} || coalesce('~p' || substr(phone_hash, 1, 16), '~r' || {receiver})"
    )
    return f"CASE WHEN account_id IS NOT NULL THEN {p} || account_id ELSE {fallback} END"


def _normalise_orders(
    con: duckdb.DuckDBPyConnection, spec: OrderSpec, present: set[str], file: str
) -> None:
    """Build temp tables ``rej`` (row rejections), ``o`` (orders), ``l`` (lines), ``c`` (contacts)."""
    checks = _row_checks(spec, present)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE r AS
        SELECT *, {_case(checks, 1)} AS rej_column, {_case(checks, 2)} AS rej_reason,
               CAST({_case(checks, 3)} AS VARCHAR) AS rej_value
        FROM m
        """
    )
    p = _sql_str(spec.platform + ":")
    if spec.lines == "only":
        # Lines of orders loaded from another file (Tmall's item report).
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE rej AS
            SELECT _row, rej_column AS column, rej_reason AS reason, rej_value AS value
            FROM r WHERE rej_reason IS NOT NULL
            UNION ALL
            SELECT _row, {_sql_str(spec.columns["order_id"])}, 'order not loaded (rejected or not in the order report)', order_id
            FROM r WHERE rej_reason IS NULL AND {p} || order_id NOT IN (SELECT order_key FROM orders)
            """
        )
        _lines(con, spec, "r WHERE _row NOT IN (SELECT _row FROM rej)")
        con.execute("CREATE OR REPLACE TEMP TABLE o AS SELECT * FROM orders LIMIT 0")
        con.execute("CREATE OR REPLACE TEMP TABLE c AS SELECT * FROM contacts LIMIT 0")
        return

    paid = "max(paid_amount)" if "paid_amount" in spec.order_level else "sum(line_amount)"
    goods = (
        "max(goods_amount)"
        if spec.columns.get("goods_amount") in present
        else "sum(coalesce(line_amount, quantity * unit_price))"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE g AS
        SELECT order_id,
            min(_row) FILTER (WHERE rej_reason IS NOT NULL) AS bad_row,
            min(ordered_at) AS ordered_at, min(paid_at) AS paid_at,
            {_status_expr(spec)} AS status,
            {goods} AS goods_amount, coalesce(max(discount_amount), 0) AS discount_amount,
            {paid} AS paid_amount, coalesce(max(refund_amount), 0) AS refund_amount,
            CAST(sum(quantity) AS BIGINT) AS items,
            first(account_id ORDER BY _row) AS account_id,
            first(store_code ORDER BY _row) AS store_code,
            first(traffic_source ORDER BY _row) AS traffic_source
        FROM r WHERE NOT is_refund AND order_id IS NOT NULL
        GROUP BY order_id
        """
    )
    # Refund tickets net into their original order, here or already in the warehouse.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE rf AS
        SELECT original_id, -sum(line_amount) AS refund, list(_row) AS rows
        FROM r WHERE is_refund AND rej_reason IS NULL GROUP BY original_id
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE og AS
        SELECT * REPLACE (CASE WHEN status = 'cancelled' AND refund_amount > 0 THEN 'refunded'
                               ELSE status END AS status),
          CASE
            WHEN bad_row IS NOT NULL THEN NULL
            WHEN paid_amount = 0.01 THEN 'test order (paid 0.01)'
            -- A closed order that was refunded had been paid: it is a refund, not a cancellation.
            WHEN status = 'cancelled' AND NOT refund_amount > 0 THEN 'cancelled order'
          END AS order_reason
        FROM g
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE rej AS
        SELECT r._row,
            coalesce(r.rej_column, CASE WHEN og.order_reason IS NULL THEN {_sql_str(spec.columns["order_id"])}
                                        ELSE {_sql_str(spec.columns.get("status", spec.columns["order_id"]))} END) AS column,
            coalesce(r.rej_reason, og.order_reason, 'another row of the order was rejected (row ' || og.bad_row || ')') AS reason,
            coalesce(r.rej_value, CASE WHEN og.order_reason IS NOT NULL THEN r.order_id END) AS value
        FROM r LEFT JOIN (SELECT * FROM og WHERE bad_row IS NOT NULL OR order_reason IS NOT NULL) og
          ON r.order_id = og.order_id
        WHERE r.rej_reason IS NOT NULL OR (og.order_id IS NOT NULL AND NOT r.is_refund)
        UNION ALL
        SELECT unnest(rf.rows), {_sql_str(spec.columns.get("original_order", "original_order"))},
               'refund of a ticket that is not loaded', rf.original_id
        FROM rf
        WHERE NOT EXISTS (SELECT 1 FROM og WHERE og.order_id = rf.original_id
                          AND og.bad_row IS NULL AND og.order_reason IS NULL)
          AND NOT EXISTS (SELECT 1 FROM orders WHERE orders.order_key = {p} || rf.original_id)
        """
    )
    # The first contact details of each order (gift orders carry the receiver's).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE x AS
        SELECT order_id, first(phone_hash ORDER BY _row) AS phone_hash,
            first(phone_masked ORDER BY _row) AS phone_masked,
            first(member_id ORDER BY _row) AS member_id, first(unionid ORDER BY _row) AS unionid,
            first(name_clean ORDER BY _row) AS name_clean,
            first(province ORDER BY _row) AS province, first(city ORDER BY _row) AS city,
            first(district ORDER BY _row) AS district, first(detail ORDER BY _row) AS detail
        FROM r WHERE NOT is_refund AND order_id IS NOT NULL GROUP BY order_id
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE o AS
        SELECT {p} || order_id AS order_key, {_sql_str(spec.platform)} AS platform, order_id,
            {_account_expr(spec)} AS account_key,
            ordered_at, paid_at,
            CASE WHEN refund_amount + coalesce(refund, 0) >= paid_amount AND paid_amount > 0
                   THEN 'refunded'
                 WHEN refund_amount + coalesce(refund, 0) > 0 THEN 'partially_refunded'
                 ELSE status END AS status,
            goods_amount, discount_amount, paid_amount,
            refund_amount + coalesce(refund, 0) AS refund_amount,
            paid_amount - refund_amount - coalesce(refund, 0) AS net_amount,
            items, store_code, traffic_source, {_sql_str(file)} AS source_file
        FROM og
        JOIN x USING (order_id)
        LEFT JOIN (SELECT original_id AS order_id, refund FROM rf) USING (order_id)
        WHERE bad_row IS NULL AND order_reason IS NULL
        """
    )
    # Refunds of orders loaded from an earlier file.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE late_refunds AS
        SELECT {p} || rf.original_id AS order_key, rf.refund FROM rf
        WHERE rf.original_id NOT IN (SELECT order_id FROM o)
          AND {p} || rf.original_id IN (SELECT order_key FROM orders)
        """
    )
    if spec.lines == "rows":
        _lines(con, spec, f"r WHERE NOT is_refund AND {p} || order_id IN (SELECT order_key FROM o)")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE l AS SELECT * FROM order_lines LIMIT 0")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE c AS
        WITH names AS (
            SELECT name_clean, wb_hmac(name_clean) AS name_hash,
                   wb_hmac(left(name_clean, 1)) AS surname_hash, wb_chars(name_clean) AS name_chars
            FROM (SELECT DISTINCT name_clean FROM x WHERE name_clean IS NOT NULL)
        ), places AS (
            SELECT detail, wb_hmac(detail) AS address_hash, wb_tokens(detail) AS address_tokens
            FROM (SELECT DISTINCT detail FROM x WHERE detail IS NOT NULL)
        )
        SELECT o.order_key AS source_key, o.account_key, o.platform,
            x.phone_hash, x.phone_masked, x.member_id, x.unionid,
            names.name_hash, names.surname_hash, names.name_chars,
            x.province, x.city, x.district, places.address_hash, places.address_tokens,
            o.ordered_at AS seen_at
        FROM o JOIN x USING (order_id)
        LEFT JOIN names USING (name_clean) LEFT JOIN places USING (detail)
        """
    )


def _lines(con: duckdb.DuckDBPyConnection, spec: OrderSpec, rows: str) -> None:
    p = _sql_str(spec.platform + ":")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE l AS
        SELECT {p} || order_id AS order_key,
            row_number() OVER (PARTITION BY order_id ORDER BY _row) AS line_no,
            sku, title, CAST(quantity AS BIGINT) AS quantity,
            coalesce(unit_price, line_amount / nullif(quantity, 0)) AS unit_price,
            coalesce(line_amount, quantity * unit_price) AS line_amount
        FROM {rows}
        """
    )


# --- member CRM ------------------------------------------------------------------------

CRM_COLUMNS = {
    "member_id": "会员编号",
    "phone": "手机号",
    "name": "姓名",
    "gender": "性别",
    "birthday": "生日",
    "tier": "会员等级",
    "joined_at": "入会时间",
    "points": "积分",
    "unionid": "微信unionid",
    "register_channel": "注册渠道",
    "tmall_nick": "淘宝昵称",
    "jd_pin": "京东PIN",
    "province": "省份",
    "city": "城市",
}
CRM_REQUIRED = ("member_id", "tier", "joined_at")
TIERS = ("普通", "高级", "VIP", "至尊VIP")


def _normalise_members(con: duckdb.DuckDBPyConnection, present: set[str], file: str) -> None:
    missing = [f for f in CRM_REQUIRED if CRM_COLUMNS[f] not in present]
    if missing:
        names = ", ".join(f"{CRM_COLUMNS[f]} ({f})" for f in missing)
        raise ValueError(
            f"crm export '{file}' lacks column {names}; columns found: {', '.join(sorted(present))}"
        )

    def r(name: str) -> str:
        col = CRM_COLUMNS[name]
        return _ident(col) if col in present else "NULL::VARCHAR"

    tiers = ", ".join(_sql_str(t) for t in TIERS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE r AS
        SELECT _row, wb_clean({r("member_id")}) AS member_id, wb_phone({r("phone")}) AS phone_hash,
            wb_mask_full({r("phone")}) AS phone_masked,
            nullif(regexp_replace(coalesce({r("name")}, ''), '\\s', '', 'g'), '') AS name_clean,
            wb_clean({r("gender")}) AS gender,
            year(wb_ts({r("birthday")})) AS birth_year,
            wb_clean({r("tier")}) AS tier, CAST(wb_ts({r("joined_at")}) AS DATE) AS joined_at,
            {r("joined_at")} AS joined_raw,
            try_cast(wb_clean({r("points")}) AS BIGINT) AS points, {r("points")} AS points_raw,
            wb_clean({r("unionid")}) AS unionid, wb_clean({r("register_channel")}) AS register_channel,
            'tmall:' || wb_clean({r("tmall_nick")}) AS tmall_account,
            'jd:' || wb_clean({r("jd_pin")}) AS jd_account,
            wb_clean({r("province")}) AS province, wb_clean({r("city")}) AS city
        FROM src
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE rej AS
        SELECT _row,
            CASE WHEN member_id IS NULL THEN {_sql_str(CRM_COLUMNS["member_id"])}
                 WHEN joined_at IS NULL THEN {_sql_str(CRM_COLUMNS["joined_at"])}
                 WHEN tier NOT IN ({tiers}) OR tier IS NULL THEN {_sql_str(CRM_COLUMNS["tier"])}
                 ELSE {_sql_str(CRM_COLUMNS["points"])} END AS column,
            CASE WHEN member_id IS NULL THEN 'missing member id'
                 WHEN joined_at IS NULL THEN 'unreadable or missing date'
                 WHEN tier NOT IN ({tiers}) OR tier IS NULL THEN 'unknown member tier'
                 ELSE 'unreadable points' END AS reason,
            CASE WHEN member_id IS NULL THEN NULL WHEN joined_at IS NULL THEN joined_raw
                 WHEN tier NOT IN ({tiers}) OR tier IS NULL THEN tier ELSE points_raw END AS value
        FROM r
        WHERE member_id IS NULL OR joined_at IS NULL OR tier IS NULL OR tier NOT IN ({tiers})
           OR (points IS NULL AND nullif(trim(points_raw), '') IS NOT NULL)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE mem AS
        SELECT member_id, phone_hash, unionid, gender, birth_year, tier, joined_at, points,
               register_channel, tmall_account, jd_account, province, city
        FROM r WHERE _row NOT IN (SELECT _row FROM rej)
        QUALIFY row_number() OVER (PARTITION BY member_id ORDER BY _row DESC) = 1
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE c AS
        SELECT 'crm:' || member_id AS source_key, 'crm:' || member_id AS account_key,
            'crm' AS platform, phone_hash, phone_masked, member_id, unionid,
            wb_hmac(name_clean) AS name_hash, wb_hmac(left(name_clean, 1)) AS surname_hash,
            CASE WHEN name_clean IS NOT NULL THEN wb_chars(name_clean) END AS name_chars,
            province, city, NULL::VARCHAR AS district, NULL::VARCHAR AS address_hash,
            NULL::VARCHAR[] AS address_tokens, CAST(joined_at AS TIMESTAMP) AS seen_at
        FROM r WHERE _row NOT IN (SELECT _row FROM rej)
        QUALIFY row_number() OVER (PARTITION BY member_id ORDER BY _row DESC) = 1
        """
    )


def _read_expr(kind: str, raw: str) -> str:
    """SQL reading one export column of ``kind`` (see ``workbench.sources.tables.Kind``)."""
    if kind == "date":
        return f"CAST(wb_ts({raw}) AS DATE)"
    if kind == "timestamp":
        return f"wb_ts({raw})"
    if kind == "number":
        return f"wb_amount({raw})"
    if kind == "int":
        return f"try_cast(wb_clean({raw}) AS BIGINT)"
    if kind == "flag":
        yes = ", ".join(_sql_str(v) for v in FLAG_TRUE)
        no = ", ".join(_sql_str(v) for v in FLAG_FALSE)
        return f"CASE WHEN wb_clean({raw}) IN ({yes}) THEN true WHEN wb_clean({raw}) IN ({no}) THEN false END"
    if kind == "platform":
        pairs = " ".join(
            f"WHEN {_sql_str(k)} THEN {_sql_str(v)}" for k, v in PLATFORM_NAMES.items()
        )
        codes = ", ".join(sorted({_sql_str(v) for v in PLATFORM_NAMES.values()}))
        return (
            f"CASE WHEN wb_clean({raw}) IN ({codes}) THEN wb_clean({raw}) "
            f"ELSE CASE wb_clean({raw}) {pairs} END END"
        )
    return f"wb_clean({raw})"


def _normalise_table(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, present: set[str], file: str
) -> None:
    """Read a reference export into temp tables ``tbl`` (rows to load) and ``rej``."""
    missing = [c for c in spec.required if spec.columns[c][0] not in present]
    if missing:
        names = ", ".join(f"{spec.columns[c][0]} ({c})" for c in missing)
        raise ValueError(
            f"{spec.format} export '{file}' lacks column {names}; "
            f"columns found: {', '.join(sorted(present))}"
        )

    def raw(col: str) -> str:
        header = spec.columns[col][0]
        return _ident(header) if header in present else "NULL::VARCHAR"

    reads = ", ".join(
        f"{_read_expr(kind, raw(col))} AS {_ident(col)}, {raw(col)} AS {_ident('raw_' + col)}"
        for col, (_, kind) in spec.columns.items()
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE r AS SELECT _row, {reads} FROM src")
    checks: list[tuple[str, str, str, str]] = []  # condition, column, reason, value
    for col in spec.required:
        checks.append(
            (
                f"{_ident(col)} IS NULL AND nullif(trim(coalesce({_ident('raw_' + col)}, '')), '') IS NULL",
                spec.columns[col][0],
                "missing value",
                "NULL",
            )
        )
    for col, (header, kind) in spec.columns.items():
        if kind != "text":
            checks.append(
                (
                    f"{_ident(col)} IS NULL AND nullif(trim({_ident('raw_' + col)}), '') IS NOT NULL",
                    header,
                    f"unreadable {kind}",
                    _ident("raw_" + col),
                )
            )
    when = " OR ".join(f"({c[0]})" for c in checks) or "false"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE rej AS
        SELECT _row, {_case(checks, 1)} AS "column", {_case(checks, 2)} AS reason,
               CAST({_case(checks, 3)} AS VARCHAR) AS value
        FROM r WHERE {when}
        """
    )
    cols = [*spec.columns, *spec.derived]
    derived = "".join(f", {sql} AS {_ident(col)}" for col, sql in spec.derived.items())
    keys = ", ".join(_ident(k) for k in spec.key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE tbl AS
        SELECT {", ".join(_ident(c) for c in cols)} FROM (
            SELECT *{derived} FROM r WHERE _row NOT IN (SELECT _row FROM rej)
        )
        QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _row DESC) = 1
        """
    )


# --- loading ---------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _upsert(con: duckdb.DuckDBPyConnection, target: str, source: str, key: tuple[str, ...]) -> None:
    cols = ", ".join(_ident(c) for c in TABLES[target].schema.names)
    match = " AND ".join(f"t.{_ident(k)} = s.{_ident(k)}" for k in key)
    con.execute(f"DELETE FROM {target} t WHERE EXISTS (SELECT 1 FROM {source} s WHERE {match})")
    con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {source}")


def _load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    fmt: str,
    platform: str,
    mapping: MappedSource | None = None,
) -> FileResult:
    t0 = time.perf_counter()
    res = FileResult(rel, platform, fmt)
    table, res.encoding = mapping.read(path) if mapping else read_export(path)
    con.register("stg", table)
    res.rows_read = table.num_rows
    present = set(table.column_names)
    if fmt == "youzan_trades":
        _flatten_youzan(con)
        present = set(ORDER_SPECS[fmt].columns.values())
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM stg")
    table_spec = TABLE_SPECS.get(fmt)
    if fmt == "crm_members":
        _normalise_members(con, present, rel)
        key_table, key = "mem", "member_id"
    elif table_spec:
        _normalise_table(con, table_spec, present, rel)
        key_table, key = "tbl", "(" + ", ".join(_ident(k) for k in table_spec.key) + ")"
    else:
        spec = mapping.spec if mapping else ORDER_SPECS[fmt]
        _check_columns(spec, present, rel)
        _mapped_view(con, spec, present)
        _normalise_orders(con, spec, present, rel)
        key_table, key = ("o", "order_key") if spec.lines != "only" else ("l", "order_key")

    row = con.execute("SELECT count(DISTINCT _row) FROM rej").fetchone()
    res.rows_rejected = int(row[0]) if row else 0
    res.rows_loaded = res.rows_read - res.rows_rejected
    target = "members" if fmt == "crm_members" else "orders"
    if table_spec:
        target = table_spec.target
    row = con.execute(
        f"SELECT count(DISTINCT {key}) FROM {key_table} WHERE {key} NOT IN (SELECT {key} FROM {target})"
    ).fetchone()
    res.rows_new = int(row[0]) if row else 0

    con.execute("BEGIN TRANSACTION")
    try:
        if fmt == "crm_members":
            _upsert(con, "members", "mem", ("member_id",))
        elif table_spec:
            _upsert(con, table_spec.target, "tbl", table_spec.key)
        else:
            if spec.lines != "only":
                _upsert(con, "orders", "o", ("order_key",))
                con.execute(
                    "UPDATE orders SET refund_amount = orders.refund_amount + lr.refund, "
                    "net_amount = orders.net_amount - lr.refund, "
                    "status = CASE WHEN orders.refund_amount + lr.refund >= orders.paid_amount "
                    "THEN 'refunded' ELSE 'partially_refunded' END "
                    "FROM late_refunds lr WHERE orders.order_key = lr.order_key"
                )
            # The lines of every order in this file are replaced, so none linger.
            con.execute("DELETE FROM order_lines WHERE order_key IN (SELECT order_key FROM l)")
            con.execute("INSERT INTO order_lines SELECT * FROM l")
        if not table_spec:
            _upsert(con, "contacts", "c", ("source_key",))
        con.execute("DELETE FROM rejected_rows WHERE source_file = ?", [rel])
        con.execute(
            'INSERT INTO rejected_rows SELECT ?, _row, "column", reason, value FROM rej', [rel]
        )
        res.seconds = time.perf_counter() - t0
        _log(con, res, _sha256(path))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("stg")
    return res


def _log(con: duckdb.DuckDBPyConnection, res: FileResult, sha: str) -> None:
    con.execute(
        "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            res.file,
            sha,
            res.platform,
            res.format,
            res.encoding,
            res.rows_read,
            res.rows_loaded,
            res.rows_rejected,
            res.rows_new,
            res.status,
            res.message,
            datetime.now(),
            res.seconds,
        ],
    )


Job = tuple[Path, str, str, str, MappedSource | None]  # path, rel, format, platform, mapping


def _load_all(
    settings: Settings, jobs: list[Job], skipped: list[FileResult], progress: bool
) -> IngestResult:
    """Load each file in its own transaction, then resolve the accounts into persons."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse), config=duckdb_config(settings))
    try:
        ensure_tables(con)
        register_functions(con, settings.salt, DATETIME_FORMATS)
        result = IngestResult()
        for path, rel, fmt, platform, mapping in tqdm(
            jobs, desc="ingest", unit="file", disable=not progress
        ):
            try:
                res = _load_file(con, path, rel, fmt, platform, mapping)
            except ValueError as exc:
                res = FileResult(rel, platform, fmt, status="refused", message=str(exc))
                _log(con, res, _sha256(path))
                log.error("refused %s: %s", rel, exc)
            result.files.append(res)
        result.files += skipped
        import ibis

        from workbench.unify.identity import resolve_identities

        result.identity = resolve_identities(
            ibis.duckdb.from_connection(con),
            threshold=settings.link_threshold,
            config=duckdb_config(settings),
        )
        return result
    finally:
        con.close()


def ingest_mapped(
    mapping_file: str | Path, settings: Settings | None = None, progress: bool = True
) -> IngestResult:
    """Load the order table(s) a mapping file describes (see ``sources.mapping``).

    Example:
        >>> ingest_mapped("data/mappings/cdnow.toml")  # doctest: +SKIP
    """
    settings = settings or load_settings()
    m = MappedSource.read_toml(mapping_file, settings.root)
    jobs: list[Job] = [(p, f"{m.name}/{p.name}", m.name, m.platform, m) for p in m.files]
    return _load_all(settings, jobs, [], progress)


def plan_files(raw_dir: Path) -> list[tuple[Path, str, str]]:
    """(path, format, platform) of every file, in load order; unknown formats last."""
    out = []
    for p in sorted(x for x in raw_dir.rglob("*") if x.is_file()):
        if any(part.startswith(".") for part in p.relative_to(raw_dir).parts):
            continue
        try:
            sig = match_header(header_of(p)[0])
        except (ValueError, OSError):
            sig = None
        fmt = sig.format if sig else "unknown"
        out.append((p, fmt, sig.platform if sig else "unknown"))
    rank = {f: i for i, f in enumerate(LOAD_ORDER)}
    return sorted(out, key=lambda t: (rank.get(t[1], len(rank)), str(t[0])))


def ingest(
    raw_dir: str | Path | None = None,
    settings: Settings | None = None,
    progress: bool = True,
) -> IngestResult:
    """Load every export under ``raw_dir`` into the warehouse.

    Parameters:
        raw_dir: directory of exports as downloaded; ``<data_dir>/raw`` by default.
        settings: warehouse location and the salt used to hash phones and names.
        progress: show a progress bar over files.

    Returns:
        Per file: rows read, loaded, rejected and new, or why the file was refused
        (a missing required column, an unreadable encoding) or skipped (a header
        that matches no known format: listed, not loaded).

    Example:
        >>> result = ingest("data/raw")  # doctest: +SKIP
        >>> result.summary()[["file", "rows_read", "rows_loaded", "rows_rejected"]]  # doctest: +SKIP
    """
    settings = settings or load_settings()
    root = Path(raw_dir) if raw_dir else settings.raw_dir
    if not root.is_dir():
        raise FileNotFoundError(
            f"raw directory {root} does not exist; run `workbench synth` first or name your export folder"
        )
    jobs: list[Job] = []
    skipped: list[FileResult] = []
    for path, fmt, platform in plan_files(root):
        rel = path.relative_to(root).as_posix()
        if fmt in ORDER_SPECS or fmt in TABLE_SPECS or fmt == "crm_members":
            jobs.append((path, rel, fmt, platform, None))
        else:
            why = (
                "format not recognised from the header"
                if fmt == "unknown"
                else "no loader for this format"
            )
            skipped.append(FileResult(rel, platform, fmt, status="skipped", message=why))
    return _load_all(settings, jobs, skipped, progress)
