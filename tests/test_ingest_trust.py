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
