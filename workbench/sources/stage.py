"""Read one raw export, as it comes, into an Arrow table of strings with a row number.

``_row`` is the data row number: 1 is the first row after the header (for
JSON lines, the first line). Errors name the file and, where they can, the row.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from workbench.sources.detect import header_of

ROW = "_row"


def _with_row(table: pa.Table) -> pa.Table:
    return table.append_column(ROW, pa.array(range(1, table.num_rows + 1), type=pa.int64()))


def read_csv(path: Path) -> tuple[pa.Table, str]:
    columns, encoding = header_of(path)
    dupes = {c for c in columns if columns.count(c) > 1}
    if dupes:
        raise ValueError(f"{path}: repeated column name(s) {sorted(dupes)} in the header")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding=encoding.replace("-sig", ""), block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as {encoding} CSV: {exc}") from exc
    # pyarrow keeps a UTF-8 BOM in the first name when the codec is plain utf-8.
    table = table.rename_columns([c.lstrip("\ufeff") for c in table.column_names])
    return _with_row(table), encoding


def read_xlsx(path: Path) -> tuple[pa.Table, str]:
    import duckdb

    from workbench.engine import load_excel

    con = duckdb.connect()
    load_excel(con)
    try:
        table = con.execute(
            f"select * from read_xlsx('{path.as_posix()}', all_varchar=true)"
        ).fetch_arrow_table()
    except duckdb.Error as exc:
        raise ValueError(f"{path}: cannot be read as an Excel workbook: {exc}") from exc
    finally:
        con.close()
    table = table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))
    return _with_row(table), "xlsx"


def read_jsonl(path: Path) -> tuple[pa.Table, str]:
    # Keep times as the text the platform wrote (pyarrow would move +08:00 to UTC).
    schema = pa.schema([("created", pa.string()), ("pay_time", pa.string())])
    try:
        table = pajson.read_json(
            path,
            parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer", newlines_in_values=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{path}: not valid JSON lines: {exc}") from exc
    return _with_row(table), "utf-8"


def read_export(path: str | Path) -> tuple[pa.Table, str]:
    """The file as an Arrow table (strings, nested for JSON) plus ``_row``, and its encoding."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(p)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(p)
    return read_csv(p)
