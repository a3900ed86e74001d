"""Formats are recognised from headers, encodings from bytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.sources import detect_encoding, detect_format, inventory
from workbench.synth import SynthResult

EXPECTED = {
    "tmall/ExportOrderList_2024H1.csv": ("tmall_orders", "gbk"),
    "tmall/ExportOrderList_items_2024H1.csv": ("tmall_items", "gbk"),
    "jd/jd_orders_2024.xlsx": ("jd_orders", "xlsx"),
    "pdd/pdd_orders_2024Q1.csv": ("pdd_orders", "utf-8-sig"),
    "youzan/youzan_orders_2024.csv": ("youzan_orders", "utf-8-sig"),
    "youzan/youzan_trades_2025H1.jsonl": ("youzan_trades", "utf-8"),
    "douyin/douyin_orders_2025Q1.csv": ("douyin_orders", "utf-8"),
    "pos/pos_sales_2024.csv": ("pos_sales", "gbk"),
    "crm/members.csv": ("crm_members", "utf-8-sig"),
    "catalog/products.csv": ("products", "utf-8-sig"),
    "campaign/coupons.csv": ("coupons", "utf-8-sig"),
}


def test_each_synthetic_export_is_recognised(small_synth: SynthResult) -> None:
    files = inventory(small_synth.raw_dir).set_index("file")
    for name, (fmt, enc) in EXPECTED.items():
        assert files.loc[name, "format"] == fmt, name
        assert files.loc[name, "encoding"] == enc, name
    assert (files["platform"] != "unknown").all()
    assert (files["problem"] == "").all()


def test_format_comes_from_the_header_not_the_name(
    small_synth: SynthResult, tmp_path: Path
) -> None:
    renamed = tmp_path / "download (3).csv"
    shutil.copy(small_synth.raw_dir / "pos" / "pos_sales_2024.csv", renamed)
    sig = detect_format(renamed)
    assert sig is not None and (sig.platform, sig.format) == ("pos", "pos_sales")


def test_row_counts_match_the_written_rows(small_synth: SynthResult) -> None:
    files = inventory(small_synth.raw_dir).set_index("file")
    for path, written in small_synth.files.items():
        rel = Path(path).relative_to(small_synth.raw_dir).as_posix()
        assert files.loc[rel, "rows"] == written, rel


def test_encodings_on_hand_made_files(tmp_path: Path) -> None:
    text = "订单编号,金额\n1,￥1,234.00\n"
    (tmp_path / "gbk.csv").write_bytes(text.encode("gbk"))
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "plain.csv").write_bytes(text.encode("utf-8"))
    (tmp_path / "utf16.csv").write_bytes(text.encode("utf-16"))
    assert detect_encoding(tmp_path / "gbk.csv") == "gbk"
    assert detect_encoding(tmp_path / "bom.csv") == "utf-8-sig"
    assert detect_encoding(tmp_path / "plain.csv") == "utf-8"
    with pytest.raises(ValueError, match=r"utf16\.csv: not UTF-8 or GBK"):
        detect_encoding(tmp_path / "utf16.csv")


def test_unknown_and_unreadable_files_are_listed_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_bytes("订单".encode("utf-16"))
    files = inventory(tmp_path).set_index("file")
    assert files.loc["notes.csv", "platform"] == "unknown"
    assert files.loc["notes.csv", "rows"] == 1
    assert "not UTF-8 or GBK" in files.loc["bad.csv", "problem"]


def test_missing_raw_dir_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="workbench synth"):
        inventory(tmp_path / "nope")
