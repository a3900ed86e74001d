"""Exports that are not orders: the member CRM, the product master and campaign records.

Each :class:`TableSpec` maps one export format onto one warehouse table as
data: which header feeds which column, how the text is read (``Kind``), which
columns must be present and filled, rules a value must meet, and a few
derived columns. One loader (``workbench.unify.normalise``) runs them all:

- a required column missing from the header refuses the file;
- a required value missing or unreadable, or a value a ``reject`` rule
  catches, sends the row to ``rejected_rows`` with the column and the value;
- an optional value that cannot be read, or that a ``flag`` rule catches, is
  recorded in ``flagged_values`` and its row kept: the stored value of that
  column stays, or it is loaded as empty when the row is new;
- every id column has a shape (:func:`shaped`) and every column of a key a
  shape or a closed list of values, so a damaged id or a payload in a key is
  rejected instead of making a new record.

Values of ``personal`` columns are never copied into either table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from workbench.sources.specs import ORDER_SPECS

Kind = Literal["text", "date", "timestamp", "number", "int", "flag", "platform"]

PLATFORM_NAMES: dict[str, str] = {
    "天猫": "tmall",
    "淘宝": "tmall",
    "京东": "jd",
    "拼多多": "pdd",
    "有赞": "youzan",
    "微商城": "youzan",
    "抖店": "douyin",
    "抖音": "douyin",
    "门店": "pos",
}
"""Platform names as the campaign tools write them, to the workbench's codes."""

FLAG_TRUE = ("是", "Y", "y", "1", "true", "TRUE", "True")
FLAG_FALSE = ("否", "N", "n", "0", "false", "FALSE", "False")


@dataclass(frozen=True)
class Rule:
    """A check on a value beyond being readable.

    Attributes:
        column: the warehouse column checked (its export header is what rows name).
        bad: SQL over the read columns, true when the value breaks the rule.
        reason: what is wrong, as ``rejected_rows`` or ``flagged_values`` says it.
        action: ``reject`` the row, or ``flag`` the value and load it as empty.
    """

    column: str
    bad: str
    reason: str
    action: Literal["reject", "flag"] = "reject"


@dataclass(frozen=True)
class TableSpec:
    """One export format mapped onto one warehouse table.

    Attributes:
        format: the format name :mod:`workbench.sources.detect` gives the file.
        target: the warehouse table (in :data:`workbench.schema.TABLES`).
        key: columns that identify a row; re-ingesting replaces rows with the same key.
        columns: warehouse column -> (export header, how to read it).
        required: columns that must be in the header and filled in every row.
        derived: warehouse column -> SQL over the read columns (after flagged
            values are emptied).
        rules: checks beyond readability (:class:`Rule`).
        personal: columns holding personal data (values never copied out).
        contacts: the rows also carry identity evidence (``contacts``), as member
            records do.
    """

    format: str
    target: str
    key: tuple[str, ...]
    columns: dict[str, tuple[str, Kind]]
    required: tuple[str, ...]
    derived: dict[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    personal: frozenset[str] = frozenset()
    contacts: bool = False


def shaped(column: str, pattern: str, what: str, shape: str) -> Rule:
    """A rule rejecting a value of ``column`` that is not the shape of its ids.

    Parameters:
        column: the warehouse column.
        pattern: a regular expression the whole value must match.
        what: the id's name in a reason, e.g. ``member id``.
        shape: the shape in words, e.g. ``letters and digits``.

    Example:
        >>> shaped("coupon_id", "[A-Za-z0-9]{1,40}", "coupon id", "letters and digits").reason
        'damaged coupon id (not the shape of a coupon id: letters and digits)'
    """
    return Rule(
        column,
        f"NOT regexp_full_match({column}, '{pattern}')",
        f"damaged {what} (not the shape of a {what}: {shape})",
    )


CODE = r"[A-Za-z0-9]{1,40}"
"""Member ids, coupon ids: letters and digits only (``M000126722``, ``CP6182024000471279``)."""
CODE_WORDS = "letters and digits"
NAMED_CODE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}"
"""Campaign ids: letters and digits, joined by ``-`` or ``_`` (``CMP-618-2024``)."""
NAMED_CODE_WORDS = "letters and digits joined by - or _"
SKU = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
"""Product codes: letters and digits, joined by ``-``, ``_`` or ``.`` (``QX-LD-3000``)."""

MEMBER_ID = shaped("member_id", CODE, "member id", CODE_WORDS)
CAMPAIGN_ID = shaped("campaign_id", NAMED_CODE, "campaign id", NAMED_CODE_WORDS)

TOUCH_CHANNELS = ("短信", "彩信", "微信", "企业微信", "APP推送", "横幅", "H5", "邮件", "外呼")
"""The channels a touch is sent through, as the campaign tool writes them: a closed list."""

MEMBER_TIERS = ("普通", "高级", "VIP", "至尊VIP")

CRM_MEMBERS = TableSpec(
    "crm_members",
    "members",
    ("member_id",),
    {
        "member_id": ("会员编号", "text"),
        "phone": ("手机号", "text"),
        "name": ("姓名", "text"),
        "gender": ("性别", "text"),
        "birthday": ("生日", "date"),
        "tier": ("会员等级", "text"),
        "joined_at": ("入会时间", "date"),
        "points": ("积分", "int"),
        "unionid": ("微信unionid", "text"),
        "register_channel": ("注册渠道", "text"),
        "tmall_nick": ("淘宝昵称", "text"),
        "jd_pin": ("京东PIN", "text"),
        "province": ("省份", "text"),
        "city": ("城市", "text"),
    },
    required=("member_id", "tier", "joined_at"),
    rules=(
        MEMBER_ID,
        Rule(
            "tier",
            "tier NOT IN (" + ", ".join(f"'{t}'" for t in MEMBER_TIERS) + ")",
            "unknown member tier",
        ),
        Rule("phone", "wb_phone(phone) IS NULL", "not a mainland mobile number", "flag"),
    ),
    derived={
        "phone_hash": "wb_phone(phone)",
        "phone_masked": "wb_mask_full(phone)",
        "birth_year": "year(birthday)",
        "tmall_account": "'tmall:' || tmall_nick",
        "jd_account": "'jd:' || jd_pin",
    },
    personal=frozenset({"phone", "name", "birthday"}),
    contacts=True,
)


PRODUCTS = TableSpec(
    "products",
    "products",
    ("sku",),
    {
        "sku": ("商品编码", "text"),
        "name": ("商品名称", "text"),
        "brand": ("品牌", "text"),
        "category": ("品类", "text"),
        "uses_per_unit": ("每件可用次数", "number"),
        "daily_uses": ("建议日用量(次/天)", "number"),
        "list_price": ("标价", "number"),
    },
    required=("sku", "brand", "category"),
    rules=(shaped("sku", SKU, "product code", "letters and digits joined by -, _ or ."),),
)

CAMPAIGNS = TableSpec(
    "campaigns",
    "campaigns",
    ("campaign_id",),
    {
        "campaign_id": ("活动编号", "text"),
        "name": ("活动名称", "text"),
        "festival": ("大促", "text"),
        "year": ("年份", "int"),
        "warmup_start": ("蓄水期开始", "date"),
        "warmup_end": ("蓄水期结束", "date"),
        "burst_start": ("爆发期开始", "date"),
        "burst_end": ("爆发期结束", "date"),
        "return_start": ("返场期开始", "date"),
        "return_end": ("返场期结束", "date"),
        "tail_start": ("收尾期开始", "date"),
        "tail_end": ("收尾期结束", "date"),
    },
    required=("campaign_id", "warmup_start", "tail_end"),
    rules=(CAMPAIGN_ID,),
)

CAMPAIGN_AUDIENCE = TableSpec(
    "campaign_audience",
    "campaign_audience",
    ("campaign_id", "member_id"),
    {
        "campaign_id": ("活动编号", "text"),
        "member_id": ("会员编号", "text"),
        "group_name": ("分组", "text"),
        "benefit": ("权益方案", "text"),
    },
    required=("campaign_id", "member_id", "group_name"),
    rules=(CAMPAIGN_ID, MEMBER_ID),
    derived={"holdout": "group_name IN ('对照组', 'holdout', 'control')"},
)

TOUCHES = TableSpec(
    "touches",
    "touches",
    ("campaign_id", "member_id", "channel", "sent_at"),
    {
        "campaign_id": ("活动编号", "text"),
        "member_id": ("会员编号", "text"),
        "channel": ("触达渠道", "text"),
        "sent_at": ("发送时间", "timestamp"),
        "delivered": ("是否送达", "flag"),
        "clicked_at": ("点击时间", "timestamp"),
        "visited": ("是否访问", "flag"),
    },
    required=("campaign_id", "member_id", "channel", "sent_at"),
    rules=(
        CAMPAIGN_ID,
        MEMBER_ID,
        Rule(
            "channel",
            "channel NOT IN (" + ", ".join(f"'{c}'" for c in TOUCH_CHANNELS) + ")",
            "unknown touch channel (known: " + ", ".join(TOUCH_CHANNELS) + ")",
        ),
    ),
)

COUPONS = TableSpec(
    "coupons",
    "coupons",
    ("coupon_id",),
    {
        "coupon_id": ("券编号", "text"),
        "campaign_id": ("活动编号", "text"),
        "member_id": ("会员编号", "text"),
        "coupon_type": ("券类型", "text"),
        "threshold": ("门槛", "number"),
        "face_value": ("面额", "number"),
        "issued_at": ("发放时间", "timestamp"),
        "claimed_at": ("领取时间", "timestamp"),
        "used_at": ("使用时间", "timestamp"),
        "used_platform": ("使用平台", "platform"),
        "used_order_id": ("使用订单号", "text"),
    },
    required=("coupon_id", "campaign_id", "member_id", "face_value"),
    rules=(
        shaped("coupon_id", CODE, "coupon id", CODE_WORDS),
        CAMPAIGN_ID,
        MEMBER_ID,
        Rule(
            "used_order_id",
            "NOT regexp_full_match(used_order_id, CASE used_platform "
            + " ".join(
                f"WHEN '{platform}' THEN '{pattern}'"
                for platform, pattern in {
                    s.platform: s.id_pattern for s in ORDER_SPECS.values() if s.id_pattern
                }.items()
            )
            + " ELSE '.+' END)",
            "not an order id of the platform used",
            "flag",
        ),
    ),
    derived={"used_order_key": "used_platform || ':' || used_order_id"},
)

TABLE_SPECS: dict[str, TableSpec] = {
    s.format: s for s in (CRM_MEMBERS, PRODUCTS, CAMPAIGNS, CAMPAIGN_AUDIENCE, TOUCHES, COUPONS)
}
