"""Reference exports that are not orders: product master and campaign records.

Each :class:`TableSpec` maps one export format onto one warehouse table as
data: which header feeds which column, how the text is read (``Kind``), which
columns must be present and filled, and a few derived columns. One loader
(``workbench.unify.load``) runs them all: a value that cannot be read sends
its row to ``rejected_rows`` with the column and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
class TableSpec:
    """One export format mapped onto one warehouse table.

    Attributes:
        format: the format name :mod:`workbench.sources.detect` gives the file.
        target: the warehouse table (in :data:`workbench.schema.TABLES`).
        key: columns that identify a row; re-ingesting replaces rows with the same key.
        columns: warehouse column -> (export header, how to read it).
        required: columns that must be in the header and filled in every row.
        derived: warehouse column -> SQL over the read columns.
    """

    format: str
    target: str
    key: tuple[str, ...]
    columns: dict[str, tuple[str, Kind]]
    required: tuple[str, ...]
    derived: dict[str, str] = field(default_factory=dict)


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
    derived={"used_order_key": "used_platform || ':' || used_order_id"},
)

TABLE_SPECS: dict[str, TableSpec] = {
    s.format: s for s in (PRODUCTS, CAMPAIGNS, CAMPAIGN_AUDIENCE, TOUCHES, COUPONS)
}
