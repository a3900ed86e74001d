"""Ingestion of damaged exports: one test or more per defect of the damaged-exports issue.

Every input is a small hand-made file written here; values are worked out by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.test_ingest import TMALL_HEADER, tables, tmall_row, write
from workbench.cli import app
from workbench.config import Settings, load_settings
from workbench.unify import ingest

SALT = "test-salt"

CRM_HEADER = "会员编号,手机号,姓名,性别,生日,会员等级,入会时间,积分,微信unionid,注册渠道,淘宝昵称,京东PIN,省份,城市"
POS_HEADER = "门店编码,门店名称,小票号,交易时间,交易类型,会员卡号,会员手机号,商品编码,商品名称,数量,单价,实收金额,原小票号"
# T1: 2 x ￥1,234.00 plus a free gift; T1R returns one of the two (￥1,234.00).
POS_SALE_T1 = [
    'SH001,上海徐家汇店,T1,20240618200133,销售,M1,13812345678,QX-LD-3000,洗衣液,2,"￥1,234.00","￥2,468.00",',
    "SH001,上海徐家汇店,T1,20240618200133,销售,M1,13812345678,QX-GIFT,小样,1,￥0.00,￥0.00,",
]
POS_REFUND_T1R = [
    'SH001,上海徐家汇店,T1R,20240621100000,退货,M1,13812345678,QX-LD-3000,洗衣液,-1,"￥1,234.00","￥-1,234.00",T1',
]
POS_SALE_T2 = [
    "SH001,上海徐家汇店,T2,20240622110000,销售,M2,13812345679,QX-LD-3000,洗衣液,1,￥79.90,￥79.90,",
]
PDD_HEADER = (
    "商品,商家编码-SKU维度,订单号,订单状态,商品总价(元),用户实付金额(元),商品数量(件),"
    "收货人,手机,省,市,区,街道,成交时间"
)
COUPON_HEADER = (
    "券编号,活动编号,会员编号,券类型,门槛,面额,发放时间,领取时间,使用时间,使用平台,使用订单号"
)
DOUYIN_HEADER = (
    "主订单编号,子订单编号,选购商品,商家编码,商品数量,商品单价,订单应付金额,商家优惠,订单实付金额,"
    "订单提交时间,支付完成时间,订单状态,售后状态,退款金额,达人昵称,流量来源,收件人,收件人手机号,"
    "省,市,区,街道,详细地址"
)

runner = CliRunner()


@pytest.fixture()
def wh(tmp_path: Path) -> Settings:
    return load_settings(root=tmp_path, env={"WORKBENCH_SALT": SALT})


def hashed(text: str, salt: str = SALT) -> str:
    return hmac.new(salt.encode(), text.encode(), hashlib.sha256).hexdigest()


def youzan_trade(
    tid: str,
    *,
    status: str = "TRADE_SUCCESS",
    created: str = "2025-06-14T06:22:25+00:00",
    name: str = "周玉",
    phone: str = "13107598484",
    open_id: str = "701565761",
    items: tuple[tuple[str, str, str, int], ...] = (("洗衣液", "QX-LD-1500", "33.96", 2),),
) -> str:
    """One Youzan open-API trade as a JSON line; items are (title, sku, price, quantity)."""
    lines = [
        {
            "oid": f"{tid}-{i}",
            "title": title,
            "outer_sku_id": sku,
            "price": price,
            "num": num,
            "payment": f"{float(price) * num:.2f}",
        }
        for i, (title, sku, price, num) in enumerate(items, start=1)
    ]
    total = f"{sum(float(p) * n for _, _, p, n in items):.2f}"
    trade = {
        "tid": tid,
        "status": status,
        "created": created,
        "pay_time": "2025-06-14T14:24:51+08:00",
        "total_fee": total,
        "discount_fee": "0.00",
        "payment": total,
        "refund_state": "NO_REFUND",
        "refund_fee": "0.00",
        "buyer_info": {
            "buyer_phone": phone,
            "fans_nickname": name[0] + "**",
            "union_id": "oz" + open_id,
            "yz_open_id": open_id,
        },
        "address_info": {
            "receiver_name": name,
            "receiver_tel": phone,
            "delivery_province": "浙江省",
            "delivery_city": "杭州市",
            "delivery_district": "西湖区",
            "delivery_address": "中山路738号御景湾15栋2404室",
        },
        "orders": lines,
    }
    return json.dumps(trade, ensure_ascii=False)


def pdd_row(order_id: str, title: str | None = "洗衣液 3kg", paid: str = "79.90") -> str:
    head = f"{title}," if title is not None else ""
    return (
        f"{head}QX-LD-3000,{order_id},已收货,{paid},{paid},1,张三,138****0000,"
        "上海,上海市,徐汇区,漕溪路1号,2024-06-18 20:01:33"
    )


def cli(args: list[str], settings: Settings, salt: str = SALT) -> Result:
    """``workbench ARGS`` in-process, on the warehouse of ``settings``."""
    env: Mapping[str, str | None] = {
        "WORKBENCH_ROOT": str(settings.root),
        "WORKBENCH_SALT": salt,
        "WORKBENCH_WAREHOUSE": str(settings.warehouse),
        "WORKBENCH_CONFIG": None,
        "WORKBENCH_DATA_DIR": None,
    }
    return runner.invoke(app, args, env=env)


def no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def all_text(settings: Settings) -> dict[str, str]:
    """Every warehouse table's non-numeric cells, as one string per table."""
    out = {}
    for name, df in tables(settings).items():
        cols = df.select_dtypes(exclude=["number", "bool"]).columns
        out[name] = "\n".join(df[c].astype(str).str.cat(sep="\n") for c in cols)
    return out


def log_of(settings: Settings) -> pd.DataFrame:
    return tables(settings)["ingest_log"].set_index("source_file")


# --- 1. one bad file aborts the whole run ----------------------------------------------


@pytest.mark.parametrize(("encoding", "name"), [("gbk", "周玉"), ("gb18030", "刘䶮")])
def test_gbk_json_lines_are_read(wh: Settings, tmp_path: Path, encoding: str, name: str) -> None:
    """1: a Youzan API JSON-lines export saved as GBK or GB18030 is read, not a crash."""
    items = (("洗衣液", "QX-LD-1500", "33.96", 2), ("柔顺剂", "QX-SF-1000", "19.90", 1))
    trade = youzan_trade("E2025061414222500764973", name=name, items=items)
    write(tmp_path / "raw" / "youzan" / "trades.jsonl", [trade], encoding)
    f = ingest(tmp_path / "raw", wh, progress=False).files[0]
    assert (f.format, f.status) == ("youzan_trades", "loaded"), f.message
    assert f.encoding in ("gbk", "gb18030")
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (1, 1, 0)
    t = tables(wh)
    o = t["orders"].iloc[0]
    assert o["order_key"] == "youzan:E2025061414222500764973"
    # 2 x 33.96 + 19.90 = 87.82
    assert o["paid_amount"] == pytest.approx(87.82)
    lines = t["order_lines"].sort_values("line_no")
    assert lines["title"].tolist() == ["洗衣液", "柔顺剂"]
    assert lines["quantity"].tolist() == [2, 1]
    c = t["contacts"].iloc[0]
    assert (c["province"], c["city"], c["district"]) == ("浙江省", "杭州市", "西湖区")
    assert c["name_hash"] == hashed(name)
    assert c["address_hash"] == hashed("中山路738号御景湾15栋2404室")


def test_a_damaged_file_is_refused_and_the_others_still_load(wh: Settings, tmp_path: Path) -> None:
    """1: a file whose damage is confined to itself is refused; the rest loads, identity runs."""
    raw = tmp_path / "raw"
    write(
        raw / "tmall" / "orders.csv",
        [TMALL_HEADER, tmall_row("2000000000000000001"), tmall_row("2000000000000000002")],
        "gbk",
    )
    # GBK JSON lines, more than the 64 KiB the encoding is judged from, then two bytes that
    # are not GBK (nor GB18030) in the last line.
    trades = [
        youzan_trade(f"E20250614142225{i:08d}", phone=f"131{i:08d}", open_id=f"7{i:08d}")
        for i in range(1, 161)
    ]
    body = ("\n".join(trades) + "\n").encode("gbk")
    assert len(body) > 1 << 16
    last = youzan_trade("E2025061414222599999999", name="XX").encode("gbk")
    (raw / "youzan").mkdir()
    (raw / "youzan" / "trades.jsonl").write_bytes(body + last.replace(b"XX", b"\xff\xff") + b"\n")
    # A UTF-8 CSV with invalid UTF-8 past the first 64 KiB.
    pdd = [PDD_HEADER] + [pdd_row(f"240618-{i:015d}") for i in range(1, 601)]
    data = ("\r\n".join(pdd) + "\r\n").encode("utf-8")
    assert len(data) > 1 << 16
    bad = pdd_row("240618-999999999999999").encode().replace("张三".encode(), b"\xff\xfe")
    (raw / "pdd" / "orders.csv").parent.mkdir(parents=True)
    (raw / "pdd" / "orders.csv").write_bytes(data + bad + b"\r\n")

    result = ingest(raw, wh, progress=False)
    by_file = {f.file: f for f in result.files}
    assert by_file["tmall/orders.csv"].status == "loaded"
    for name in ("youzan/trades.jsonl", "pdd/orders.csv"):
        f = by_file[name]
        assert f.status == "refused", (name, f.status)
        assert Path(name).name in f.message and "\n" not in f.message.strip()
    assert {f.file for f in result.refused} == {"youzan/trades.jsonl", "pdd/orders.csv"}
    t = tables(wh)
    assert sorted(t["orders"]["order_id"]) == ["2000000000000000001", "2000000000000000002"]
    # Identity still ran: both orders are one Tmall account, one person.
    assert len(t["persons"]) == 1 and result.identity["persons"] == 1
    assert log_of(wh).loc["youzan/trades.jsonl", "status"] == "refused"

    other = load_settings(root=tmp_path / "cli", env={"WORKBENCH_SALT": SALT})
    r = cli(["ingest", str(raw)], other)
    no_traceback(r)
    assert r.exit_code == 1
    assert "trades.jsonl" in r.stderr and "orders.csv" in r.stderr


# --- 2. personal data in the log -------------------------------------------------------


def test_messages_never_quote_a_rows_personal_data(
    wh: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """2: a row with an extra field: no message, log or table quotes its phone, name, birthday."""
    caplog.set_level(logging.INFO)
    raw = tmp_path / "raw"
    write(
        raw / "crm" / "members.csv",
        [
            CRM_HEADER,
            "M1,13500068208,陈丹,男,1980-04-04,普通,2021年5月1日,120,,拼多多,,,安徽省,合肥市",
            # An unquoted district after the city: 15 fields for 14 columns.
            "M2,13500068209,李思远,女,1990-02-03,普通,2021年5月2日,0,,天猫,,,安徽省,合肥市,蜀山区",
            "M3,13500068210,王五,男,1985-01-01,普通,2021年5月3日,0,,天猫,,,安徽省,合肥市",
        ],
        "utf-8-sig",
    )
    personal = ("13500068209", "李思远", "1990-02-03")
    result = ingest(raw, wh, progress=False)
    f = result.files[0]
    other = load_settings(root=tmp_path / "cli", env={"WORKBENCH_SALT": SALT})
    r = cli(["ingest", str(raw)], other)
    for value in personal:
        assert value not in f.message, f.message
        for name, text in all_text(wh).items():
            assert value not in text, (name, value)
        assert value not in r.stdout and value not in r.stderr, value
        for record in caplog.records:
            assert value not in record.getMessage(), record.getMessage()
    if f.status == "loaded":
        assert f.rows_read == 3 and f.rows_read == f.rows_loaded + f.rows_rejected
        rej = tables(wh)["rejected_rows"]
        assert 2 in set(rej.loc[rej["source_file"] == "crm/members.csv", "row_number"])
    else:
        assert f.status == "refused"
        assert re.search(r"\b(row|line)\s*[23]\b", f.message), f.message


# --- 3. POS refunds counted again ------------------------------------------------------


def pos_t1(settings: Settings) -> pd.Series:
    return tables(settings)["orders"].set_index("order_key").loc["pos:T1"]


def test_pos_refund_ingested_again_is_not_counted_again(wh: Settings, tmp_path: Path) -> None:
    """3: a 退货 ticket whose sale was loaded earlier is netted once, however often ingested."""
    write(tmp_path / "day1" / "pos" / "0618.csv", [POS_HEADER, *POS_SALE_T1], "gbk")
    write(tmp_path / "day2" / "pos" / "0621.csv", [POS_HEADER, *POS_REFUND_T1R], "gbk")
    ingest(tmp_path / "day1", wh, progress=False)
    assert pos_t1(wh)["net_amount"] == 2468.0
    for run in range(3):
        ingest(tmp_path / "day2", wh, progress=False)
        o = pos_t1(wh)
        # Paid 2 x 1,234.00 = 2,468.00; one unit returned: refund 1,234.00, net 1,234.00.
        assert (o["paid_amount"], o["refund_amount"], o["net_amount"]) == (
            2468.0,
            1234.0,
            1234.0,
        ), f"after ingest {run + 1} of the refund export"
        assert o["status"] == "partially_refunded"


@pytest.mark.parametrize(
    "files",
    [
        {"a.csv": POS_SALE_T1, "b.csv": POS_REFUND_T1R, "c.csv": POS_REFUND_T1R},
        {"a.csv": POS_SALE_T1 + POS_REFUND_T1R, "b.csv": POS_REFUND_T1R + POS_SALE_T2},
    ],
    ids=["refund-in-two-later-files", "refund-in-sale-file-and-a-later-one"],
)
def test_pos_refund_in_overlapping_exports_counted_once(
    wh: Settings, tmp_path: Path, files: dict[str, list[str]]
) -> None:
    """3: the same 退货 ticket in two overlapping exports of one run is netted once."""
    for name, rows in files.items():
        write(tmp_path / "raw" / "pos" / name, [POS_HEADER, *rows], "gbk")
    for _ in range(2):
        ingest(tmp_path / "raw", wh, progress=False)
        o = pos_t1(wh)
        assert (o["refund_amount"], o["net_amount"], o["status"]) == (
            1234.0,
            1234.0,
            "partially_refunded",
        )


def test_pos_refund_export_read_before_its_sale_is_not_lost(wh: Settings, tmp_path: Path) -> None:
    """3: a 退货 export whose name sorts before its sale export still nets the refund once."""
    raw = tmp_path / "raw" / "pos"
    write(raw / "退货_0621.csv", [POS_HEADER, *POS_REFUND_T1R], "gbk")
    write(raw / "销售_0618.csv", [POS_HEADER, *POS_SALE_T1], "gbk")
    for _ in range(3):
        ingest(tmp_path / "raw", wh, progress=False)
        o = pos_t1(wh)
        assert (o["refund_amount"], o["net_amount"]) == (1234.0, 1234.0)


# --- 4. a changed salt -----------------------------------------------------------------


def test_changed_salt_is_refused_and_never_stored(tmp_path: Path) -> None:
    """4: ingesting with another salt raises SaltMismatch and changes nothing; no salt stored."""
    salt_a, salt_b = "salt-A-q8Zr41", "salt-B-w3Kp97"
    a = load_settings(root=tmp_path, env={"WORKBENCH_SALT": salt_a})
    b = load_settings(root=tmp_path, env={"WORKBENCH_SALT": salt_b})
    raw = tmp_path / "raw"
    write(raw / "a.csv", [TMALL_HEADER, tmall_row("2000000000000000001")], "gbk")
    ingest(raw, a, progress=False)
    before = tables(a)
    write(raw / "b.csv", [TMALL_HEADER, tmall_row("2000000000000000002", nick="tb李雷")], "gbk")

    caught: Exception | None = None
    try:
        ingest(raw, b, progress=False)
    except Exception as exc:
        caught = exc
    assert caught is not None, "ingest with a different salt ran and split the persons"
    from workbench.errors import SaltMismatch

    assert isinstance(caught, SaltMismatch), repr(caught)
    assert salt_a not in str(caught) and salt_b not in str(caught)
    after = tables(a)
    for name, key in {
        "orders": "order_key",
        "contacts": "source_key",
        "accounts": "account_key",
        "persons": "person_id",
    }.items():
        pd.testing.assert_frame_equal(
            before[name].sort_values(key).reset_index(drop=True),
            after[name].sort_values(key).reset_index(drop=True),
        )

    r = cli(["ingest", str(raw)], b, salt=salt_b)
    no_traceback(r)
    assert r.exit_code == 2
    err = lines_of(r.stderr)
    assert len(err) == 1 and "salt" in err[0].lower(), r.stderr
    assert salt_a not in r.output and salt_b not in r.output

    for name, text in all_text(a).items():
        assert salt_a not in text and salt_b not in text, name
    meta = tables(a)["warehouse_meta"]
    fingerprint = meta.loc[meta["key"].str.contains("salt"), "value"]
    assert len(fingerprint) == 1 and fingerprint.iloc[0] not in ("", salt_a)
    # The right salt still loads.
    ingest(raw, a, progress=False)
    assert len(tables(a)["orders"]) == 2


# --- 5. missing columns ----------------------------------------------------------------


def test_tmall_export_missing_an_identifying_column_is_refused(
    wh: Settings, tmp_path: Path
) -> None:
    """5a: a Tmall order report without 买家会员名 is refused, not skipped as unrecognised."""
    header = TMALL_HEADER.replace("买家会员名,", "")
    row = tmall_row("2000000000000000001").replace(",tb王小明,", ",", 1)
    assert header.count(",") == row.count(",")
    write(tmp_path / "raw" / "tmall.csv", [header, row], "gbk")
    f = ingest(tmp_path / "raw", wh, progress=False).files[0]
    assert (f.status, f.format) == ("refused", "tmall_orders"), (f.status, f.format, f.message)
    assert "tmall_orders" in f.message and "买家会员名" in f.message
    log = log_of(wh)
    assert log.loc["tmall.csv", "status"] == "refused"
    assert "买家会员名" in log.loc["tmall.csv", "message"]
    assert tables(wh)["orders"].empty
    r = cli(["ingest", str(tmp_path / "raw")], wh)
    no_traceback(r)
    assert r.exit_code == 1 and "tmall.csv" in r.stderr


def test_pdd_export_without_titles_keeps_the_stored_titles(wh: Settings, tmp_path: Path) -> None:
    """5b: re-loading orders from an export without the optional 商品 keeps their titles."""
    raw = tmp_path / "raw"
    ids = ["240618-000000000000001", "240618-000000000000002"]
    write(raw / "pdd" / "full.csv", [PDD_HEADER, *(pdd_row(i) for i in ids)], "utf-8-sig")
    ingest(raw, wh, progress=False)
    assert tables(wh)["order_lines"]["title"].tolist() == ["洗衣液 3kg", "洗衣液 3kg"]
    header = PDD_HEADER.replace("商品,", "", 1)
    write(raw / "pdd" / "later.csv", [header, *(pdd_row(i, title=None) for i in ids)], "utf-8-sig")
    files = {f.file: f for f in ingest(raw, wh, progress=False).files}
    assert files["pdd/later.csv"].status == "loaded"
    lines = tables(wh)["order_lines"].sort_values("order_key")
    assert lines["order_key"].tolist() == [f"pdd:{i}" for i in ids]
    assert lines["title"].tolist() == ["洗衣液 3kg", "洗衣液 3kg"]


# --- 6. damaged ids --------------------------------------------------------------------


def test_damaged_tmall_order_id_is_rejected(wh: Settings, tmp_path: Path) -> None:
    """6: a Tmall order id with dashes (a date typed over it) is rejected, not loaded."""
    write(
        tmp_path / "raw" / "t.csv",
        [TMALL_HEADER, tmall_row("2000000000000000001"), tmall_row("2024-13-4518715289366")],
        "gbk",
    )
    f = ingest(tmp_path / "raw", wh, progress=False).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (2, 1, 1)
    t = tables(wh)
    assert t["orders"]["order_key"].tolist() == ["tmall:2000000000000000001"]
    rej = t["rejected_rows"]
    assert rej["row_number"].tolist() == [2]
    assert "order id" in rej["reason"].iloc[0]


def test_damaged_ids_of_other_platforms_are_rejected(wh: Settings, tmp_path: Path) -> None:
    """6: PDD (YYMMDD-digits), Douyin (digits) and Youzan (E + digits) ids of the wrong shape."""
    raw = tmp_path / "raw"
    # Each damaged row is of another order than the row beside it (another amount or
    # time): with the same order details it would be taken for a line of that order,
    # which would then be held back whole.
    # PDD without the dash after the date.
    write(
        raw / "pdd.csv",
        [
            PDD_HEADER,
            pdd_row("240618-000000000000001"),
            pdd_row("2406180000000000000002", paid="59.90"),
        ],
        "utf-8-sig",
    )
    tail = "已完成,,0.00,清溪家居,直播,董晓,156****9563,山东省,济南市,市中区,,春晓路965号阳光花园22栋3104室"
    dy = "洗手液,LQ-HW-500,1,32.90,32.90,0.00,32.90,2025/01/02 19:40:13,2025/01/02 19:49:45"
    dy_other = dy.replace("19:40:13", "20:12:09")
    # Douyin: an id Excel turned into a number in scientific notation.
    write(
        raw / "dy.csv",
        [
            DOUYIN_HEADER,
            f"\t6900000000046457594,\t6900000000097358538,{dy},{tail}",
            f"\t6.90000000046458E+18,\t6900000000097358540,{dy_other},{tail}",
        ],
        "utf-8",
    )
    # Youzan: the leading E lost.
    write(
        raw / "yz.jsonl",
        [
            youzan_trade("E2025061414222500764973"),
            youzan_trade("2025061414222500764974", open_id="701565762", phone="13107598485"),
        ],
        "utf-8",
    )
    by_file = {f.file: f for f in ingest(raw, wh, progress=False).files}
    t = tables(wh)
    assert sorted(t["orders"]["order_key"]) == [
        "douyin:6900000000046457594",
        "pdd:240618-000000000000001",
        "youzan:E2025061414222500764973",
    ]
    rej = t["rejected_rows"]
    for name in ("pdd.csv", "dy.csv", "yz.jsonl"):
        f = by_file[name]
        assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (2, 1, 1), name
        mine = rej[rej["source_file"] == name]
        assert mine["row_number"].tolist() == [2], name
        assert "order id" in mine["reason"].iloc[0], name


def test_coupon_with_a_damaged_order_id_has_no_order_key(wh: Settings, tmp_path: Path) -> None:
    """6: a coupon's 使用订单号 of the wrong shape for its platform gives no used_order_key."""
    issued = "CMP-618-2024,M1,满减,99,10,2024-05-20,2024-05-28 22:06:03,2024-06-04 16:30:21"
    coupons = [
        # row, coupon id, platform as written, order id, the key it should give (None: damaged)
        (1, "CP1", "天猫", "2000006856530086294", "tmall:2000006856530086294"),
        (2, "CP2", "天猫", "2024-13-4518715289366", None),
        (3, "CP3", "京东", "300000134634", "jd:300000134634"),
        (4, "CP4", "拼多多", "240618-000000000000001", "pdd:240618-000000000000001"),
        (5, "CP5", "拼多多", "2000006856530086294", None),
        (6, "CP6", "有赞", "E2025061414222500764973", "youzan:E2025061414222500764973"),
        (7, "CP7", "有赞", "2025061414222500764973", None),
        (8, "CP8", "抖音", "6900000000046457594", "douyin:6900000000046457594"),
        (9, "CP9", "抖音", "6.90000000046458E+18", None),
    ]
    write(
        tmp_path / "raw" / "campaign" / "k.csv",
        [COUPON_HEADER, *(f"{cid},{issued},{p},{oid}" for _, cid, p, oid, _ in coupons)],
        "utf-8-sig",
    )
    ingest(tmp_path / "raw", wh, progress=False)
    t = tables(wh)
    loaded = t["coupons"].set_index("coupon_id")
    rej = t["rejected_rows"]
    flagged = t.get("flagged_values")
    for row, cid, _, oid, key in coupons:
        if key is not None:
            assert loaded.loc[cid, "used_order_key"] == key, cid
            continue
        if cid in loaded.index:
            assert pd.isna(loaded.loc[cid, "used_order_key"]), (cid, oid)
            assert flagged is not None, "no flagged_values table"
            hit = flagged[
                (flagged["source_file"] == "campaign/k.csv") & (flagged["row_number"] == row)
            ]
            assert hit["column"].tolist() == ["使用订单号"], cid
        else:
            hit = rej[(rej["source_file"] == "campaign/k.csv") & (rej["row_number"] == row)]
            assert hit["column"].tolist() == ["使用订单号"], cid


# --- 7. unreadable optional values -----------------------------------------------------


def test_unreadable_optional_values_are_flagged(wh: Settings, tmp_path: Path) -> None:
    """7: an unreadable birthday or claim time loads the row and is flagged, not nulled silently."""
    raw = tmp_path / "raw"
    write(
        raw / "crm" / "members.csv",
        [
            CRM_HEADER,
            "M1,13500068208,陈丹,男,2024-13-45,普通,2021年5月1日,120,,拼多多,,,安徽省,合肥市",
            "M2,13500068209,李四,女,1990-01-01,普通,2021年5月2日,0,,天猫,,,安徽省,合肥市",
        ],
        "utf-8-sig",
    )
    write(
        raw / "campaign" / "k.csv",
        [
            COUPON_HEADER,
            "CP1,CMP-618-2024,M1,满减,99,10,2024-05-20,2024-05-28 22:06:03,,,",
            "CP2,CMP-618-2024,M2,满减,99,10,2024-05-20,not a date,,,",
        ],
        "utf-8-sig",
    )
    files = {f.file: f for f in ingest(raw, wh, progress=False).files}
    assert (files["crm/members.csv"].rows_loaded, files["crm/members.csv"].rows_rejected) == (2, 0)
    t = tables(wh)
    members = t["members"].set_index("member_id")
    assert pd.isna(members.loc["M1", "birth_year"]) and members.loc["M2", "birth_year"] == 1990
    assert "flagged_values" in t, "the unreadable birthday was nulled without a trace"
    assert (files["campaign/k.csv"].rows_loaded, files["campaign/k.csv"].rows_rejected) == (2, 0)
    coupons = t["coupons"].set_index("coupon_id")
    assert pd.isna(coupons.loc["CP2", "claimed_at"])
    flagged = t["flagged_values"].set_index(["source_file", "row_number", "column"]).sort_index()
    assert list(flagged.index) == [
        ("campaign/k.csv", 2, "领取时间"),
        ("crm/members.csv", 1, "生日"),
    ]
    assert flagged["reason"].notna().all() and (flagged["reason"].str.len() > 0).all()
    # A birthday is personal data: the flag says where, not what.
    assert pd.isna(flagged.loc[("crm/members.csv", 1, "生日"), "value"])
    assert flagged.loc[("campaign/k.csv", 2, "领取时间"), "value"] == "not a date"
    assert "2024-13-45" not in all_text(wh)["flagged_values"]


# --- 8. rejections and the log disagree ------------------------------------------------


def test_a_rejected_trade_is_one_rejected_row(wh: Settings, tmp_path: Path) -> None:
    """8: a rejected two-item Youzan trade is one row in rejected_rows and in ingest_log."""
    two = (("洗衣液", "QX-LD-1500", "33.96", 2), ("柔顺剂", "QX-SF-1000", "19.90", 1))
    write(
        tmp_path / "raw" / "youzan" / "trades.jsonl",
        [
            youzan_trade("E2025061414222500000001", items=two),
            youzan_trade("E2025061414222500000002", status="TRADE_CLOSED", items=two),
            youzan_trade("E2025061414222500000003", created="yesterday", items=two),
        ],
        "utf-8",
    )
    f = ingest(tmp_path / "raw", wh, progress=False).files[0]
    t = tables(wh)
    rej = t["rejected_rows"]
    assert sorted(rej["row_number"]) == [2, 3], rej[["row_number", "column", "reason"]]
    log = log_of(wh).loc["youzan/trades.jsonl"]
    written = int((t["orders"]["source_file"] == "youzan/trades.jsonl").sum())
    assert written == 1
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, written, 2)
    assert (log["rows_read"], log["rows_loaded"], log["rows_rejected"]) == (3, written, 2)


# --- 9. identity not atomic ------------------------------------------------------------


def test_identity_failure_leaves_the_last_identity_tables(
    wh: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """9: identity failing midway keeps the previous accounts and persons and says so."""
    import workbench.unify.identity as identity

    raw = tmp_path / "raw"
    write(raw / "a.csv", [TMALL_HEADER, tmall_row("2000000000000000001", nick="tb甲")], "gbk")
    ingest(raw, wh, progress=False)
    before = tables(wh)
    assert len(before["persons"]) == 1
    write(raw / "b.csv", [TMALL_HEADER, tmall_row("2000000000000000002", nick="tb乙")], "gbk")

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("identity failed midway")

    monkeypatch.setattr(identity, "persons_table", boom)
    with contextlib.suppress(RuntimeError):
        ingest(raw, wh, progress=False)
    after = tables(wh)
    for name, key in {"accounts": "account_key", "persons": "person_id"}.items():
        pd.testing.assert_frame_equal(
            before[name].sort_values(key).reset_index(drop=True),
            after[name].sort_values(key).reset_index(drop=True),
            obj=name,
        )
    from workbench.unify import warehouse_problem

    problem = warehouse_problem(wh)
    assert isinstance(problem, str) and "\n" not in problem.strip()
    assert "workbench ingest" in problem
    monkeypatch.undo()
    ingest(raw, wh, progress=False)
    assert warehouse_problem(wh) is None
    assert sorted(tables(wh)["accounts"]["account_key"]) == ["tmall:tb乙", "tmall:tb甲"]


# --- 10. Excel workbooks ------------------------------------------------------------

JD_COLUMNS = [
    "订单号", "商品名称", "订购数量", "京东价", "订单金额", "优惠金额", "应付金额", "订单状态",
    "下单帐号", "客户姓名", "客户地址", "联系电话", "下单时间", "付款确认时间", "退款金额", "商家SKU",
]  # fmt: skip


def jd_row(order_id: str, ordered: object) -> list[object]:
    return [
        order_id, "洗衣液 3kg", 2, 79.9, 159.8, 10.0, 149.8, "完成", "jd_abc", "吴俊思",
        "山东省济南市市中区长江路685号绿地小区11栋3102室", "130****9281", ordered, None, 0.0,
        "QX-LD-3000",
    ]  # fmt: skip


def test_a_workbook_cut_short_is_refused_and_the_others_load(wh: Settings, tmp_path: Path) -> None:
    """10: a JD workbook still being written (cut short) is refused at once, never hangs."""
    from datetime import datetime

    from workbench.synth.exports import write_xlsx

    raw = tmp_path / "raw"
    (raw / "jd").mkdir(parents=True)
    whole = raw / "jd" / "whole.xlsx"
    rows = [jd_row(f"3000001{i:05d}", datetime(2024, 2, 25, 9, 12, 10, 500000)) for i in range(300)]
    write_xlsx(whole, JD_COLUMNS, rows)
    data = whole.read_bytes()
    (raw / "jd" / "cut.xlsx").write_bytes(data[: len(data) - 700])
    write(raw / "tmall" / "t.csv", [TMALL_HEADER, tmall_row("2000000000000000001")], "gbk")
    files = {f.file: f for f in ingest(raw, wh, progress=False).files}
    assert files["jd/cut.xlsx"].status == "refused"
    assert "cut.xlsx" in files["jd/cut.xlsx"].message
    assert "\n" not in files["jd/cut.xlsx"].message
    assert (files["jd/whole.xlsx"].status, files["jd/whole.xlsx"].rows_loaded) == ("loaded", 300)
    assert files["tmall/t.csv"].status == "loaded"
    orders = tables(wh)["orders"]
    jd = orders[orders["platform"] == "jd"]
    # A time with a fraction of a second, as the reader renders an Excel date cell.
    assert (
        len(jd) == 300 and jd["ordered_at"].astype(str).str.startswith("2024-02-25 09:12:10").all()
    )


# --- 11. lock conflicts ----------------------------------------------------------------

HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
    "time.sleep(float(sys.argv[2])); c.close()"
)


def hold(settings: Settings, seconds: float) -> subprocess.Popen[str]:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.warehouse), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_locked_warehouse_exits_2_naming_the_holder(wh: Settings, tmp_path: Path) -> None:
    """11: a warehouse another process holds: exit 2, one line naming its PID and --wait."""
    write(tmp_path / "raw" / "t.csv", [TMALL_HEADER, tmall_row("2000000000000000001")], "gbk")
    holder = hold(wh, 30)
    try:
        r = cli(["ingest", str(tmp_path / "raw")], wh)
    finally:
        holder.kill()
        holder.wait()
    assert r.exit_code == 2, (r.output, r.exception)
    no_traceback(r)
    assert "IOException" not in r.output
    err = lines_of(r.stderr)
    assert len(err) == 1, r.stderr
    assert str(holder.pid) in err[0] and "--wait" in err[0]


def test_ingest_waits_for_the_warehouse_lock(wh: Settings, tmp_path: Path) -> None:
    """11: with --wait, ingest waits for the holder to let go and then loads."""
    write(tmp_path / "raw" / "t.csv", [TMALL_HEADER, tmall_row("2000000000000000001")], "gbk")
    holder = hold(wh, 2)
    try:
        r = cli(["ingest", str(tmp_path / "raw"), "--wait", "20"], wh)
    finally:
        holder.kill()
        holder.wait()
    assert r.exit_code == 0, (r.output, r.exception)
    assert holder.returncode == 0, "the holder was killed before it let go"
    assert tables(wh)["orders"]["order_key"].tolist() == ["tmall:2000000000000000001"]


# --- 12. empty or wrong directory ------------------------------------------------------


def test_empty_directory_exits_2(wh: Settings, tmp_path: Path) -> None:
    """12: `workbench ingest EMPTY_DIR` exits 2 with one line saying no exports were found."""
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli(["ingest", str(empty)], wh)
    no_traceback(r)
    assert r.exit_code == 2, r.output
    err = lines_of(r.stderr)
    assert len(err) == 1 and "no exports found in" in err[0], r.stderr


def test_unrecognised_file_is_logged_as_skipped(wh: Settings, tmp_path: Path) -> None:
    """12: a file no format recognises is in ingest_log as skipped, beside the loaded ones."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "notes.txt").write_text("618 复盘会议纪要\n", encoding="utf-8")
    write(raw / "t.csv", [TMALL_HEADER, tmall_row("2000000000000000001")], "gbk")
    result = ingest(raw, wh, progress=False)
    assert {f.file: f.status for f in result.files} == {"notes.txt": "skipped", "t.csv": "loaded"}
    log = log_of(wh)
    assert "notes.txt" in log.index, "the skipped file is not in ingest_log"
    assert log.loc["notes.txt", "status"] == "skipped"
    assert log.loc["t.csv", "status"] == "loaded"


def test_a_report_on_an_incomplete_warehouse_says_so_in_one_line(
    wh: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """9: the report's first cell warns of an incomplete warehouse, or stops when it has no persons."""
    import workbench.unify.identity as identity
    from workbench.engine import connect
    from workbench.errors import WarehouseIncomplete
    from workbench.report.views import unify as views
    from workbench.unify import warehouse_status

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed")

    raw = tmp_path / "raw"
    write(raw / "a.csv", [TMALL_HEADER, tmall_row("2000000000000000001", nick="tb甲")], "gbk")
    monkeypatch.setattr(identity, "persons_table", boom)
    with contextlib.suppress(RuntimeError):
        ingest(raw, wh, progress=False)  # the very first ingestion never resolves anyone
    con = connect(wh, read_only=True)
    assert warehouse_status(con) == "no_persons"
    with pytest.raises(WarehouseIncomplete, match="没有人员"):
        views.warehouse_notice(warehouse_status(con), "zh")
    con.disconnect()
    monkeypatch.undo()
    ingest(raw, wh, progress=False)
    con = connect(wh, read_only=True)
    assert warehouse_status(con) == "complete"
    assert views.warehouse_notice(warehouse_status(con), "en") is None
    con.disconnect()
    monkeypatch.setattr(identity, "persons_table", boom)
    with contextlib.suppress(RuntimeError):
        ingest(raw, wh, progress=False)  # a later one stops midway: earlier persons remain
    con = connect(wh, read_only=True)
    notice = views.warehouse_notice(warehouse_status(con), "en")
    con.disconnect()
    assert notice is not None and "incomplete" in notice.text
    assert notice.text.count("\n") == 0
