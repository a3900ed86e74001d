"""Read one raw export, as it comes, into an Arrow table of strings with a row number.

``_row`` is the data row number: 1 is the first row after the header (for
JSON lines, the first line). A row that cannot be split into the header's
columns (a CSV line with a stray comma, a JSON line that does not parse) is
set aside in :attr:`Staged.bad_rows` with its row number, for the rejected
rows; the rest of the file is read. A file that cannot be read at all raises
:class:`~workbench.errors.DataError`. No message quotes a row's content: it
may hold a phone number or a name.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from workbench.errors import DataError
from workbench.sources.detect import (
    BOM,
    JSON_SUFFIXES,
    data_suffix,
    detect_encoding,
    header_of,
    read_bytes,
    xlsx_source,
)

ROW = "_row"
LINE = "_line"  # the order of the rows a nested record was flattened into


@dataclass
class Staged:
    """A file read into Arrow: every column text, plus ``_row``."""

    table: pa.Table
    encoding: str
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.bad_rows)


def _numbered(table: pa.Table, bad: list[int]) -> pa.Table:
    """Add ``_row``: the data row numbers of the rows kept, skipping the ``bad`` ones."""
    rows = np.arange(1, table.num_rows + len(bad) + 1, dtype=np.int64)
    if bad:
        rows = rows[~np.isin(rows, np.asarray(bad, dtype=np.int64))]
    return table.append_column(ROW, pa.array(rows[: table.num_rows]))


def _as_text(table: pa.Table) -> pa.Table:
    return table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))


def utf8_text(path: Path, encoding: str) -> bytes:
    """The whole file (decompressed when gzipped) as UTF-8 bytes without a byte-order mark.

    The encoding is judged from the first 64 KiB only; the rest is checked here,
    so a file damaged further on is refused naming where, before any row is read.

    Raises:
        DataError: bytes that are not text in ``encoding``, naming their offset.
    """
    try:
        codec = codecs.lookup(encoding.replace("-sig", "")).name
    except LookupError:
        raise DataError(f"{path.name}: unknown encoding {encoding!r}") from None
    data = read_bytes(path)
    try:
        if codec == "utf-8":
            data.decode("utf-8")
            return data.removeprefix(BOM)
        return data.decode(codec).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name}: the bytes at offset {exc.start:,} are not {codec.upper()} text, "
            "the encoding the file is read in (a damaged file, or one that mixes "
            "encodings); re-export it in UTF-8 or GBK"
        ) from None


def read_csv(path: Path, encoding: str | None = None, delimiter: str = ",") -> Staged:
    """A delimited text file, every column text; rows of the wrong width set aside.

    ``encoding`` is detected when not given; a gzipped file is decompressed.
    """
    columns, enc = header_of(path) if encoding is None else ([], encoding)
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise DataError(f"{path.name}: repeated column name(s) {dupes} in the header")
    uneven: list[int] = []

    def count(row: pacsv.InvalidRow) -> str:
        uneven.append(row.number or 0)
        return "skip"

    data = utf8_text(path, enc)

    def read(threads: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(block_size=1 << 24, use_threads=threads),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=count
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    try:
        table = read(threads=True)
        if uneven:
            # Row numbers of skipped rows are only counted on a single-threaded read.
            uneven.clear()
            table = read(threads=False)
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"{path.name}: cannot be read as {enc} CSV ({_first_clause(exc)})"
        ) from None
    table = _as_text(table)
    bad = [n - 1 for n in uneven]  # the header is record 1
    width = len(table.column_names)
    reason = f"the row does not have the header's {width} columns"
    return Staged(_numbered(table, bad), enc, [(r, reason) for r in bad])


def _first_clause(exc: Exception) -> str:
    """The kind of an Arrow error, cut before the part that may quote the data.

    ``CSV parse error: Expected 14 columns, got 15: M2,1380...`` gives
    ``CSV parse error: Expected 14 columns, got 15``.
    """
    text = str(exc).splitlines()[0] if str(exc) else ""
    kept = ": ".join(text.split(": ")[:2])
    for cut in ("'", '"', "Row #", "["):
        kept = kept.split(cut)[0]
    return kept.strip().rstrip(":") or type(exc).__name__


def read_xlsx(path: Path) -> Staged:
    """The first sheet of a workbook, every cell as text (dates as Excel serial numbers)."""
    import fastexcel

    try:
        sheet = fastexcel.read_excel(xlsx_source(path)).load_sheet(0, dtypes="string")
        table = pa.Table.from_batches([sheet.to_arrow()])
    except Exception as exc:  # fastexcel raises its own error types for a damaged workbook
        raise DataError(
            f"{path.name}: cannot be read as an Excel workbook ({type(exc).__name__})"
        ) from None
    return Staged(_numbered(_as_text(table), []), "xlsx")


def read_jsonl(path: Path) -> Staged:
    """JSON lines in UTF-8, GBK or GB18030; a line that does not parse is set aside."""
    enc = detect_encoding(path)
    data = utf8_text(path, enc)
    bad: list[int] = []
    try:
        table = _parse_jsonl(data)
    except pa.ArrowInvalid:
        # Find the lines that do not parse, set them aside, read the others.
        good: list[bytes] = []
        for i, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                ok = isinstance(json.loads(line), dict)
            except ValueError:
                ok = False
            if ok:
                good.append(line)
            else:
                bad.append(i)
        try:
            table = _parse_jsonl(b"\n".join(good) + b"\n")
        except pa.ArrowInvalid as exc:
            raise DataError(
                f"{path.name}: not JSON lines: {len(good):,} line(s) parse as JSON objects, "
                f"but together they cannot be read ({_first_clause(exc)})"
            ) from None
    return Staged(_numbered(table, bad), enc, [(r, "the line is not a JSON object") for r in bad])


def _parse_jsonl(data: bytes) -> pa.Table:
    # Keep times as the text the platform wrote (pyarrow would move +08:00 to UTC).
    schema = pa.schema([("created", pa.string()), ("pay_time", pa.string())])
    return pajson.read_json(
        io.BytesIO(data),
        parse_options=pajson.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="infer", newlines_in_values=False
        ),
    )


def flatten(table: pa.Table, explode: str, paths: Mapping[str, str]) -> pa.Table:
    """One row per element of the list column ``explode``, nested fields as text columns.

    ``paths`` names each output column's dotted path (``buyer_info.union_id``,
    ``orders.title`` for a field of the exploded elements). A record whose list is
    empty keeps one row with empty element fields; ``_row`` stays the record's row,
    and ``_line`` numbers the output rows in order. Fields a file does not carry
    come out empty.
    """
    lists = table.column(explode).combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    per = np.maximum(lengths, 1)
    parent = np.repeat(np.arange(table.num_rows), per)
    # Index of each output row's element in the flattened list, or null for an empty list.
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    offset = np.arange(len(parent)) - np.repeat(np.concatenate([[0], np.cumsum(per)[:-1]]), per)
    element = np.where(np.repeat(lengths, per) > 0, np.repeat(starts, per) + offset, -1)
    items = pc.take(pc.list_flatten(lists), pa.array(element, mask=element < 0))
    base = table.take(pa.array(parent))
    out = {}
    for name, path in paths.items():
        head, *rest = path.split(".")
        col = items if head == explode else _get(base, head)
        for part in rest:
            col = _field(col, part)
        out[name] = (
            pc.cast(col, pa.string()) if col is not None else pa.nulls(len(parent), pa.string())
        )
    out[ROW] = base.column(ROW)
    out[LINE] = pa.array(np.arange(len(parent), dtype=np.int64))
    return pa.table(out)


def _get(table: pa.Table, name: str) -> pa.ChunkedArray | None:
    return table.column(name) if name in table.column_names else None


def _field(col: pa.Array | pa.ChunkedArray | None, name: str) -> pa.Array | pa.ChunkedArray | None:
    if col is None or not pa.types.is_struct(col.type):
        return None
    if col.type.get_field_index(name) < 0:
        return None
    return pc.struct_field(col, name)


def read_export(path: str | Path) -> Staged:
    """The file as an Arrow table (text, nested for JSON) plus ``_row``, and its encoding."""
    p = Path(path)
    suffix = data_suffix(p)
    if suffix == ".xlsx":
        return read_xlsx(p)
    if suffix in JSON_SUFFIXES:
        return read_jsonl(p)
    return read_csv(p)


def read_delimited(path: Path, delimiter: str, encoding: str) -> Staged:
    """A whitespace-separated (``delimiter == "whitespace"``) or other delimited text file."""
    if delimiter != "whitespace":
        return read_csv(path, encoding=encoding, delimiter=delimiter)
    text = io.StringIO(utf8_text(path, encoding).decode("utf-8"), newline="")
    records = [line.split() for line in text]
    if not records:
        raise DataError(f"{path.name}: the file is empty")
    header, body = records[0], records[1:]
    bad = [i for i, r in enumerate(body, start=1) if len(r) != len(header)]
    keep = [r for r in body if len(r) == len(header)]
    table = pa.table({h: pa.array([r[j] for r in keep], pa.string()) for j, h in enumerate(header)})
    reason = f"the row does not have the header's {len(header)} columns"
    return Staged(_numbered(table, bad), encoding, [(r, reason) for r in bad])


__all__ = ["LINE", "ROW", "Staged", "flatten", "read_delimited", "read_export"]
