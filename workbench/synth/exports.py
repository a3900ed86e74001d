"""Writers for each platform's export format, with the quirks the real exports have.

Every writer takes the orders and lines of one batch of persons (already joined
with the receiver details) and returns rows with the platform's own Chinese
column names. :class:`ExportSink` appends them to the platform's period files,
where consecutive exports overlap in time as real downloads do.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STATUS_TMALL = {
    "paid": "交易成功",
    "partially_refunded": "交易成功",
    "refunded": "交易关闭",
    "cancelled": "交易关闭",
}
STATUS_JD = {
    "paid": "完成",
    "partially_refunded": "完成",
    "refunded": "退款成功",
    "cancelled": "已取消",
}
STATUS_PDD = {
    "paid": "已收货",
    "partially_refunded": "已收货",
    "refunded": "已收货",
    "cancelled": "已取消",
}
AFTERSALE_PDD = {
    "paid": "无售后或售后取消",
    "partially_refunded": "部分退款成功",
    "refunded": "退款成功",
    "cancelled": "无售后或售后取消",
}
STATUS_YOUZAN_CSV = {
    "paid": "交易成功",
    "partially_refunded": "交易成功",
    "refunded": "交易关闭",
    "cancelled": "交易关闭",
}
STATUS_YOUZAN_API = {
    "paid": "TRADE_SUCCESS",
    "partially_refunded": "TRADE_SUCCESS",
    "refunded": "TRADE_CLOSED",
    "cancelled": "TRADE_CLOSED",
}
REFUND_YOUZAN_API = {
    "paid": "NO_REFUND",
    "partially_refunded": "PARTIAL_REFUNDED",
    "refunded": "FULL_REFUNDED",
    "cancelled": "NO_REFUND",
}
STATUS_DOUYIN = {
    "paid": "已完成",
    "partially_refunded": "已完成",
    "refunded": "已关闭",
    "cancelled": "已关闭",
}
AFTERSALE_DOUYIN = {
    "paid": "",
    "partially_refunded": "部分退款",
    "refunded": "退款成功",
    "cancelled": "",
}


def money(x: pd.Series) -> pd.Series:
    return x.map("{:.2f}".format)


def yuan_with_sign(x: pd.Series) -> pd.Series:
    """``￥1,234.00``, as the store tills print amounts (full-width sign, GBK-safe)."""
    return x.map("￥{:,.2f}".format)


def mask_phone(phone: pd.Series) -> pd.Series:
    return phone.str[:3] + "****" + phone.str[-4:]


def fmt(ts: pd.Series, pattern: str) -> pd.Series:
    return ts.dt.strftime(pattern).fillna("")


def _paid_time(o: pd.DataFrame) -> pd.Series:
    return o["paid_ts"].where(o["status"] != "cancelled")


def tmall(o: pd.DataFrame, li: pd.DataFrame) -> dict[str, pd.DataFrame]:
    oid = '="' + o["order_id"] + '"'
    closed_reason = np.select(
        [o["status"] == "cancelled", o["status"] == "refunded"], ["买家不想买了", "退款"], ""
    )
    orders = pd.DataFrame(
        {
            "订单编号": oid,
            "买家会员名": o["tmall_nick"],
            "买家应付货款": money(o["goods_amount"]),
            "买家应付邮费": "0.00",
            "总金额": money(o["list_amount"]),
            "店铺优惠": money(o["shop_coupon"] + o["campaign_coupon"]),
            "买家实际支付金额": money(o["paid_amount"]),
            "订单状态": o["status"].map(STATUS_TMALL),
            "买家留言": "",
            "收货人姓名": o["receiver_name"],
            "收货地址": o["province"]
            + " "
            + o["city"]
            + " "
            + o["district"]
            + " "
            + o["street_detail"],
            "联系手机": "'" + mask_phone(o["receiver_phone"]),
            "订单创建时间": fmt(o["ts"], "%Y-%m-%d %H:%M:%S"),
            "订单付款时间": fmt(_paid_time(o), "%Y-%m-%d %H:%M:%S"),
            "宝贝种类": o["n_lines"],
            "宝贝总数量": o["n_items"],
            "店铺名称": "清溪官方旗舰店",
            "订单关闭原因": closed_reason,
            "退款金额": money(o["refund_amount"]),
        }
    )
    items = pd.DataFrame(
        {
            "订单编号": '="' + li["order_id"] + '"',
            "标题": li["title"],
            "价格": money(li["unit_price"]),
            "购买数量": li["qty"],
            "外部系统编号": li["sku"],
            "商品属性": "",
            "订单状态": li["status"].map(STATUS_TMALL),
            "商家编码": li["sku"],
        }
    )
    return {"orders": orders, "items": items}


def jd(o: pd.DataFrame, li: pd.DataFrame) -> dict[str, pd.DataFrame]:
    head = o.set_index("order_seq")
    h = head.loc[li["order_seq"]]
    pay = _paid_time(o).set_axis(o["order_seq"]).loc[li["order_seq"]]
    rows = pd.DataFrame(
        {
            "订单号": li["order_id"].to_numpy(),
            "商品ID": li["sku"].map(_jd_item_id).to_numpy(),
            "商品名称": li["title"].to_numpy(),
            "订购数量": li["qty"].to_numpy(),
            "京东价": li["unit_price"].to_numpy(),
            "订单金额": h["goods_amount"].to_numpy(),
            "优惠金额": (h["shop_coupon"] + h["campaign_coupon"]).to_numpy(),
            "应付金额": h["paid_amount"].to_numpy(),
            "订单状态": h["status"].map(STATUS_JD).to_numpy(),
            "下单帐号": h["jd_pin"].to_numpy(),
            "客户姓名": h["receiver_name"].to_numpy(),
            "客户地址": (h["province"] + h["city"] + h["district"] + h["street_detail"]).to_numpy(),
            "联系电话": mask_phone(h["receiver_phone"]).to_numpy(),
            "下单时间": h["ts"].to_numpy(),
            "付款确认时间": pay.to_numpy(),
            "退款金额": h["refund_amount"].to_numpy(),
            "商家SKU": li["sku"].to_numpy(),
        }
    )
    return {"orders": rows}


def _jd_item_id(sku: str) -> int:
    return 100_000_000_000 + sum(ord(c) * 131**i for i, c in enumerate(sku)) % 899_999_999_999


def pdd(o: pd.DataFrame, li: pd.DataFrame) -> dict[str, pd.DataFrame]:
    head = o.set_index("order_seq")
    h = head.loc[li["order_seq"]]
    coupon = h["shop_coupon"] + h["campaign_coupon"]
    rows = pd.DataFrame(
        {
            "商品": li["title"].to_numpy(),
            "订单号": li["order_id"].to_numpy(),
            "订单状态": h["status"].map(STATUS_PDD).to_numpy(),
            "商品总价(元)": money(li["line_amount"]).to_numpy(),
            "店铺优惠折扣(元)": money(coupon).to_numpy(),
            "平台优惠折扣(元)": "0.00",
            "邮费(元)": "0.00",
            "用户实付金额(元)": money(h["paid_amount"]).to_numpy(),
            "商家实收金额(元)": money(h["paid_amount"]).to_numpy(),
            "商品数量(件)": li["qty"].to_numpy(),
            "收货人": h["receiver_name"].to_numpy(),
            "手机": mask_phone(h["receiver_phone"]).to_numpy(),
            "省": h["province"].to_numpy(),
            "市": h["city"].to_numpy(),
            "区": h["district"].to_numpy(),
            "街道": h["street_detail"].to_numpy(),
            "成交时间": fmt(h["ts"], "%Y/%m/%d %H:%M").to_numpy(),
            "商品规格": "",
            "商家编码-SKU维度": li["sku"].to_numpy(),
            "售后状态": h["status"].map(AFTERSALE_PDD).to_numpy(),
            "退款金额(元)": money(h["refund_amount"]).to_numpy(),
        }
    )
    return {"orders": rows}


def youzan_csv(o: pd.DataFrame, li: pd.DataFrame) -> dict[str, pd.DataFrame]:
    head = o.set_index("order_seq")
    h = head.loc[li["order_seq"]]
    pay = _paid_time(o).set_axis(o["order_seq"]).loc[li["order_seq"]]
    rows = pd.DataFrame(
        {
            "订单号": li["order_id"].to_numpy(),
            "订单状态": h["status"].map(STATUS_YOUZAN_CSV).to_numpy(),
            "订单创建时间": fmt(h["ts"], "%Y-%m-%d %H:%M:%S").to_numpy(),
            "买家付款时间": fmt(pay, "%Y-%m-%d %H:%M:%S").to_numpy(),
            "商品名称": li["title"].to_numpy(),
            "商品编码": li["sku"].to_numpy(),
            "商品单价": money(li["unit_price"]).to_numpy(),
            "商品数量": li["qty"].to_numpy(),
            "商品实际成交金额": money(li["line_amount"]).to_numpy(),
            "订单实付金额": money(h["paid_amount"]).to_numpy(),
            "优惠金额": money(h["shop_coupon"] + h["campaign_coupon"]).to_numpy(),
            "退款金额": money(h["refund_amount"]).to_numpy(),
            "买家手机号": h["phone"].to_numpy(),
            "粉丝昵称": h["name"].str[0].to_numpy() + "**",
            "收货人/提货人": h["receiver_name"].to_numpy(),
            "收货人手机号/提货人手机号": h["receiver_phone"].to_numpy(),
            "详细收货地址/提货地址": (
                h["province"] + h["city"] + h["district"] + h["street_detail"]
            ).to_numpy(),
        }
    )
    return {"orders": rows}


def youzan_api(o: pd.DataFrame, li: pd.DataFrame) -> dict[str, list[str]]:
    """JSON lines as the Youzan open API returns trades: nested buyer, address and items."""
    pay = _paid_time(o)
    items: dict[int, list[dict[str, Any]]] = {}
    cols = ["order_seq", "order_id", "line_no", "title", "sku", "unit_price", "qty", "line_amount"]
    for r in li[cols].to_dict("records"):
        items.setdefault(r["order_seq"], []).append(r)
    lines: list[str] = []
    for rec, paid_at in zip(o.to_dict("records"), pay, strict=True):
        its = items[rec["order_seq"]]
        doc: dict[str, Any] = {
            "tid": rec["order_id"],
            "status": STATUS_YOUZAN_API[rec["status"]],
            "created": rec["ts"].strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "pay_time": None if pd.isna(paid_at) else paid_at.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "total_fee": f"{rec['goods_amount']:.2f}",
            "discount_fee": f"{rec['shop_coupon'] + rec['campaign_coupon']:.2f}",
            "payment": f"{rec['paid_amount']:.2f}",
            "refund_state": REFUND_YOUZAN_API[rec["status"]],
            "refund_fee": f"{rec['refund_amount']:.2f}",
            "buyer_info": {
                "buyer_phone": rec["phone"],
                "fans_nickname": rec["name"][0] + "**",
                "union_id": rec["unionid"] or None,
                "yz_open_id": rec["youzan_buyer_id"],
            },
            "address_info": {
                "receiver_name": rec["receiver_name"],
                "receiver_tel": rec["receiver_phone"],
                "delivery_province": rec["province"],
                "delivery_city": rec["city"],
                "delivery_district": rec["district"],
                "delivery_address": rec["street_detail"],
            },
            "orders": [
                {
                    "oid": f"{r['order_id']}-{r['line_no']}",
                    "title": r["title"],
                    "outer_sku_id": r["sku"],
                    "price": f"{r['unit_price']:.2f}",
                    "num": int(r["qty"]),
                    "payment": f"{r['line_amount']:.2f}",
                }
                for r in its
            ],
        }
        lines.append(json.dumps(doc, ensure_ascii=False))
    return {"orders": lines}


def douyin(o: pd.DataFrame, li: pd.DataFrame) -> dict[str, pd.DataFrame]:
    head = o.set_index("order_seq")
    h = head.loc[li["order_seq"]]
    pay = _paid_time(o).set_axis(o["order_seq"]).loc[li["order_seq"]]
    per_order = o.set_index("order_seq")[["streamer", "traffic_source"]].loc[li["order_seq"]]
    rows = pd.DataFrame(
        {
            # Douyin pads ids with a tab so spreadsheet programs keep all 19 digits.
            "主订单编号": "\t" + li["order_id"].to_numpy(),
            "子订单编号": "\t" + li["sub_order_id"].to_numpy(),
            "选购商品": li["title"].to_numpy(),
            "商家编码": li["sku"].to_numpy(),
            "商品数量": li["qty"].to_numpy(),
            "商品单价": money(li["unit_price"]).to_numpy(),
            "订单应付金额": money(li["line_amount"]).to_numpy(),
            "商家优惠": money(h["shop_coupon"] + h["campaign_coupon"]).to_numpy(),
            "订单实付金额": money(h["paid_amount"]).to_numpy(),
            "订单提交时间": fmt(h["ts"], "%Y/%m/%d %H:%M:%S").to_numpy(),
            "支付完成时间": fmt(pay, "%Y/%m/%d %H:%M:%S").to_numpy(),
            "订单状态": h["status"].map(STATUS_DOUYIN).to_numpy(),
            "售后状态": h["status"].map(AFTERSALE_DOUYIN).to_numpy(),
            "退款金额": money(h["refund_amount"]).to_numpy(),
            "达人昵称": per_order["streamer"].to_numpy(),
            "流量来源": per_order["traffic_source"].to_numpy(),
            "收件人": h["receiver_name"].to_numpy(),
            "收件人手机号": mask_phone(h["receiver_phone"]).to_numpy(),
            "省": h["province"].to_numpy(),
            "市": h["city"].to_numpy(),
            "区": h["district"].to_numpy(),
            "街道": "",
            "详细地址": h["street_detail"].to_numpy(),
        }
    )
    return {"orders": rows}


def pos(o: pd.DataFrame, li: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Till lines; a refund is a separate 退货 ticket with negative amounts, a void is 作废."""
    head = o.set_index("order_seq")
    h = head.loc[li["order_seq"]]
    card = h["member_id"].to_numpy()
    phone = np.where(card != "", h["phone"].to_numpy(), "")
    base = pd.DataFrame(
        {
            "门店编码": h["store_code"].to_numpy(),
            "门店名称": h["store_name"].to_numpy(),
            "小票号": li["order_id"].to_numpy(),
            "交易时间": fmt(h["ts"], "%Y%m%d%H%M%S").to_numpy(),
            "交易类型": np.where(h["status"].to_numpy() == "cancelled", "作废", "销售"),
            "会员卡号": card,
            "会员手机号": phone,
            "商品编码": li["sku"].to_numpy(),
            "商品名称": li["title"].to_numpy(),
            "数量": li["qty"].to_numpy(),
            "单价": yuan_with_sign(li["unit_price"]).to_numpy(),
            "实收金额": yuan_with_sign(li["paid_share"]).to_numpy(),
            "原小票号": "",
        }
    )
    refund = li[(h["status"].isin(["refunded", "partially_refunded"])).to_numpy()]
    if len(refund):
        hr = head.loc[refund["order_seq"]]
        frac = np.where(hr["status"].to_numpy() == "refunded", 1.0, 0.5)
        back = pd.DataFrame(
            {
                "门店编码": hr["store_code"].to_numpy(),
                "门店名称": hr["store_name"].to_numpy(),
                "小票号": refund["order_id"].to_numpy() + "R",
                "交易时间": fmt(hr["ts"] + pd.Timedelta(days=3), "%Y%m%d%H%M%S").to_numpy(),
                "交易类型": "退货",
                "会员卡号": hr["member_id"].to_numpy(),
                "会员手机号": np.where(
                    hr["member_id"].to_numpy() != "", hr["phone"].to_numpy(), ""
                ),
                "商品编码": refund["sku"].to_numpy(),
                "商品名称": refund["title"].to_numpy(),
                "数量": -refund["qty"].to_numpy(),
                "单价": yuan_with_sign(refund["unit_price"]).to_numpy(),
                "实收金额": yuan_with_sign(-(refund["paid_share"] * frac).round(2)).to_numpy(),
                "原小票号": refund["order_id"].to_numpy(),
            }
        )
        base = pd.concat([base, back], ignore_index=True)
    return {"orders": base}


@dataclass(frozen=True)
class ExportSpec:
    """How one platform exports: file kind, encoding, period length and overlap."""

    platform: str
    writer: Callable[..., dict[str, Any]]
    kind: str  # csv | xlsx | jsonl
    encoding: str
    months: int  # period length of one export file
    overlap_days: int
    since: date | None = None  # first day this format was used
    until: date | None = None  # last day this format was used
    name: str = ""
    quoted: bool = True  # False: fields written as they are, like Taobao's ="..." ids


SPECS: tuple[ExportSpec, ...] = (
    ExportSpec("tmall", tmall, "csv", "gbk", 6, 10, name="ExportOrderList", quoted=False),
    ExportSpec("jd", jd, "xlsx", "", 12, 7, name="jd_orders"),
    ExportSpec("pdd", pdd, "csv", "utf-8-sig", 3, 5, name="pdd_orders"),
    ExportSpec(
        "youzan",
        youzan_csv,
        "csv",
        "utf-8-sig",
        12,
        0,
        until=date(2024, 12, 31),
        name="youzan_orders",
    ),
    ExportSpec(
        "youzan", youzan_api, "jsonl", "utf-8", 6, 3, since=date(2025, 1, 1), name="youzan_trades"
    ),
    ExportSpec(
        "douyin", douyin, "csv", "utf-8", 3, 5, since=date(2024, 9, 1), name="douyin_orders"
    ),
    ExportSpec("pos", pos, "csv", "gbk", 12, 0, name="pos_sales"),
)


def specs_for(planted: Any) -> list[ExportSpec]:
    """The export specs, with the Douyin shop opening on the planted launch date."""
    from dataclasses import replace

    return [replace(s, since=planted.douyin_launch) if s.platform == "douyin" else s for s in SPECS]


def periods(spec: ExportSpec, start: date, end: date) -> list[tuple[date, date, date]]:
    """(period start, period end, export end) for each file; export end adds the overlap."""
    out = []
    first = max(start, spec.since or start)
    last = min(end, spec.until or end)
    cur = date(first.year, 1 + (first.month - 1) // spec.months * spec.months, 1)
    while cur <= last:
        m = cur.month - 1 + spec.months
        nxt = date(cur.year + m // 12, m % 12 + 1, 1)
        p_end = min(nxt - timedelta(days=1), last)
        p_start = max(cur, first)
        out.append((p_start, p_end, min(p_end + timedelta(days=spec.overlap_days), last)))
        cur = nxt
    return out


def period_label(spec: ExportSpec, p_start: date) -> str:
    if spec.months == 12:
        return f"{p_start.year}"
    if spec.months == 6:
        return f"{p_start.year}H{1 + (p_start.month - 1) // 6}"
    if spec.months == 3:
        return f"{p_start.year}Q{1 + (p_start.month - 1) // 3}"
    return f"{p_start:%Y%m}"


def _write_unquoted(path: Path, rows: pd.DataFrame, encoding: str, header: bool) -> None:
    """CSV without quoting, as Taobao writes it: ``="2000..."`` stays as is."""
    text = rows.astype(str)
    bad = text.apply(lambda col: col.str.contains(",", regex=False)).to_numpy()
    if bad.any():
        raise ValueError(f"{path.name}: a field holds a comma and cannot be written unquoted")
    body = text.iloc[:, 0].str.cat([text[c] for c in text.columns[1:]], sep=",")
    lines = ([",".join(rows.columns)] if header else []) + body.tolist()
    with path.open("a" if not header else "w", encoding=encoding, newline="") as fh:
        fh.write("\r\n".join(lines) + "\r\n")


# The creation time stamped in every workbook's properties. A fixed one keeps the
# same rows the same bytes (xlsxwriter would stamp the clock; its zip entries
# already carry a constant date).
XLSX_CREATED = datetime(2000, 1, 1)


def write_xlsx(
    path: Path,
    header: list[str],
    rows: Iterable[Any],
    sheet: str = "Sheet1",
    created: datetime = XLSX_CREATED,
) -> None:
    """An Excel workbook of one sheet, as the platforms' back offices export it.

    Rows are dicts (by header) or sequences; text stays text (ids keep every
    digit), numbers are numbers, and empty values leave the cell empty. The
    same arguments give the same bytes.

    Parameters:
        path: the .xlsx file to write (replaced if it exists).
        header: column names, the sheet's first row.
        rows: one dict or sequence per row.
        sheet: the sheet's name.
        created: creation time in the workbook's properties.

    Example:
        >>> write_xlsx(Path("/tmp/x.xlsx"), ["订单号", "京东价"], [["300000000001", 59.9]])
    """
    import math

    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    book.set_properties({"created": created})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws = book.add_worksheet(sheet)
    ws.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        values = [row.get(h) for h in header] if isinstance(row, dict) else list(row)
        for j, v in enumerate(values):
            if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
                continue
            if isinstance(v, str):
                ws.write_string(i, j, v)
            elif isinstance(v, int | float) and not isinstance(v, bool):
                ws.write_number(i, j, v)
            elif isinstance(v, datetime | date):
                ws.write_datetime(i, j, v, stamp)
            else:
                ws.write_string(i, j, str(v))
    book.close()


class ExportSink:
    """Appends rows to period files under ``raw/<platform>/`` as batches arrive."""

    def __init__(self, raw_dir: Path) -> None:
        self.raw_dir = raw_dir
        self._started: set[Path] = set()
        self._stage_dir = raw_dir / ".staging"
        self._parts: dict[Path, int] = {}  # staged Parquet parts per .xlsx file
        self.rows_written: dict[str, int] = {}

    def path(self, spec: ExportSpec, p_start: date, part: str) -> Path:
        suffix = {"csv": ".csv", "xlsx": ".xlsx", "jsonl": ".jsonl"}[spec.kind]
        extra = "" if part == "orders" else f"_{part}"
        name = f"{spec.name}{extra}_{period_label(spec, p_start)}{suffix}"
        return self.raw_dir / spec.platform / name

    def write(self, spec: ExportSpec, p_start: date, part: str, rows: Any) -> None:
        path = self.path(spec, p_start, part)
        path.parent.mkdir(parents=True, exist_ok=True)
        first = path not in self._started
        self._started.add(path)
        n = len(rows)
        self.rows_written[str(path)] = self.rows_written.get(str(path), 0) + n
        if spec.kind == "csv" and not spec.quoted:
            _write_unquoted(path, rows, spec.encoding, header=first)
        elif spec.kind == "csv":
            rows.to_csv(
                path,
                mode="w" if first else "a",
                header=first,
                index=False,
                encoding=spec.encoding if first else spec.encoding.replace("-sig", ""),
                lineterminator="\r\n",
            )
        elif spec.kind == "jsonl":
            with path.open("w" if first else "a", encoding="utf-8") as fh:
                fh.writelines(line + "\n" for line in rows)
        else:
            # Staged as Parquet, converted to one .xlsx per file by DuckDB on close.
            stage = self._stage_dir / path.name
            stage.mkdir(parents=True, exist_ok=True)
            k = self._parts.get(path, 0)
            self._parts[path] = k + 1
            rows.to_parquet(stage / f"part-{k:05d}.parquet", index=False)

    def close(self) -> None:
        if not self._parts:
            return
        import pyarrow.parquet as pq

        for path in self._parts:
            table = pq.read_table(self._stage_dir / path.name)
            write_xlsx(path, table.column_names, table.to_pylist(), sheet="订单列表")
        shutil.rmtree(self._stage_dir, ignore_errors=True)
        self._parts.clear()
