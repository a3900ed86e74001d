"""Recognise a raw export: its encoding, and which platform format it is, from its header.

File names lie (an analyst renames a download); headers do not. Each known
format is identified by a few columns only that platform writes.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from workbench.errors import DataError

SNIFF_BYTES = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"


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
        empty: the file holds nothing (no bytes, or only a byte-order mark and
            blank lines); it is logged as empty and loads nothing.
    """

    path: Path
    rel: str
    format: str
    platform: str
    encoding: str = ""
    columns: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    problem: str = ""
    empty: bool = False


def walk(raw_dir: str | Path) -> Iterator[ExportFile]:
    """Every file under ``raw_dir`` (hidden files and folders aside), recognised by its header.

    A header that has all identifying columns of a format is that format; one
    that lacks a single identifying column is taken as that format with
    ``missing`` set (see :func:`match_header_near`); anything else is
    ``unknown``. An empty file is marked ``empty``, whatever its kind.
    """
    root = Path(raw_dir)
    for p in sorted(x for x in root.rglob("*") if x.is_file()):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        try:
            if is_empty(p):
                yield ExportFile(p, rel.as_posix(), "unknown", "unknown", empty=True)
                continue
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

    A gzipped file is judged from its decompressed text.

    Raises:
        DataError: the bytes are none of these, naming the file and the offset
            where the encoding that reads furthest fails.
    """
    head = _head(path)
    if head.startswith(BOM):
        return "utf-8-sig"
    # A multi-byte character may be cut at the end of a full sample: judge whole lines.
    sample = head if len(head) < SNIFF_BYTES else head[: head.rfind(b"\n") + 1]
    failed: dict[str, int] = {}
    for enc in ("utf-8", "gbk", "gb18030"):
        try:
            sample.decode(enc)
            return enc
        except UnicodeDecodeError as exc:
            failed[enc] = exc.start
    name = Path(path).name
    best = max(failed, key=lambda e: failed[e])
    at = failed[best]
    if at == 0:
        raise DataError(
            f"{name}: not UTF-8 or GBK text: its first bytes are not text in UTF-8, GBK or "
            "GB18030 (another encoding, or not a text file); re-export it in UTF-8 or GBK"
        )
    raise DataError(
        f"{name}: not UTF-8 or GBK text: it reads as {best.upper()} up to byte {at:,}, where "
        f"the bytes are not {best.upper()} text (a damaged file, or one that mixes "
        "encodings); re-export it in UTF-8 or GBK"
    )


def is_gzip(path: str | Path) -> bool:
    """Whether the file is gzip-compressed (judged from its first bytes, not its name)."""
    with Path(path).open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_bytes(path: str | Path) -> BinaryIO:
    """The file opened for reading bytes, decompressed when it is gzipped."""
    p = Path(path)
    return gzip.open(p, "rb") if is_gzip(p) else p.open("rb")  # type: ignore[return-value]


def read_bytes(path: str | Path) -> bytes:
    """The whole file as bytes, decompressed when it is gzipped.

    Raises:
        DataError: the gzip data is damaged (cut short, or not gzip past its first bytes).
    """
    try:
        with open_bytes(path) as fh:
            return fh.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _gzip_error(path, exc) from None


def _gzip_error(path: str | Path, exc: Exception) -> DataError:
    if isinstance(exc, EOFError):
        why = "it ends before the compressed stream does: the file was cut short"
    else:
        why = str(exc).split(":")[0] or type(exc).__name__
    return DataError(
        f"{Path(path).name}: the gzip data is damaged ({why}); "
        "compress the export again, or load it uncompressed"
    )


def data_suffix(path: str | Path) -> str:
    """The file's kind from its name, a ``.gz`` aside: ``orders.csv.gz`` gives ``.csv``."""
    name = Path(path).name.lower()
    return Path(name.removesuffix(".gz")).suffix


def is_empty(path: str | Path) -> bool:
    """Whether the file holds nothing: no bytes, or only a byte-order mark and blank lines."""
    p = Path(path)
    if p.stat().st_size == 0:
        return True
    head = _head(p)
    return len(head) < SNIFF_BYTES and not head.removeprefix(BOM).strip()


def _head(path: str | Path) -> bytes:
    try:
        with open_bytes(path) as fh:
            return fh.read(SNIFF_BYTES)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _gzip_error(path, exc) from None


def header_of(path: str | Path) -> tuple[list[str], str]:
    """The column names of a CSV, Excel or JSON-lines export (gzipped or not), and its encoding."""
    p = Path(path)
    suffix = data_suffix(p)
    if suffix == ".xlsx":
        return _xlsx_header(p), "xlsx"
    enc = detect_encoding(p)
    with open_bytes(p) as fh:
        first = fh.readline().decode(enc, errors="replace")
    if suffix in JSON_SUFFIXES:
        try:
            record = json.loads(first)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{p.name}: line 1 is not JSON ({exc.msg} at column {exc.colno}); each line "
                "of a JSON-lines export is one JSON object"
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{p.name}: line 1 is JSON but not an object (a {type(record).__name__}); "
                "each line of a JSON-lines export is one JSON object"
            )
        return list(record), enc
    return [c.strip().strip('"') for c in first.rstrip("\r\n").split(",")], enc


JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")


def match_header(columns: list[str]) -> Signature | None:
    """The known format whose identifying columns all appear in ``columns``."""
    present = set(columns)
    return next((sig for sig in SIGNATURES if sig.columns <= present), None)


def match_header_near(columns: list[str]) -> tuple[Signature | None, tuple[str, ...]]:
    """The format of a header, and the identifying columns it lacks.

    A header with all of a format's identifying columns matches it. Failing
    that, a header lacking exactly one of them, however few they are, is taken
    for that format (``missing`` names the lacking column). When several formats
    are so, the one sharing the most columns with the header wins; a tie, or a
    header sharing fewer than two columns with the format, gives ``(None, ())``.

    Example:
        >>> sig, missing = match_header_near(["活动名称", "大促", "年份", "蓄水期开始", "收尾期结束"])
        >>> sig.format, missing
        ('campaigns', ('活动编号',))
    """
    exact = match_header(columns)
    if exact:
        return exact, ()
    present = set(columns)
    near = sorted(
        (
            (len(_known_columns(sig.format) & present), sig)
            for sig in SIGNATURES
            if len(sig.columns - present) == 1
        ),
        key=lambda pair: -pair[0],
    )
    if not near or near[0][0] < 2 or (len(near) > 1 and near[1][0] == near[0][0]):
        return None, ()
    best = near[0][1]
    return best, tuple(sorted(best.columns - present))


def _known_columns(fmt: str) -> frozenset[str]:
    """Every column a format's loader reads, and its identifying columns."""
    from workbench.sources.specs import ORDER_SPECS
    from workbench.sources.tables import TABLE_SPECS

    sig = next(s for s in SIGNATURES if s.format == fmt)
    if fmt in ORDER_SPECS:
        spec = ORDER_SPECS[fmt]
        cols = set(spec.columns.values()) | {path.split(".")[0] for path in spec.paths.values()}
    elif fmt in TABLE_SPECS:
        cols = {header for header, _ in TABLE_SPECS[fmt].columns.values()}
    else:
        cols = set()
    return frozenset(cols) | sig.columns


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
        if f.empty:
            problem = "the file is empty"
        try:
            n = 0 if f.problem or f.empty else _count_rows(f.path)
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


def xlsx_source(path: Path) -> Path | bytes:
    """What the Excel reader opens: the path, or the decompressed bytes of a gzipped workbook."""
    return read_bytes(path) if is_gzip(path) else path


def _xlsx_header(path: Path) -> list[str]:
    import fastexcel

    try:
        sheet = fastexcel.read_excel(xlsx_source(path)).load_sheet(0, n_rows=0)
    except Exception as exc:  # fastexcel raises its own error types for a damaged workbook
        raise DataError(
            f"{path.name}: cannot be read as an Excel workbook ({type(exc).__name__})"
        ) from None
    return [c.name for c in sheet.available_columns()]


def _count_rows(path: Path) -> int:
    if data_suffix(path) == ".xlsx":
        import fastexcel

        try:
            source = xlsx_source(path)
            return int(fastexcel.read_excel(source).load_sheet(0, dtypes="string").height)
        except Exception as exc:  # a damaged workbook
            raise DataError(
                f"{path.name}: cannot be read as an Excel workbook ({type(exc).__name__})"
            ) from None
    try:
        with open_bytes(path) as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _gzip_error(path, exc) from None
    header = 0 if data_suffix(path) in JSON_SUFFIXES else 1
    return max(lines - header, 0)
