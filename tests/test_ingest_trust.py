"""Ingestion trust: damaged ids, partial orders, stored values, odd files, gzipped inputs.

Every input is a small hand-made file written here; expected values are worked
out by hand in each test.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from tests.test_ingest import tables, write
from tests.test_ingest_damaged import PDD_HEADER, cli, no_traceback, pdd_row
from workbench.config import Settings, load_settings
from workbench.unify import ingest, ingest_mapped

SALT = "test-salt"

CAMPAIGN_HEADER = (
    "活动编号,活动名称,大促,年份,蓄水期开始,爆发期开始,返场期开始,收尾期开始,"
    "蓄水期结束,爆发期结束,返场期结束,收尾期结束"
)
CAMPAIGN_DATES = (
    "2024-05-20,2024-06-01,2024-06-19,2024-06-21,2024-05-31,2024-06-18,2024-06-20,2024-06-25"
)
COUPON_HEADER = (
    "券编号,活动编号,会员编号,券类型,门槛,面额,发放时间,领取时间,使用时间,使用平台,使用订单号"
)


@pytest.fixture()
def wh(tmp_path: Path) -> Settings:
    return load_settings(root=tmp_path, env={"WORKBENCH_SALT": SALT})


def log_of(settings: Settings) -> pd.DataFrame:
    return tables(settings)["ingest_log"].set_index("source_file")


# --- odd files -------------------------------------------------------------------------


def test_an_empty_file_of_any_kind_is_logged_as_empty(wh: Settings, tmp_path: Path) -> None:
    """A 0-byte .csv, .xlsx or .jsonl, or a CSV of only a BOM and a blank line: one rule."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("orders.csv", "jd.xlsx", "trades.jsonl"):
        (raw / name).write_bytes(b"")
    (raw / "bom.csv").write_bytes(b"\xef\xbb\xbf\r\n")
    write(raw / "pdd.csv", [PDD_HEADER, pdd_row("240618-000000000000001")], "utf-8-sig")
    empty = {"orders.csv", "jd.xlsx", "trades.jsonl", "bom.csv"}

    result = ingest(raw, wh, progress=False)
    by_file = {f.file: f for f in result.files}
    assert {name: by_file[name].status for name in empty} == dict.fromkeys(empty, "empty")
    for name in empty:
        f = by_file[name]
        assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (0, 0, 0)
        assert "empty" in f.message
    assert by_file["pdd.csv"].status == "loaded" and not result.refused
    log = log_of(wh)
    assert set(log.index) == empty | {"pdd.csv"}
    assert (log.loc[sorted(empty), "status"] == "empty").all()
    assert tables(wh)["orders"]["order_key"].tolist() == ["pdd:240618-000000000000001"]

    other = load_settings(root=tmp_path / "cli", env={"WORKBENCH_SALT": SALT})
    r = cli(["ingest", str(raw)], other)
    no_traceback(r)
    assert r.exit_code == 0, r.output
    for name in empty:
        assert f"empty {name}: " in r.stdout, r.stdout


@pytest.mark.parametrize(
    ("name", "header", "row", "dropped"),
    [
        ("campaigns.csv", CAMPAIGN_HEADER, f"CMP-618-2024,2024 618,618,2024,{CAMPAIGN_DATES}", 0),
        (
            "coupons.csv",
            COUPON_HEADER,
            "CP1,CMP-618-2024,M1,满减,99,10,2024-05-20,2024-05-28 22:06:03,,,",
            0,
        ),
    ],
    ids=["campaigns-without-活动编号", "coupons-without-券编号"],
)
def test_an_export_lacking_its_id_column_is_refused_naming_it(
    wh: Settings, tmp_path: Path, name: str, header: str, row: str, dropped: int
) -> None:
    """All but one identifying column present, however few they are: refused, not skipped."""
    cols, values = header.split(","), row.split(",")
    missing = cols.pop(dropped)
    values.pop(dropped)
    write(tmp_path / "raw" / name, [",".join(cols), ",".join(values)], "utf-8-sig")
    f = ingest(tmp_path / "raw", wh, progress=False).files[0]
    assert f.status == "refused", (f.status, f.message)
    assert missing in f.message and name.removesuffix("s.csv") in f.message
    r = cli(["ingest", str(tmp_path / "raw")], wh)
    no_traceback(r)
    assert r.exit_code == 1 and missing in r.stderr


def test_a_header_sharing_one_column_with_a_format_is_still_skipped(
    wh: Settings, tmp_path: Path
) -> None:
    """A report that merely has a column named 活动编号 is not taken for a campaigns export."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "notes.csv").write_text("活动编号,备注\nCMP-618-2024,复盘会议\n", encoding="utf-8")
    write(raw / "pdd.csv", [PDD_HEADER, pdd_row("240618-000000000000001")], "utf-8-sig")
    by_file = {f.file: f for f in ingest(raw, wh, progress=False).files}
    assert by_file["notes.csv"].status == "skipped"


# Rows of junk after the good rows: a lead byte 0x81 followed by a comma is neither UTF-8
# nor GBK, and the junk has commas, so a reader that parses first sees short rows.
JUNK = b"\r\n,,\x81,\xff\x00\r\n\x81\x81,1\r\n"
JUNK_BAD_AT = 4  # "\r\n,," then 0x81


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_bytes_that_are_not_text_past_the_sample_are_named_by_offset(
    wh: Settings, tmp_path: Path, encoding: str
) -> None:
    """Good rows, more than the 64 KiB the encoding is judged from, then junk: refused
    naming the offset of the junk, with only the refusal on stderr."""
    rows = [pdd_row(f"240618-{i:015d}") for i in range(1, 601)]
    body = ("\r\n".join([PDD_HEADER, *rows])).encode(encoding)
    assert len(body) > 1 << 16
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "pdd.csv").write_bytes(body + JUNK)
    f = ingest(raw, wh, progress=False).files[0]
    assert f.status == "refused"
    offset = len(body) + JUNK_BAD_AT
    assert f"offset {offset:,}" in f.message, f.message
    assert encoding.upper() in f.message and "\n" not in f.message

    other = load_settings(root=tmp_path / "cli", env={"WORKBENCH_SALT": SALT})
    r = cli(["ingest", str(raw)], other)
    no_traceback(r)
    assert r.exit_code == 1
    assert "Exception ignored" not in r.stderr and "UnicodeDecodeError" not in r.stderr
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert err == ["1 file(s) refused, nothing of them loaded:", f"  refused {f.message}"]


def test_a_json_lines_file_that_is_not_text_is_not_told_to_become_a_csv(
    wh: Settings, tmp_path: Path
) -> None:
    """A .jsonl refusal says what is wrong with the file, not "re-export as CSV"."""
    raw = tmp_path / "raw"
    raw.mkdir()
    good = b'{"tid": "E2025061414222500764973", "orders": []}\n'
    (raw / "trades.jsonl").write_bytes(good + b"\x81,\xff\n")
    (raw / "broken.jsonl").write_text('{"tid": "E1", "orders": [\n', encoding="utf-8")
    by_file = {f.file: f for f in ingest(raw, wh, progress=False).files}
    bad = by_file["trades.jsonl"]
    assert bad.status == "refused"
    assert "CSV" not in bad.message
    assert f"byte {len(good):,}" in bad.message, bad.message
    broken = by_file["broken.jsonl"]
    assert broken.status == "refused" and "CSV" not in broken.message
    assert "line 1 is not JSON" in broken.message, broken.message


# --- gzipped inputs and mapping files --------------------------------------------------

MAPPING = """
[source]
name = "shop"
platform = "shop"
files = [{files}]
delimiter = ","

[columns]
order_id = "order"
account_id = "customer"
ordered_at = "date"
quantity = "qty"
line_amount = "amount"
"""


def _mapping(tmp_path: Path, files: list[str]) -> Path:
    m = tmp_path / "data" / "mappings" / "shop.toml"
    m.parent.mkdir(parents=True, exist_ok=True)
    m.write_text(MAPPING.format(files=", ".join(f'"{f}"' for f in files)), encoding="utf-8")
    return m


def test_a_gzipped_comma_separated_file_loads_through_a_mapping(
    wh: Settings, tmp_path: Path
) -> None:
    """A mapping's .csv.gz with delimiter "," is decompressed, like whitespace files."""
    text = (
        "order,customer,date,qty,amount\n"
        "A1,c1,2024-01-02,2,19.80\n"
        "A1,c1,2024-01-02,1,5.00\n"
        "A2,c2,2024-01-03,1,7.50\n"
    )
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "sales.csv.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    m = _mapping(tmp_path, ["shop/sales.csv.gz"])
    f = ingest_mapped(m, wh, progress=False).files[0]
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 3, 3, 0)
    orders = tables(wh)["orders"].set_index("order_key")
    # A1: 19.80 + 5.00 = 24.80 over two lines of 2 and 1 items; A2: 7.50.
    assert orders.loc["shop:A1", "paid_amount"] == pytest.approx(24.80)
    assert orders.loc["shop:A1", "items"] == 3
    assert orders.loc["shop:A2", "paid_amount"] == pytest.approx(7.50)


def test_a_gzipped_export_in_the_raw_folder_is_recognised(wh: Settings, tmp_path: Path) -> None:
    """A platform export compressed as .csv.gz is read like the plain file."""
    text = "\r\n".join([PDD_HEADER, pdd_row("240618-000000000000001")]) + "\r\n"
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "pdd.csv.gz").write_bytes(gzip.compress(text.encode("utf-8-sig")))
    f = ingest(tmp_path / "raw", wh, progress=False).files[0]
    assert (f.format, f.status, f.rows_loaded) == ("pdd_orders", "loaded", 1), f.message


def test_a_gzip_cut_short_is_refused_as_such(wh: Settings, tmp_path: Path) -> None:
    """A damaged .gz names the gzip problem, not "not UTF-8 or GBK text"."""
    rows = [f"A{i},c{i},2024-01-02,1,{i}.00" for i in range(1, 5001)]
    data = gzip.compress(("order,customer,date,qty,amount\n" + "\n".join(rows)).encode())
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "sales.csv.gz").write_bytes(data[: len(data) // 2])
    m = _mapping(tmp_path, ["shop/sales.csv.gz"])
    f = ingest_mapped(m, wh, progress=False).files[0]
    assert f.status == "refused"
    assert "gzip" in f.message and "cut short" in f.message, f.message
    assert "UTF-8" not in f.message


def test_a_mapping_names_the_root_its_relative_paths_are_read_from(tmp_path: Path) -> None:
    from workbench.sources.mapping import MappedSource

    m = _mapping(tmp_path, ["shop/nope.csv"])
    with pytest.raises(ValueError, match="project root") as err:
        MappedSource.read_toml(m, tmp_path)
    assert str(tmp_path) in str(err.value) and "nope.csv" in str(err.value)


# --- damaged ids and payloads in keys --------------------------------------------------

POS_HEADER = (
    "门店编码,门店名称,小票号,交易时间,交易类型,会员卡号,会员手机号,商品编码,商品名称,数量,单价,"
    "实收金额,原小票号"
)


def pos_line(ticket: str, kind: str = "销售", amount: str = "￥99.00", original: str = "") -> str:
    qty = "-1" if kind == "退货" else "1"
    return (
        f"HZ001,杭州湖滨店,{ticket},20240220121721,{kind},M1,13812345678,QX-LD-3000,洗衣液,"
        f"{qty},￥99.00,{amount},{original}"
    )


def test_a_pos_ticket_with_a_date_typed_into_its_id_is_rejected(
    wh: Settings, tmp_path: Path
) -> None:
    """HZ0012024-13-4500001475 is not a new ￥99 order beside the stored ticket."""
    good, damaged = "HZ0012024022000001475", "HZ0012024-13-4500001475"
    write(tmp_path / "day1" / "pos.csv", [POS_HEADER, pos_line(good)], "gbk")
    ingest(tmp_path / "day1", wh, progress=False)
    write(
        tmp_path / "day2" / "pos.csv",
        [
            POS_HEADER,
            pos_line(damaged),
            # A 退货 ticket pointing at a damaged original.
            pos_line("HZ0012024022300000001R", "退货", "￥-99.00", damaged),
        ],
        "gbk",
    )
    f = ingest(tmp_path / "day2", wh, progress=False).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (2, 0, 2)
    t = tables(wh)
    assert t["orders"]["order_key"].tolist() == [f"pos:{good}"]
    assert t["orders"]["net_amount"].tolist() == [99.0]
    assert t["refunds"].empty
    rej = t["rejected_rows"].set_index("row_number")
    assert (rej.loc[1, "column"], rej.loc[1, "value"]) == ("小票号", damaged)
    assert "damaged order id" in rej.loc[1, "reason"]
    assert (rej.loc[2, "column"], rej.loc[2, "value"]) == ("原小票号", damaged)
    assert "damaged original ticket id" in rej.loc[2, "reason"]


CRM_HEADER = "会员编号,手机号,姓名,性别,生日,会员等级,入会时间,积分,微信unionid,注册渠道,淘宝昵称,京东PIN,省份,城市"
AUDIENCE_HEADER = "活动编号,会员编号,分组,权益方案"
TOUCH_HEADER = "活动编号,会员编号,触达渠道,发送时间,是否送达,点击时间,是否访问"
PRODUCT_HEADER = "商品编码,商品名称,品牌,品类,每件可用次数,建议日用量(次/天),标价"
PAYLOADS = ('"=HYPERLINK(""http://evil.example"",""x"")"', "<script>alert(1)</script>")


def _member(member_id: str, birthday: str = "1988-03-02", phone: str = "13500068208") -> str:
    return f"{member_id},{phone},陈丹,女,{birthday},普通,2021年5月1日,120,,天猫,,,安徽省,合肥市"


KEYED = {
    # format: (table, header, a good row, rows whose key is damaged, the column named)
    "members": (
        "members",
        CRM_HEADER,
        _member("M000126722"),
        [_member("M0001-13-4526722"), *(_member(p) for p in PAYLOADS)],
        "会员编号",
    ),
    "coupons": (
        "coupons",
        COUPON_HEADER,
        "CP6182024000471279,CMP-618-2024,M000471279,满减,99,10,2024-05-20,,,,",
        [
            "CP6182024-13-45000471279,CMP-618-2024,M000471279,满减,99,10,2024-05-20,,,,",
            *(f"{p},CMP-618-2024,M000471279,满减,99,10,2024-05-20,,,," for p in PAYLOADS),
        ],
        "券编号",
    ),
    "campaigns": (
        "campaigns",
        CAMPAIGN_HEADER,
        f"CMP-618-2024,2024 618,618,2024,{CAMPAIGN_DATES}",
        [f"{p},2024 618,618,2024,{CAMPAIGN_DATES}" for p in PAYLOADS],
        "活动编号",
    ),
    "audience": (
        "campaign_audience",
        AUDIENCE_HEADER,
        "CMP-618-2024,M000222025,实验组,积分翻倍",
        [f"CMP-618-2024,{p},实验组,积分翻倍" for p in PAYLOADS],
        "会员编号",
    ),
    "touch-channel": (
        "touches",
        TOUCH_HEADER,
        "CMP-618-2024,M000222025,短信,2024-05-20 11:13:29,是,,否",
        [f"CMP-618-2024,M000222025,{p},2024-05-20 11:13:29,是,,否" for p in PAYLOADS],
        "触达渠道",
    ),
    "touch-campaign": (
        "touches",
        TOUCH_HEADER,
        "CMP-618-2024,M000222025,短信,2024-05-20 11:13:29,是,,否",
        [f"{p},M000222025,短信,2024-05-20 11:13:29,是,,否" for p in PAYLOADS],
        "活动编号",
    ),
    "products": (
        "products",
        PRODUCT_HEADER,
        "QX-LD-3000,清溪 深层洁净洗衣液 3kg,清溪,洗衣液,30,0.5,79.90",
        [f"{p},清溪 深层洁净洗衣液 3kg,清溪,洗衣液,30,0.5,79.90" for p in PAYLOADS],
        "商品编码",
    ),
}


@pytest.mark.parametrize("case", list(KEYED))
def test_a_damaged_id_or_a_payload_in_a_key_makes_no_new_record(
    wh: Settings, tmp_path: Path, case: str
) -> None:
    """Every keyed record has an id shape (or, for channels, a closed list): the rest is
    rejected naming the column, and the table keeps only the good record."""
    table, header, good, damaged, column = KEYED[case]
    write(tmp_path / "raw" / "f.csv", [header, good, *damaged], "utf-8-sig")
    f = ingest(tmp_path / "raw", wh, progress=False).files[0]
    assert f.status == "loaded", f.message
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (1 + len(damaged), 1, len(damaged))
    t = tables(wh)
    assert len(t[table]) == 1
    rej = t["rejected_rows"].sort_values("row_number")
    assert rej["row_number"].tolist() == list(range(2, 2 + len(damaged)))
    assert set(rej["column"]) == {column}
    reasons = set(rej["reason"])
    assert all("damaged" in r or "unknown touch channel" in r for r in reasons), reasons


# --- partial orders --------------------------------------------------------------------


def pdd_line(order_id: str, title: str, sku: str, amount: str, paid: str = "31.92") -> str:
    """A line of a PDD order: 商品总价 is the line's, 用户实付金额 the order's."""
    return (
        f"{title},{sku},{order_id},已收货,{amount},{paid},1,张三,138****0000,"
        "上海,上海市,徐汇区,漕溪路1号,2024-06-18 20:01:33"
    )


def test_a_damaged_line_holds_back_its_whole_pdd_order(wh: Settings, tmp_path: Path) -> None:
    """A re-export whose line 2 has a damaged 订单号: the order is held back whole, and the
    stored two-line order keeps both lines and its goods amount 19.92 + 12.00 = 31.92."""
    oid = "240618-000000000000001"
    write(
        tmp_path / "day1" / "pdd.csv",
        [
            PDD_HEADER,
            pdd_line(oid, "洗衣液 1kg", "QX-LD-1000", "19.92"),
            pdd_line(oid, "洗手液", "QX-HW-300", "12.00"),
        ],
        "utf-8-sig",
    )
    ingest(tmp_path / "day1", wh, progress=False)
    stored = tables(wh)
    assert stored["orders"]["goods_amount"].tolist() == [pytest.approx(31.92)]

    other = "240619-000000000000002"
    write(
        tmp_path / "day2" / "pdd.csv",
        [
            PDD_HEADER,
            pdd_line(oid, "洗衣液 1kg", "QX-LD-1000", "19.92"),
            pdd_line("2024-13-45-000000000000001", "洗手液", "QX-HW-300", "12.00"),
            # The next order, bought at another time: not held back.
            pdd_line(other, "洗手液", "QX-HW-300", "12.00", paid="12.00").replace(
                "2024-06-18 20:01:33", "2024-06-19 09:00:00"
            ),
        ],
        "utf-8-sig",
    )
    f = ingest(tmp_path / "day2", wh, progress=False).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, 1, 2)
    t = tables(wh)
    orders = t["orders"].set_index("order_key")
    assert orders.loc[f"pdd:{oid}", "goods_amount"] == pytest.approx(31.92)
    assert orders.loc[f"pdd:{oid}", "source_file"] == "pdd.csv"
    assert orders.loc[f"pdd:{other}", "goods_amount"] == pytest.approx(12.00)
    lines = t["order_lines"]
    mine = lines[lines["order_key"] == f"pdd:{oid}"].sort_values("line_no")
    assert mine["sku"].tolist() == ["QX-LD-1000", "QX-HW-300"]
    rej = t["rejected_rows"].set_index("row_number")
    assert "damaged order id" in rej.loc[2, "reason"]
    assert "row 2" in rej.loc[1, "reason"] and "held back" in rej.loc[1, "reason"]


ITEMS_HEADER = "订单编号,标题,价格,购买数量,外部系统编号,商品属性,订单状态,商家编码"


def test_a_rejected_line_of_an_item_report_keeps_the_stored_lines(
    wh: Settings, tmp_path: Path
) -> None:
    """Tmall item report: line 2 of an order with an unreadable 购买数量 holds back line 1,
    so the order's two stored lines are not replaced by one."""
    from tests.test_ingest import TMALL_HEADER, tmall_row

    oid = "2000000024561291332"
    orders = [TMALL_HEADER, tmall_row(oid, paid="105.80")]
    items = [
        f'="{oid}",清溪 深层洁净洗衣液 3kg,79.90,1,QX-LD-3000,,交易成功,QX-LD-3000',
        f'="{oid}",清溪 抑菌洗手液 补充装 300ml,25.90,1,QX-HW-300,,交易成功,QX-HW-300',
    ]
    write(tmp_path / "day1" / "orders.csv", orders, "gbk")
    write(tmp_path / "day1" / "items.csv", [ITEMS_HEADER, *items], "gbk")
    ingest(tmp_path / "day1", wh, progress=False)
    assert len(tables(wh)["order_lines"]) == 2
    write(
        tmp_path / "day2" / "items.csv",
        [ITEMS_HEADER, items[0], items[1].replace(",25.90,1,", ",25.90,一,")],
        "gbk",
    )
    f = ingest(tmp_path / "day2", wh, progress=False).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (2, 0, 2)
    lines = tables(wh)["order_lines"].sort_values("line_no")
    assert lines["sku"].tolist() == ["QX-LD-3000", "QX-HW-300"]
    assert lines["unit_price"].tolist() == [pytest.approx(79.90), pytest.approx(25.90)]


def test_a_refund_ticket_with_a_rejected_line_is_held_back_whole(
    wh: Settings, tmp_path: Path
) -> None:
    """A two-line 退货 ticket whose second line's amount is unreadable nets nothing, and
    every row of it is accounted for as rejected."""
    sale = [pos_line("HZ0012024022000001475"), pos_line("HZ0012024022000001475")]
    refund = [
        pos_line("HZ0012024022300000001R", "退货", "￥-99.00", "HZ0012024022000001475"),
        pos_line("HZ0012024022300000001R", "退货", "￥-9九.00", "HZ0012024022000001475"),
    ]
    write(tmp_path / "raw" / "pos.csv", [POS_HEADER, *sale, *refund], "gbk")
    f = ingest(tmp_path / "raw", wh, progress=False).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (4, 2, 2)
    t = tables(wh)
    o = t["orders"].iloc[0]
    # Paid 2 x 99.00; the refund is held back, so nothing is netted.
    assert (o["paid_amount"], o["refund_amount"], o["net_amount"]) == (198.0, 0.0, 198.0)
    assert t["refunds"].empty
    rej = t["rejected_rows"].set_index("row_number")["reason"]
    assert rej.loc[4] == "unreadable amount" and "row 4" in rej.loc[3]


# --- stored values and values as they came ---------------------------------------------


def test_an_unreadable_optional_value_keeps_the_stored_one(wh: Settings, tmp_path: Path) -> None:
    """A re-exported member with 生日 2024-13-45 and a phone that is not a mobile number:
    both flagged; the stored birth year 1988 and phone stay. A coupon's unreadable claim
    time keeps the stored one."""
    import hashlib
    import hmac

    write(tmp_path / "day1" / "crm.csv", [CRM_HEADER, _member("M1")], "utf-8-sig")
    coupon = "CP1,CMP-618-2024,M1,满减,99,10,2024-05-20,{claimed},,,"
    write(
        tmp_path / "day1" / "k.csv",
        [COUPON_HEADER, coupon.format(claimed="2024-05-28 22:06:03")],
        "utf-8-sig",
    )
    ingest(tmp_path / "day1", wh, progress=False)
    write(
        tmp_path / "day2" / "crm.csv",
        [CRM_HEADER, _member("M1", birthday="2024-13-45", phone="135000")],
        "utf-8-sig",
    )
    write(
        tmp_path / "day2" / "k.csv",
        [COUPON_HEADER, coupon.format(claimed="not a date")],
        "utf-8-sig",
    )
    ingest(tmp_path / "day2", wh, progress=False)
    t = tables(wh)
    member = t["members"].set_index("member_id").loc["M1"]
    phone = hmac.new(SALT.encode(), b"13500068208", hashlib.sha256).hexdigest()
    assert member["birth_year"] == 1988
    assert member["phone_hash"] == phone
    contact = t["contacts"].set_index("source_key").loc["crm:M1"]
    assert (contact["phone_hash"], contact["phone_masked"]) == (phone, "135****8208")
    coupon_row = t["coupons"].set_index("coupon_id").loc["CP1"]
    assert str(coupon_row["claimed_at"]) == "2024-05-28 22:06:03"
    fv = t["flagged_values"]
    flagged = set(zip(fv["source_file"], fv["column"], strict=True))
    assert flagged == {("crm.csv", "生日"), ("crm.csv", "手机号"), ("k.csv", "领取时间")}


def test_values_are_stored_as_they_came(wh: Settings, tmp_path: Path) -> None:
    """=1+1 stays =1+1, an apostrophe stays; only the ="..." wrapper is unwrapped."""
    write(
        tmp_path / "raw" / "c.csv",
        [CAMPAIGN_HEADER, f"CMP-618-2024,=1+1,'618,2024,{CAMPAIGN_DATES}"],
        "utf-8-sig",
    )
    write(
        tmp_path / "raw" / "a.csv",
        [AUDIENCE_HEADER, 'CMP-618-2024,="M000222025",@SUM(1+1),"=HYPERLINK(""x"")"'],
        "utf-8-sig",
    )
    ingest(tmp_path / "raw", wh, progress=False)
    t = tables(wh)
    camp = t["campaigns"].iloc[0]
    assert (camp["name"], camp["festival"]) == ("=1+1", "'618")
    aud = t["campaign_audience"].iloc[0]
    assert (aud["member_id"], aud["group_name"], aud["benefit"]) == (
        "M000222025",
        "@SUM(1+1)",
        '=HYPERLINK("x")',
    )


# --- downloads that endanger their reader ----------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-1+1", "@SUM(1+1)", "\t=1+1"]


def downloaded(link: str) -> list[list[str]]:
    """The rows of a report table's CSV download, as a spreadsheet program reads them."""
    import base64
    import csv
    import io
    import re

    payload = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', link)
    assert payload is not None, link
    text = base64.b64decode(payload.group(1)).decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_csv_downloads_neutralise_formulas_but_keep_negative_numbers() -> None:
    """Each of = + - @ and a tab at the start of a text cell or a column name gets a
    quote; numbers, negative ones included, stay numbers."""
    from workbench.report.theme import table

    df = pd.DataFrame(
        {"category": [*FORMULAS, "洗衣液"], "change": [-1.5, -2.0, 3.0, -4.25, 0.0, -0.5]}
    )
    df["=cmd"] = "ok"
    rows = downloaded(table(df).csv_link())
    assert rows[0] == ["category", "change", "'=cmd"]
    assert [r[0] for r in rows[1:]] == [f"'{f}" for f in FORMULAS] + ["洗衣液"]
    assert [r[1] for r in rows[1:]] == ["-1.5", "-2.0", "3.0", "-4.25", "0.0", "-0.5"]
    # The page still shows the values as they are, escaped.
    page = table(df).to_html()
    assert "=HYPERLINK(" in page and '"http://evil.example"' not in page


def test_file_names_in_the_rejection_download_cannot_run_as_formulas(
    wh: Settings, tmp_path: Path
) -> None:
    """Exports named =1+1.csv, +1+1.csv, -1+1.csv, @SUM(1+1).csv, each with a row rejected
    for another reason: the rejection table's CSV names each example file as text."""
    from workbench.engine import connect
    from workbench.report.theme import table
    from workbench.unify.quality import rejection_summary

    good = pdd_row("240618-000000000000009")
    damaged = {
        "=1+1.csv": pdd_row("240618-0000"),  # damaged order id
        "+1+1.csv": pdd_row("240618-000000000000001", paid="七九"),  # unreadable amount
        "-1+1.csv": pdd_row("240618-000000000000002").replace("2024-06-18", "2024-13-45"),
        "@SUM(1+1).csv": pdd_row(""),  # missing order id
    }
    for name, row in damaged.items():
        write(tmp_path / "raw" / name, [PDD_HEADER, good, row], "utf-8-sig")
    ingest(tmp_path / "raw", wh, progress=False)
    con = connect(wh, read_only=True)
    try:
        summary = rejection_summary(con)
    finally:
        con.disconnect()
    rows = downloaded(table(summary, name="rejections").csv_link())
    col = rows[0].index("example_file")
    files = {r[col] for r in rows[1:]}
    assert files == {f"'{name}" for name in damaged}, files
