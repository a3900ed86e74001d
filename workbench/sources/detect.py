"""Recognise a raw export: its encoding, and which platform format it is, from its header.

File names lie (an analyst renames a download); headers do not. Each known
format is identified by a few columns only that platform writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.errors import DataError

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


@dataclass(frozen=True)
class ExportFile:
    """One file found under the raw directory, and what its header says it is.

    Attributes:
        path: where it is; ``rel`` is the path relative to the raw directory.
        format, platform: the recognised format, or ``"unknown"``.
        encoding: ``utf-8``, ``utf-8-sig``, ``gbk``, ``gb18030`` or ``xlsx``.
        columns: the header.
        missing: identifying columns of ``format`` the header lacks: the file is
            clearly that format, damaged (it is refused, naming them).
        problem: why the header could not be read, if it could not.
    """

    path: Path
    rel: str
    format: str
    platform: str
    encoding: str = ""
    columns: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    problem: str = ""


def walk(raw_dir: str | Path) -> Iterator[ExportFile]:
    """Every file under ``raw_dir`` (hidden files and folders aside), recognised by its header.

    A header that has all identifying columns of a format is that format; one
    that lacks a single identifying column but has at least two is taken as that
    format with ``missing`` set; anything else is ``unknown``.
    """
    root = Path(raw_dir)
    for p in sorted(x for x in root.rglob("*") if x.is_file()):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        try:
            cols, enc = header_of(p)
        except (DataError, OSError) as exc:
            yield ExportFile(p, rel.as_posix(), "unknown", "unknown", problem=str(exc))
            continue
        sig, missing = match_header_near(cols)
        yield ExportFile(
            p,
            rel.as_posix(),
            sig.format if sig else "unknown",
            sig.platform if sig else "unknown",
            enc,
            tuple(cols),
            missing,
        )


def detect_encoding(path: str | Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8``, ``gbk`` or ``gb18030``, judged from the first 64 KiB.

    Raises:
        ValueError: the bytes are none of these, naming the file and the offset.
    """
    head = _head(path)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    # A multi-byte character may be cut at the end of a full sample: judge whole lines.
    sample = head if len(head) < SNIFF_BYTES else head[: head.rfind(b"\n") + 1]
    errors = []
    for enc in ("utf-8", "gbk", "gb18030"):
        try:
            sample.decode(enc)
            return enc
        except UnicodeDecodeError as exc:
            errors.append(f"{enc}: byte {exc.start}")
    raise DataError(
        f"{Path(path).name}: not UTF-8 or GBK text ({'; '.join(errors)}); re-export as CSV in UTF-8 or GBK"
    )


def _head(path: str | Path) -> bytes:
    with Path(path).open("rb") as fh:
        return fh.read(SNIFF_BYTES)


def header_of(path: str | Path) -> tuple[list[str], str]:
    """The column names of a CSV, Excel or JSON-lines export, and its encoding."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".xlsx":
        return _xlsx_header(p), "xlsx"
    enc = detect_encoding(p)
    with p.open(encoding=enc, newline="", errors="replace") as fh:
        first = fh.readline()
    if suffix in (".jsonl", ".json", ".ndjson"):
        try:
            record = json.loads(first)
        except json.JSONDecodeError as exc:
            raise DataError(f"{p.name}: line 1 is not a JSON object ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{p.name}: line 1 is not a JSON object")
        return list(record), enc
    return [c.strip().strip('"') for c in first.rstrip("\r\n").split(",")], enc


def match_header(columns: list[str]) -> Signature | None:
    """The known format whose identifying columns all appear in ``columns``."""
    present = set(columns)
    return next((sig for sig in SIGNATURES if sig.columns <= present), None)


def match_header_near(columns: list[str]) -> tuple[Signature | None, tuple[str, ...]]:
    """The format of a header, and the identifying columns it lacks.

    A header with all of a format's identifying columns matches it. Failing
    that, a header lacking exactly one of them but holding at least two matches
    the one format where that is so (``missing`` names the lacking column); two
    such formats, or none, give ``(None, ())``.
    """
    exact = match_header(columns)
    if exact:
        return exact, ()
    present = set(columns)
    near = [
        sig
        for sig in SIGNATURES
        if len(sig.columns - present) == 1 and len(sig.columns & present) >= 2
    ]
    if len(near) != 1:
        return None, ()
    return near[0], tuple(sorted(near[0].columns - present))


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
    for f in walk(root):
        problem = f.problem or (
            f"lacks column {', '.join(f.missing)} of {f.format}" if f.missing else ""
        )
        try:
            n = 0 if f.problem else _count_rows(f.path)
        except (DataError, OSError) as exc:
            n, problem = 0, str(exc)
        rows.append(
            {
                "file": f.rel,
                "platform": f.platform,
                "format": f.format,
                "encoding": f.encoding,
                "bytes": f.path.stat().st_size,
                "rows": n,
                "problem": problem,
            }
        )
    return pd.DataFrame(
        rows, columns=["file", "platform", "format", "encoding", "bytes", "rows", "problem"]
    )


def _xlsx_header(path: Path) -> list[str]:
    import fastexcel

    try:
        sheet = fastexcel.read_excel(path).load_sheet(0, n_rows=0)
    except Exception as exc:  # fastexcel raises its own error types for a damaged workbook
        raise DataError(
            f"{path.name}: cannot be read as an Excel workbook ({type(exc).__name__})"
        ) from None
    return [c.name for c in sheet.available_columns()]


def _count_rows(path: Path) -> int:
    if path.suffix.lower() == ".xlsx":
        import fastexcel

        try:
            return int(fastexcel.read_excel(path).load_sheet(0, dtypes="string").height)
        except Exception as exc:  # a damaged workbook
            raise DataError(
                f"{path.name}: cannot be read as an Excel workbook ({type(exc).__name__})"
            ) from None
    with path.open("rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    header = 0 if path.suffix.lower() in (".jsonl", ".ndjson") else 1
    return max(lines - header, 0)
