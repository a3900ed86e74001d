"""One declarative mapping per platform export: its columns, and the few rules it needs.

A mapping names, for each unified field, the column the platform writes.
Fields marked order-level repeat on every line of an order; the others are
per line and summed. Status rules are read in order: the first that matches
gives the unified status (``paid`` when none does). Everything else
(amount and date parsing, id qualification, hashing, rejection) is shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Date formats met in the exports, tried in order (DuckDB strptime syntax).
DATETIME_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",  # an Excel time with a fraction of a second, as fastexcel writes it
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日",
)

ORDER_FIELDS = (
    "order_id",
    "account_id",
    "ordered_at",
    "paid_at",
    "status",
    "aftersale",
    "goods_amount",
    "discount_amount",
    "paid_amount",
    "refund_amount",
    "phone",
    "phone_masked",
    "name",
    "address",
    "province",
    "city",
    "district",
    "member_id",
    "unionid",
    "store_code",
    "traffic_source",
)


@dataclass(frozen=True)
class OrderSpec:
    """How one platform's order export maps to ``orders``, ``order_lines`` and ``contacts``.

    Attributes:
        format: the format id recognised from the header (see ``detect.SIGNATURES``).
        platform: platform code; order ids are qualified with it.
        columns: unified field -> the platform's column name.
        required: fields whose column must be in the file (else the file is refused).
        order_level: fields repeated on every line of an order (taken once per order).
        status_rules: (field, raw value, unified status), first match wins.
        lines: ``"rows"`` when each row is a line, ``"none"`` when lines come from
            another file, ``"only"`` for a file of lines of orders loaded elsewhere.
        refund_rows: (field, value, original-order field): such rows are refunds of
            an earlier order, netted into it rather than loaded as orders.
        void: (field, value) marking a voided (cancelled) ticket.
        id_pattern: the shape of the platform's order ids (a regular expression the
            whole id must match, once cleaned of ``="..."`` and tabs); an id of
            another shape is damaged and its row is rejected. ``None``: any id.
        explode: for nested exports (JSON), the list column holding the lines;
            ``paths`` then gives each flat column's dotted path (see
            :func:`workbench.sources.stage.flatten`).
    """

    format: str
    platform: str
    columns: dict[str, str]
    required: tuple[str, ...] = ("order_id", "ordered_at", "paid_amount")
    order_level: frozenset[str] = frozenset(ORDER_FIELDS)
    status_rules: tuple[tuple[str, str, str], ...] = ()
    lines: str = "rows"
    refund_rows: tuple[str, str, str] | None = None
    void: tuple[str, str] | None = None
    id_pattern: str | None = None
    explode: str | None = None
    paths: dict[str, str] = field(default_factory=dict)
    notes: str = ""

    @property
    def personal(self) -> frozenset[str]:
        """Columns holding personal data: their values are never copied into the warehouse."""
        return frozenset(self.columns[f] for f in PERSONAL_FIELDS if f in self.columns)


PERSONAL_FIELDS = ("phone", "phone_masked", "name", "address", "province", "city", "district")
"""Unified fields that identify a person; hashed or reduced at ingestion, never quoted."""


TAOBAO_ID = r"[0-9]{15,20}"
YOUZAN_ID = r"E[0-9]{18,26}"

TMALL_ORDERS = OrderSpec(
    "tmall_orders",
    "tmall",
    {
        "order_id": "订单编号",
        "account_id": "买家会员名",
        "ordered_at": "订单创建时间",
        "paid_at": "订单付款时间",
        "status": "订单状态",
        "aftersale": "订单关闭原因",
        "goods_amount": "买家应付货款",
        "discount_amount": "店铺优惠",
        "paid_amount": "买家实际支付金额",
        "refund_amount": "退款金额",
        "phone_masked": "联系手机",
        "name": "收货人姓名",
        "address": "收货地址",
    },
    status_rules=(("aftersale", "退款", "refunded"), ("status", "交易关闭", "cancelled")),
    lines="none",
    id_pattern=TAOBAO_ID,
    notes='Order report; lines come from the item report (宝贝报表). Ids written as ="...".',
)

TMALL_ITEMS = OrderSpec(
    "tmall_items",
    "tmall",
    {
        "order_id": "订单编号",
        "title": "标题",
        "unit_price": "价格",
        "quantity": "购买数量",
        "sku": "商家编码",
    },
    required=("order_id", "quantity", "unit_price"),
    order_level=frozenset({"order_id"}),
    lines="only",
    id_pattern=TAOBAO_ID,
)

JD_ORDERS = OrderSpec(
    "jd_orders",
    "jd",
    {
        "order_id": "订单号",
        "account_id": "下单帐号",
        "ordered_at": "下单时间",
        "paid_at": "付款确认时间",
        "status": "订单状态",
        "goods_amount": "订单金额",
        "discount_amount": "优惠金额",
        "paid_amount": "应付金额",
        "refund_amount": "退款金额",
        "phone_masked": "联系电话",
        "name": "客户姓名",
        "address": "客户地址",
        "sku": "商家SKU",
        "title": "商品名称",
        "quantity": "订购数量",
        "unit_price": "京东价",
    },
    status_rules=(("status", "退款成功", "refunded"), ("status", "已取消", "cancelled")),
    id_pattern=r"[0-9]{8,15}",
    notes="xlsx; dates may arrive as Excel serial numbers.",
)

PDD_ORDERS = OrderSpec(
    "pdd_orders",
    "pdd",
    {
        "order_id": "订单号",
        "ordered_at": "成交时间",
        "status": "订单状态",
        "aftersale": "售后状态",
        "discount_amount": "店铺优惠折扣(元)",
        "paid_amount": "用户实付金额(元)",
        "refund_amount": "退款金额(元)",
        "phone_masked": "手机",
        "name": "收货人",
        "province": "省",
        "city": "市",
        "district": "区",
        "address": "街道",
        "sku": "商家编码-SKU维度",
        "title": "商品",
        "quantity": "商品数量(件)",
        "line_amount": "商品总价(元)",
    },
    status_rules=(("aftersale", "退款成功", "refunded"), ("status", "已取消", "cancelled")),
    id_pattern=r"[0-9]{6}-[0-9]{10,18}",
    notes="No buyer id: the account is the receiver's masked phone, name and address.",
)

YOUZAN_ORDERS = OrderSpec(
    "youzan_orders",
    "youzan",
    {
        "order_id": "订单号",
        "ordered_at": "订单创建时间",
        "paid_at": "买家付款时间",
        "status": "订单状态",
        "discount_amount": "优惠金额",
        "paid_amount": "订单实付金额",
        "refund_amount": "退款金额",
        "phone": "买家手机号",
        "name": "收货人/提货人",
        "address": "详细收货地址/提货地址",
        "sku": "商品编码",
        "title": "商品名称",
        "quantity": "商品数量",
        "unit_price": "商品单价",
        "line_amount": "商品实际成交金额",
    },
    status_rules=(("status", "交易关闭", "cancelled"),),
    id_pattern=YOUZAN_ID,
    notes="Admin export (UTF-8 with BOM); the buyer's full phone is the account.",
)

YOUZAN_TRADES = OrderSpec(
    "youzan_trades",
    "youzan",
    {
        "order_id": "tid",
        "account_id": "yz_open_id",
        "ordered_at": "created",
        "paid_at": "pay_time",
        "status": "status",
        "aftersale": "refund_state",
        "goods_amount": "total_fee",
        "discount_amount": "discount_fee",
        "paid_amount": "payment",
        "refund_amount": "refund_fee",
        "phone": "buyer_phone",
        "unionid": "union_id",
        "name": "receiver_name",
        "province": "delivery_province",
        "city": "delivery_city",
        "district": "delivery_district",
        "address": "delivery_address",
        "sku": "outer_sku_id",
        "title": "title",
        "quantity": "num",
        "unit_price": "price",
        "line_amount": "item_payment",
    },
    status_rules=(
        ("aftersale", "FULL_REFUNDED", "refunded"),
        ("status", "TRADE_CLOSED", "cancelled"),
    ),
    id_pattern=YOUZAN_ID,
    explode="orders",
    paths={
        **{c: c for c in ("tid", "created", "pay_time", "status", "refund_state")},
        **{c: c for c in ("total_fee", "discount_fee", "payment", "refund_fee")},
        **{c: f"buyer_info.{c}" for c in ("buyer_phone", "union_id", "yz_open_id")},
        **{
            c: f"address_info.{c}"
            for c in (
                "receiver_name",
                "delivery_province",
                "delivery_city",
                "delivery_district",
                "delivery_address",
            )
        },
        **{c: f"orders.{c}" for c in ("outer_sku_id", "title", "num", "price")},
        "item_payment": "orders.payment",
    },
    notes="Open-API JSON lines, one trade per line with nested buyer, address and items.",
)

DOUYIN_ORDERS = OrderSpec(
    "douyin_orders",
    "douyin",
    {
        "order_id": "主订单编号",
        "ordered_at": "订单提交时间",
        "paid_at": "支付完成时间",
        "status": "订单状态",
        "aftersale": "售后状态",
        "discount_amount": "商家优惠",
        "paid_amount": "订单实付金额",
        "refund_amount": "退款金额",
        "phone_masked": "收件人手机号",
        "name": "收件人",
        "province": "省",
        "city": "市",
        "district": "区",
        "address": "详细地址",
        "traffic_source": "流量来源",
        "sku": "商家编码",
        "title": "选购商品",
        "quantity": "商品数量",
        "unit_price": "商品单价",
        "line_amount": "订单应付金额",
    },
    status_rules=(("aftersale", "退款成功", "refunded"), ("status", "已关闭", "cancelled")),
    id_pattern=r"[0-9]{16,20}",
    notes="One row per sub-order; ids padded with a tab.",
)

POS_SALES = OrderSpec(
    "pos_sales",
    "pos",
    {
        "order_id": "小票号",
        "account_id": "会员卡号",
        "ordered_at": "交易时间",
        "status": "交易类型",
        "member_id": "会员卡号",
        "phone": "会员手机号",
        "store_code": "门店编码",
        "sku": "商品编码",
        "title": "商品名称",
        "quantity": "数量",
        "unit_price": "单价",
        "line_amount": "实收金额",
        "original_order": "原小票号",
    },
    required=("order_id", "ordered_at", "line_amount"),
    order_level=frozenset(ORDER_FIELDS) - {"paid_amount"},
    void=("status", "作废"),
    refund_rows=("status", "退货", "original_order"),
    # Store code, date and serial (SH0012024111100000063, R-suffixed for a 退货 ticket):
    # letters and digits only, so a date typed into one (HZ0012024-13-4500001475) is damaged.
    id_pattern=r"[A-Za-z0-9]{1,40}",
    notes="Till lines; refunds are 退货 tickets pointing at the original; amounts like ￥1,234.00.",
)

ORDER_SPECS: dict[str, OrderSpec] = {
    s.format: s
    for s in (
        TMALL_ORDERS,
        TMALL_ITEMS,
        JD_ORDERS,
        PDD_ORDERS,
        YOUZAN_ORDERS,
        YOUZAN_TRADES,
        DOUYIN_ORDERS,
        POS_SALES,
    )
}

# Order reports load before item reports, so items can be checked against their orders.
LOAD_ORDER: tuple[str, ...] = (
    "crm_members",
    "tmall_orders",
    "tmall_items",
    "jd_orders",
    "pdd_orders",
    "youzan_orders",
    "youzan_trades",
    "douyin_orders",
    "pos_sales",
    "products",
    "campaigns",
    "campaign_audience",
    "touches",
    "coupons",
)
