"""The unified warehouse tables: names, columns, types and keys.

Every platform export is mapped into these. Person-level tables key on
``person_id``; platform ids are qualified by platform (``tmall:2000...``) so
ids from different platforms never collide. No raw phone number, name or
address is stored: phones are HMAC-hashed, masked phones keep only their
first three and last four digits, names and addresses become hashed tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
from ibis.expr.schema import Schema


@dataclass(frozen=True)
class Table:
    name: str
    schema: Schema
    key: tuple[str, ...]
    doc: str


def _t(name: str, key: tuple[str, ...], doc: str, **cols: str | dt.DataType) -> Table:
    return Table(name, ibis.schema(cols), key, doc)


ORDERS = _t(
    "orders",
    ("order_key",),
    "One row per platform order, refunds netted in; cancelled and test orders are rejected.",
    order_key="string",  # platform:order_id
    platform="string",
    order_id="string",
    account_key="string",  # platform:native account id, or platform:~contact hash
    ordered_at="timestamp",  # local time (Asia/Shanghai), as the platforms export it
    paid_at="timestamp",
    status="string",  # paid | refunded | partially_refunded
    goods_amount="float64",  # before discounts
    discount_amount="float64",
    paid_amount="float64",
    refund_amount="float64",
    net_amount="float64",  # paid - refunded
    items="int64",
    store_code="string",
    traffic_source="string",
    source_file="string",
)

ORDER_LINES = _t(
    "order_lines",
    ("order_key", "line_no"),
    "One row per order line (SKU); free gifts have amount 0.",
    order_key="string",
    line_no="int64",
    sku="string",
    title="string",
    quantity="int64",
    unit_price="float64",
    line_amount="float64",
)

CONTACTS = _t(
    "contacts",
    ("source_key",),
    "Identity evidence of each order and member record, without raw personal data.",
    source_key="string",  # the order_key, or crm:member_id for a member record
    account_key="string",
    platform="string",
    phone_hash="string",  # HMAC of a full phone number
    phone_masked="string",  # 138****1234: first three and last four digits only
    member_id="string",
    unionid="string",
    name_hash="string",  # HMAC of the name without spaces
    surname_hash="string",
    name_chars="array<string>",  # HMAC of each character, for fuzzy comparison
    province="string",
    city="string",
    district="string",
    address_hash="string",  # HMAC of the normalised street address
    address_tokens="array<string>",  # HMAC of street, number and compound tokens
    seen_at="timestamp",
)

MEMBERS = _t(
    "members",
    ("member_id",),
    "The member CRM: tier, join date, points and platform bindings.",
    member_id="string",
    phone_hash="string",
    unionid="string",
    gender="string",
    birth_year="int64",
    tier="string",
    joined_at="date",
    points="int64",
    register_channel="string",
    tmall_account="string",  # account_key bound through the Tmall membership link
    jd_account="string",
    province="string",
    city="string",
)

ACCOUNTS = _t(
    "accounts",
    ("account_key",),
    "Every platform account (and CRM member record) with the person it belongs to.",
    account_key="string",
    platform="string",
    person_id="string",
    link_method="string",  # deterministic | probabilistic | unlinked
    match_probability="float64",  # 1.0 for deterministic links
)

PERSONS = _t(
    "persons",
    ("person_id",),
    "One row per resolved person (OneID).",
    person_id="string",
    accounts="int64",
    platforms="int64",
    is_member="boolean",
    orders="int64",
    net_amount="float64",
    first_order_at="timestamp",
    last_order_at="timestamp",
)

REJECTED_ROWS = _t(
    "rejected_rows",
    ("source_file", "row_number", "reason"),
    "Rows not loaded, with the file, data row number (1 = first row after the header), "
    "column and reason. Personal fields are never copied here.",
    source_file="string",
    row_number="int64",
    column="string",
    reason="string",
    value="string",  # the offending value, unless the column holds personal data
)

INGEST_LOG = _t(
    "ingest_log",
    ("source_file", "file_sha256"),
    "Per file and ingestion: rows read = rows loaded + rows rejected.",
    source_file="string",
    file_sha256="string",
    platform="string",
    format="string",
    encoding="string",
    rows_read="int64",
    rows_loaded="int64",
    rows_rejected="int64",
    rows_new="int64",  # loaded orders (or members) whose key was not in the warehouse yet
    status="string",  # loaded | refused
    message="string",  # why a file was refused
    ingested_at="timestamp",
    seconds="float64",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        ORDERS,
        ORDER_LINES,
        CONTACTS,
        MEMBERS,
        ACCOUNTS,
        PERSONS,
        REJECTED_ROWS,
        INGEST_LOG,
    )
}
