"""The unified warehouse tables: names, columns, types and keys.

Every platform export is mapped into these. Person-level tables key on
``person_id``; platform ids are qualified by platform (``tmall:2000...``) so
ids from different platforms never collide. No raw phone number, name or
address is stored: phones are HMAC-hashed, masked phones keep only their
first three and last four digits, names and addresses become hashed tokens.

Money is stored exactly, as ``DECIMAL(18,2)`` (:data:`MONEY`; a unit price to four
decimals, :data:`PRICE`): read from the export's text as a decimal, never through
a float, so a sum of amounts is the exact sum in any engine and any order.
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


MONEY = dt.Decimal(18, 2)
"""Money, exact to the fen (cent): sums of it are exact, whatever their order."""

PRICE = dt.Decimal(18, 4)
"""A unit price, which may come from dividing a line amount by its quantity."""


def _t(name: str, key: tuple[str, ...], doc: str, /, **cols: str | dt.DataType) -> Table:
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
    goods_amount=MONEY,  # before discounts
    discount_amount=MONEY,
    paid_amount=MONEY,
    refund_amount=MONEY,
    net_amount=MONEY,  # paid - refunded
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
    unit_price=PRICE,
    line_amount=MONEY,
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
    key_group="string",  # the accounts strong keys alone join (before weak-evidence links)
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
    net_amount=MONEY,
    first_order_at="timestamp",
    last_order_at="timestamp",
)

ACCOUNT_LINKS = _t(
    "account_links",
    ("account_key_l", "account_key_r"),
    "Pairs of accounts that share only weak evidence, scored by the probabilistic "
    "linker (every pair above the floor kept in ``identity_runs``).",
    account_key_l="string",
    account_key_r="string",
    match_probability="float64",
    match_weight="float64",
    held_apart="boolean",  # the two sides already carry different full phones
)

LINK_WEIGHTS = _t(
    "link_weights",
    ("comparison", "level"),
    "The trained linking model: m and u per comparison level, and the prior.",
    comparison="string",
    level="string",
    m="float64",
    u="float64",
    match_weight="float64",
)

IDENTITY_RUNS = _t(
    "identity_runs",
    ("resolved_at",),
    "Each identity resolution: threshold, floor of kept pairs and the counts it gave.",
    resolved_at="timestamp",
    threshold="float64",
    floor="float64",
    accounts="int64",
    persons="int64",
    deterministic="int64",
    probabilistic="int64",
    unlinked="int64",
    pairs_scored="int64",
    pairs_held_apart="int64",
    seconds="float64",
    note="string",  # why no probabilistic linking ran, if it did not
)

PERSON_IDS = _t(
    "person_ids",
    ("person_id",),
    "Every person id ever issued, never issued again: the resolution that issued it, the "
    "person id it leads to now (itself while it names a person; the id it was merged into, "
    "chains followed; NULL when none of its accounts remain) and when the person it leads "
    "to was last split (``workbench.unify.person_ids``).",
    person_id="string",
    issued_run="int64",  # the resolution that issued it: 1 = the first, 0 = before registering
    current_id="string",
    split_at="timestamp",  # resolved_at of the latest split of the person it leads to
)

PERSON_ID_CHANGES = _t(
    "person_id_changes",
    ("old_id", "new_id", "resolved_at"),
    "How person ids changed at each identity resolution: ``merged`` (the old id's person "
    "joined an older one, whose id it takes) or ``split`` (some of the old id's accounts "
    "now belong to another person; the old id stays with the part holding most of them).",
    old_id="string",
    new_id="string",
    reason="string",  # merged | split
    accounts="int64",  # the old id's accounts that went to new_id's person
    resolved_at="timestamp",  # the identity resolution, as in identity_runs
)

PRODUCTS = _t(
    "products",
    ("sku",),
    "The product master: brand, category, and how long a unit lasts (for the repurchase cycle).",
    sku="string",
    name="string",
    brand="string",
    category="string",
    uses_per_unit="float64",
    daily_uses="float64",
    list_price=MONEY,
)

CAMPAIGNS = _t(
    "campaigns",
    ("campaign_id",),
    "Member campaigns with the dates of their four phases (蓄水, 爆发, 返场, 收尾).",
    campaign_id="string",
    name="string",
    festival="string",
    year="int64",
    warmup_start="date",
    warmup_end="date",
    burst_start="date",
    burst_end="date",
    return_start="date",
    return_end="date",
    tail_start="date",
    tail_end="date",
)

CAMPAIGN_AUDIENCE = _t(
    "campaign_audience",
    ("campaign_id", "member_id"),
    "Who each campaign targeted, in which group (treated or holdout) and with which benefit.",
    campaign_id="string",
    member_id="string",
    group_name="string",
    benefit="string",
    holdout="boolean",
)

TOUCHES = _t(
    "touches",
    ("campaign_id", "member_id", "channel", "sent_at"),
    "Campaign messages sent (SMS, WeChat, app push): delivered, clicked, visited.",
    campaign_id="string",
    member_id="string",
    channel="string",
    sent_at="timestamp",
    delivered="boolean",
    clicked_at="timestamp",
    visited="boolean",
)

COUPONS = _t(
    "coupons",
    ("coupon_id",),
    "Coupons issued to members, claimed and used; a used coupon names the order it paid for.",
    coupon_id="string",
    campaign_id="string",
    member_id="string",
    coupon_type="string",
    threshold=MONEY,
    face_value=MONEY,
    issued_at="timestamp",
    claimed_at="timestamp",
    used_at="timestamp",
    used_platform="string",
    used_order_id="string",
    used_order_key="string",  # platform:order_id, as in orders.order_key
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

FLAGGED_VALUES = _t(
    "flagged_values",
    ("source_file", "row_number", "column"),
    "Values of loaded rows that could not be read (an optional column) or break a rule: "
    "loaded as empty, recorded here. The value is left out when the column holds personal data.",
    source_file="string",
    row_number="int64",
    column="string",
    reason="string",
    value="string",
)

REFUNDS = _t(
    "refunds",
    ("refund_key",),
    "Refund tickets (a store's 退货 tickets), each under its own key, netted into the "
    "refund of the order it returns, so a ticket counts once however often it arrives.",
    refund_key="string",  # platform:ticket id
    order_key="string",  # the order refunded
    amount=MONEY,
    refunded_at="timestamp",
    source_file="string",
)

WAREHOUSE_META = _t(
    "warehouse_meta",
    ("key",),
    "Facts about the warehouse itself: ``salt_fingerprint`` (a hash of the salt its "
    "personal data was hashed with, never the salt), ``state`` (``complete`` once an "
    "ingestion has resolved identities, ``loading`` while one runs or after one stopped), "
    "``currency`` (the ISO code of every amount it holds: CNY, or a mapping file's).",
    key="string",
    value="string",
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
    status="string",  # loaded | refused | skipped
    message="string",  # why a file was refused or skipped; never a row's content
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
        PRODUCTS,
        CAMPAIGNS,
        CAMPAIGN_AUDIENCE,
        TOUCHES,
        COUPONS,
        ACCOUNT_LINKS,
        LINK_WEIGHTS,
        IDENTITY_RUNS,
        PERSON_IDS,
        PERSON_ID_CHANGES,
        REFUNDS,
        REJECTED_ROWS,
        FLAGGED_VALUES,
        INGEST_LOG,
        WAREHOUSE_META,
    )
}


SEGMENTS = _t(
    "segments",
    ("person_id", "as_of"),
    "Job 2's output: every person of the pool at an as-of date, in every segment; "
    "several snapshots side by side (``workbench.segment.write``).",
    person_id="string",
    as_of="date",
    is_member="boolean",
    member_tier="string",  # highest tier of the person's member records
    purchases="int64",  # purchase days of our brand up to as_of
    orders="int64",
    net_amount=MONEY,
    aov="float64",  # net amount per order
    last_day="date",
    recency_days="int64",
    rc_days="float64",  # the person's repurchase cycle
    rc_category="string",  # the category whose RC applies (NULL: the overall RC)
    r_rc="float64",  # recency in RC units
    tier_l1="string",  # potential | active | sleeping | lost
    tier_l2="string",
    tier_l3="string",
    tier_s2="string",  # the planning scheme
    r_score="int64",
    f_score="int64",
    m_score="int64",
    rfm_segment="string",
    quadrant="string",  # hf_hv | hf_lv | lf_hv | lf_lv
    promo_share="float64",
    discount_depth="float64",
    promo_sensitivity="string",
    propensity_7d="float64",
    cluster="int64",
)

SEGMENT_RUNS = _t(
    "segment_runs",
    ("as_of",),
    "One row per stored segment snapshot: the settings it was made with (JSON), the "
    "link threshold, whether the 7-day propensity and the clusters were made, and when.",
    as_of="date",
    settings="string",
    link_threshold="float64",
    propensity="boolean",
    clusters="boolean",
    written_at="timestamp",
)

PLANS = _t(
    "plans",
    ("name", "version"),
    "Job 3's saved plans: one row per name and version (saving under an existing name "
    "makes a new version), with the parameters, the levers and the strategy rows it "
    "was made with (JSON).",
    name="string",
    version="int64",
    created="timestamp",
    promotion="string",
    edition="string",  # the coming edition, 双11-2026
    as_of="date",
    target="float64",
    target_new="float64",
    baseline="float64",
    baseline_low="float64",
    baseline_high="float64",
    planned="float64",
    parameters="string",
    editions="string",  # the coming edition's phases and the past editions (JSON)
    levers="string",
    strategy="string",
)

PLAN_CELLS = _t(
    "plan_cells",
    ("plan", "version", "segment", "member_tier"),
    "The planning table of each saved plan: per segment x member tier cell, the baseline "
    "with its interval, the gap's share and the levers' plan.",
    plan="string",
    version="int64",
    segment="string",
    member_tier="string",
    new="boolean",
    population="int64",  # NULL for buyers from outside the pool
    rate="float64",
    aov="float64",
    buyers="float64",
    gmv="float64",
    gmv_low="float64",
    gmv_high="float64",
    gap="float64",
    planned_rate="float64",
    planned_aov="float64",
    planned_gmv="float64",
    measure="string",
    owner="string",
    note="string",
)

AUDIENCE_PACKS = _t(
    "audience_packs",
    ("plan", "version", "person_id", "phase"),
    "The persons of each saved plan's audience packs, per phase and target group, with "
    "their arm: ``control`` for the holdout, else the benefit arm (``treatment`` with one).",
    plan="string",
    version="int64",
    person_id="string",
    phase="string",
    group_name="string",
    segment="string",
    member_tier="string",
    arm="string",
)

REVIEW_EVIDENCE = _t(
    "review_evidence",
    ("review", "segment", "outcome", "arm"),
    "Job 4's evidence for the next plan: each review's lift of every arm over the control "
    "by segment and outcome, with its interval, the units behind it and whether it is "
    "significant after the correction.",
    review="string",  # the plan or campaign reviewed
    campaign_id="string",
    edition="string",
    segment="string",
    outcome="string",
    arm="string",
    n_arm="int64",
    n_control="int64",
    lift="float64",
    lift_low="float64",
    lift_high="float64",
    rel_lift="float64",
    p_adjusted="float64",
    significant="boolean",
    srm_broken="boolean",
    created="timestamp",
)
