"""A generic order-table source: name the columns in a small TOML file, load any table.

For an order table no platform module knows (another shop system, a data
vendor's extract, a public data set), an analyst writes a mapping file::

    [source]
    name = "cdnow"                     # format name in ingest_log
    platform = "cdnow"                 # prefix of order and account keys
    files = ["../shared/data/real/cdnow/CDNOW_master.txt.gz"]  # relative to the project root
    delimiter = "whitespace"           # ",", "\\t", "|" or "whitespace"; Excel and Parquet need none
    currency = "USD"                   # ISO code of the amounts; CNY when left out

    [columns]                          # unified field = column in the file
    account_id = "customer_id"
    ordered_at = "date"
    quantity = "number_of_cds"
    line_amount = "dollar_value"

Each row is one order line. Without an ``order_id`` column each row is its own
order, numbered by its row. Amounts, dates, rejections and idempotent loading
are the same as for the platform exports.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import DataError
from workbench.sources.detect import JSON_SUFFIXES, data_suffix
from workbench.sources.specs import ORDER_FIELDS, OrderSpec
from workbench.sources.stage import ROW, Staged, read_delimited, read_export

KNOWN_FIELDS = frozenset(ORDER_FIELDS) | {"sku", "title", "quantity", "unit_price", "line_amount"}
ROW_ORDER_ID = "_order_id"

CURRENCIES: dict[str, str] = {
    "CNY": "Chinese yuan",
    "USD": "US dollar",
    "GBP": "pound sterling",
    "EUR": "euro",
}
"""The currencies a mapping may declare (ISO 4217 codes), those the reports can show."""

PLATFORM_CURRENCY = "CNY"
"""The currency of every platform export, and of a mapping that declares none."""


@dataclass(frozen=True)
class MappedSource:
    name: str
    platform: str
    files: tuple[Path, ...]
    columns: dict[str, str]
    delimiter: str = ","
    encoding: str | None = None
    currency: str = PLATFORM_CURRENCY

    @property
    def spec(self) -> OrderSpec:
        cols = dict(self.columns)
        cols.setdefault("order_id", ROW_ORDER_ID)
        line_paid = "paid_amount" not in cols
        return OrderSpec(
            format=self.name,
            platform=self.platform,
            columns=cols,
            required=("order_id", "ordered_at", "line_amount" if line_paid else "paid_amount"),
            order_level=frozenset(ORDER_FIELDS) - ({"paid_amount"} if line_paid else set()),
        )

    @classmethod
    def read_toml(cls, path: str | Path, root: Path) -> MappedSource:
        """Read and check a mapping file; errors name the file and the key."""
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"mapping {p}: cannot be read ({exc})") from exc
        src, cols = doc.get("source", {}), doc.get("columns", {})
        for key in ("name", "platform", "files"):
            if key not in src:
                raise ValueError(f"mapping {p}: [source] lacks `{key}`")
        unknown = sorted(set(cols) - KNOWN_FIELDS)
        if unknown:
            raise ValueError(
                f"mapping {p}: unknown field(s) {unknown} in [columns]; known: {sorted(KNOWN_FIELDS)}"
            )
        currency = str(src.get("currency", PLATFORM_CURRENCY)).strip().upper()
        if currency not in CURRENCIES:
            raise ValueError(
                f"mapping {p}: unknown currency {src.get('currency')!r} in [source]; "
                f"known: {', '.join(sorted(CURRENCIES))} (ISO codes)"
            )
        for need in ("ordered_at",):
            if need not in cols:
                raise ValueError(f"mapping {p}: [columns] must name `{need}`")
        if "line_amount" not in cols and "paid_amount" not in cols:
            raise ValueError(f"mapping {p}: [columns] must name `line_amount` or `paid_amount`")
        files = tuple((root / f).resolve() for f in src["files"])
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ValueError(
                f"mapping {p}: file(s) not found: {missing}; a relative path in `files` is "
                f"read from the project root {root}, not from the mapping's folder"
            )
        return cls(
            name=str(src["name"]),
            platform=str(src["platform"]),
            files=files,
            columns={k: str(v) for k, v in cols.items()},
            delimiter=str(src.get("delimiter", ",")),
            encoding=src.get("encoding"),
            currency=currency,
        )

    def read(self, path: Path) -> Staged:
        """The file as text with ``_row`` (and ``_order_id`` when there is no order id).

        A gzipped file is decompressed, whatever its delimiter.
        """
        suffix = data_suffix(path)
        if self.delimiter == "whitespace" or (
            suffix not in (".xlsx", ".parquet", *JSON_SUFFIXES)
            and (self.delimiter != "," or self.encoding)
        ):
            staged = read_delimited(path, self.delimiter, self.encoding or "utf-8")
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            try:
                raw = pq.read_table(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataError(f"{path.name}: cannot be read as Parquet ({exc})") from None
            table = raw.cast(pa.schema([pa.field(n, pa.string()) for n in raw.column_names]))
            table = table.append_column(
                ROW, pa.array(range(1, table.num_rows + 1), type=pa.int64())
            )
            staged = Staged(table, "parquet")
        else:
            staged = read_export(path)
        if "order_id" not in self.columns:
            rows = staged.table.column(ROW)
            staged.table = staged.table.append_column(ROW_ORDER_ID, pc.cast(rows, pa.string()))
        return staged
