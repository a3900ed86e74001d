"""Recognise a raw export: its encoding, and which platform format it is, from its header.

File names lie (an analyst renames a download); headers do not. Each known
format is identified by a few columns only that platform writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

SNIFF_BYTES = 1 << 16


@dataclass(frozen=True)
class Signature:
    """A format: the platform, a format id, and columns that identify its header."""

    platform: str
    format: str
    columns: frozenset[str]


SIGNATURES: tuple[Signature, ...] = (
    Signature("tmall", "tmall_orders", frozenset({"订单编号", "买家会员名", "收货地址"})),
    Signature("tmall", "tmall_items", frozenset({"订单编号", "标题", "外部系统编号"})),
    Signature("jd", "jd_orders", frozenset({"订单号", "下单帐号", "京东价"})),
    Signature("pdd", "pdd_orders", frozenset({"订单号", "商品总价(元)", "收货人"})),
    Signature("youzan", "youzan_orders", frozenset({"订单号", "买家手机号", "粉丝昵称"})),
    Signature("youzan", "youzan_trades", frozenset({"tid", "buyer_info", "orders"})),
    Signature("douyin", "douyin_orders", frozenset({"主订单编号", "子订单编号", "流量来源"})),
    Signature("pos", "pos_sales", frozenset({"门店编码", "小票号", "交易类型"})),
    Signature("catalog", "products", frozenset({"商品编码", "品牌", "品类", "每件可用次数"})),
    Signature("crm", "crm_members", frozenset({"会员编号", "会员等级", "入会时间"})),
    Signature("campaign", "campaigns", frozenset({"活动编号", "蓄水期开始"})),
    Signature("campaign", "campaign_audience", frozenset({"活动编号", "会员编号", "分组"})),
    Signature("campaign", "touches", frozenset({"活动编号", "触达渠道", "发送时间"})),
    Signature("campaign", "coupons", frozenset({"券编号", "活动编号", "面额"})),
)


def detect_encoding(path: str | Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` or ``gbk``, judged from the first 64 KiB.

    Raises:
        ValueError: the bytes are none of these, naming the file and the offset.
    """
    head = _head(path)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    # A multi-byte character may be cut at the end of a full sample: judge whole lines.
    sample = head if len(head) < SNIFF_BYTES else head[: head.rfind(b"\n") + 1]
    errors = []
    for enc in ("utf-8", "gbk"):
        try:
            sample.decode(enc)
            return enc
        except UnicodeDecodeError as exc:
            errors.append(f"{enc}: byte {exc.start}")
    raise ValueError(
        f"{path}: not UTF-8 or GBK text ({'; '.join(errors)}); re-export as CSV in UTF-8 or GBK"
    )


def _head(path: str | Path) -> bytes:
    with Path(path).open("rb") as fh:
        return fh.read(SNIFF_BYTES)


def header_of(path: str | Path) -> tuple[list[str], str]:
    """The column names of a CSV, Excel or JSON-lines export, and its encoding."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".xlsx":
        con = _excel_connection()
        rel = con.sql(f"select * from read_xlsx('{p.as_posix()}', all_varchar=true) limit 0")
        cols = list(rel.columns)
        con.close()
        return cols, "xlsx"
    enc = detect_encoding(p)
    with p.open(encoding=enc, newline="") as fh:
        first = fh.readline()
    if suffix in (".jsonl", ".json", ".ndjson"):
        try:
            return list(json.loads(first)), enc
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: line 1 is not a JSON object ({exc.msg})") from exc
    return [c.strip().strip('"') for c in first.rstrip("\r\n").split(",")], enc


def match_header(columns: list[str]) -> Signature | None:
    """The known format whose identifying columns all appear in ``columns``."""
    present = set(columns)
    return next((sig for sig in SIGNATURES if sig.columns <= present), None)


def detect_format(path: str | Path) -> Signature | None:
    """The known format of a file, judged from its header; ``None`` if unknown."""
    return match_header(header_of(path)[0])


def inventory(raw_dir: str | Path) -> pd.DataFrame:
    """One row per file under ``raw_dir``: platform, format, encoding, size, data rows.

    Unrecognised files are listed with ``platform`` ``"unknown"`` rather than skipped.

    Example:
        >>> inventory("data/raw").groupby("platform").rows.sum()  # doctest: +SKIP
    """
    root = Path(raw_dir)
    if not root.is_dir():
        raise FileNotFoundError(
            f"raw directory {root} does not exist; run `workbench synth` or point raw_dir at your exports"
        )
    rows = []
    for p in sorted(x for x in root.rglob("*") if x.is_file() and not x.name.startswith(".")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        try:
            cols, enc = header_of(p)
            sig = match_header(cols)
            n = _count_rows(p)
            problem = ""
        except (ValueError, OSError) as exc:
            enc, sig, n, problem = "", None, 0, str(exc)
        rows.append(
            {
                "file": str(p.relative_to(root)),
                "platform": sig.platform if sig else "unknown",
                "format": sig.format if sig else "unknown",
                "encoding": enc,
                "bytes": p.stat().st_size,
                "rows": n,
                "problem": problem,
            }
        )
    return pd.DataFrame(
        rows, columns=["file", "platform", "format", "encoding", "bytes", "rows", "problem"]
    )


def _excel_connection() -> Any:
    import duckdb

    from workbench.engine import load_excel

    con = duckdb.connect()
    load_excel(con)
    return con


def _count_rows(path: Path) -> int:
    if path.suffix.lower() == ".xlsx":
        con = _excel_connection()
        row = con.execute(
            f"select count(*) from read_xlsx('{path.as_posix()}', all_varchar=true)"
        ).fetchone()
        con.close()
        return int(row[0]) if row else 0
    with path.open("rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    header = 0 if path.suffix.lower() in (".jsonl", ".ndjson") else 1
    return max(lines - header, 0)
