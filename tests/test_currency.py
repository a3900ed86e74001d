"""A warehouse holds one currency, declared by a mapping file (CNY by default), and the
reports show money in it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.test_ingest import write
from tests.test_ingest_damaged import PDD_HEADER, pdd_row
from workbench.config import Settings, load_settings
from workbench.report import format as fmt
from workbench.report.format import currency_of, money, with_unit
from workbench.report.theme import shown_decimals
from workbench.report.views.segment import tier_table
from workbench.sources.mapping import MappedSource
from workbench.unify import ingest, ingest_mapped

MAPPING = """
[source]
name = "{name}"
platform = "{name}"
files = ["{name}/sales.csv"]
{currency}

[columns]
order_id = "order"
account_id = "customer"
ordered_at = "date"
line_amount = "amount"
"""


def mapping(root: Path, name: str, currency: str | None) -> Path:
    (root / name).mkdir(exist_ok=True)
    (root / name / "sales.csv").write_text(
        "order,customer,date,amount\nA1,c1,2024-01-02,$19.80\nA2,c2,2024-01-03,7.50\n",
        encoding="utf-8",
    )
    m = root / f"{name}.toml"
    line = f'currency = "{currency}"' if currency is not None else ""
    m.write_text(MAPPING.format(name=name, currency=line), encoding="utf-8")
    return m


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return load_settings(root=tmp_path, env={})


@pytest.fixture(autouse=True)
def report_currency() -> Iterator[None]:
    """Each test leaves the report's currency as it found it."""
    with currency_of(fmt.currency()):
        yield


def meta(s: Settings) -> dict[str, str]:
    con = duckdb.connect(str(s.warehouse), read_only=True)
    return dict(con.execute("SELECT key, value FROM warehouse_meta").fetchall())


# --- the mapping file ------------------------------------------------------------------


def test_a_mapping_declares_its_currency_cny_when_it_does_not(tmp_path: Path) -> None:
    assert MappedSource.read_toml(mapping(tmp_path, "us", "USD"), tmp_path).currency == "USD"
    assert MappedSource.read_toml(mapping(tmp_path, "uk", "gbp"), tmp_path).currency == "GBP"
    assert MappedSource.read_toml(mapping(tmp_path, "cn", None), tmp_path).currency == "CNY"


@pytest.mark.parametrize("code", ["XYZ", "US$", "", "dollar"])
def test_an_unknown_currency_is_refused_naming_the_file(tmp_path: Path, code: str) -> None:
    m = mapping(tmp_path, "bad", code)
    with pytest.raises(
        ValueError, match=re.escape(f"mapping {m}: unknown currency '{code}'")
    ) as err:
        MappedSource.read_toml(m, tmp_path)
    assert "known: CNY, EUR, GBP, USD" in str(err.value)


def test_cdnow_declares_dollars() -> None:
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "data" / "mappings" / "cdnow.toml").read_text(encoding="utf-8")
    assert 'currency = "USD"' in text


# --- the warehouse ---------------------------------------------------------------------


def test_the_first_file_records_the_warehouse_currency(settings: Settings) -> None:
    f = ingest_mapped(mapping(settings.root, "us", "USD"), settings, progress=False).files[0]
    assert (f.status, f.rows_loaded) == ("loaded", 2), f.message
    assert meta(settings)["currency"] == "USD"
    # Loading it again, or another file in dollars, is fine.
    again = ingest_mapped(mapping(settings.root, "us2", "USD"), settings, progress=False)
    assert again.files[0].status == "loaded"


def test_a_platform_export_is_refused_by_a_dollar_warehouse(settings: Settings) -> None:
    ingest_mapped(mapping(settings.root, "us", "USD"), settings, progress=False)
    raw = settings.root / "raw"
    write(raw / "pdd.csv", [PDD_HEADER, pdd_row("240618-000000000000001")], "utf-8-sig")
    f = ingest(raw, settings, progress=False).files[0]
    assert f.status == "refused"
    assert f.message.startswith("pdd.csv: amounts in CNY, but the warehouse ")
    assert "holds USD" in f.message and "\n" not in f.message
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    assert con.execute("SELECT count(*) FROM orders WHERE platform = 'pdd'").fetchone() == (0,)


def test_pounds_are_refused_by_a_yuan_warehouse(settings: Settings) -> None:
    ingest_mapped(mapping(settings.root, "cn", None), settings, progress=False)
    f = ingest_mapped(mapping(settings.root, "uk", "GBP"), settings, progress=False).files[0]
    assert f.status == "refused"
    assert f.message.startswith("uk/sales.csv: amounts in GBP, but the warehouse ")
    assert "holds CNY" in f.message
    assert meta(settings)["currency"] == "CNY"


def test_a_warehouse_built_before_currencies_were_recorded_holds_yuan(
    settings: Settings,
) -> None:
    ingest_mapped(mapping(settings.root, "cn", None), settings, progress=False)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("DELETE FROM warehouse_meta WHERE key = 'currency'")
    con.close()
    f = ingest_mapped(mapping(settings.root, "us", "USD"), settings, progress=False).files[0]
    assert f.status == "refused" and "holds CNY" in f.message
    assert meta(settings)["currency"] == "CNY"


def test_the_report_reads_the_warehouse_currency_once(settings: Settings) -> None:
    from workbench.report import start

    ingest_mapped(mapping(settings.root, "us", "USD"), settings, progress=False)
    r = start(settings, lang="en")
    assert r.currency == "USD" and fmt.currency() == "USD"
    assert money(1234.5, r.lang, short=False) == "$1,234"


def test_an_experiment_file_states_the_currency_of_its_money(settings: Settings) -> None:
    """A review of a file shows its money in the currency the run names (the warehouse's
    otherwise); naming one for the warehouse's own money is refused, with one line."""
    from workbench.errors import ParameterError
    from workbench.report import start

    ingest_mapped(mapping(settings.root, "cn", None), settings, progress=False)
    file = settings.root / "test.csv"
    r = start(settings, experiment_file=str(file), table_currency="usd", lang="en")
    assert r.currency == "USD" and fmt.currency() == "USD"
    assert start(settings, experiment_file=str(file), lang="en").currency == "CNY"
    with pytest.raises(ParameterError, match="table_currency"):
        start(settings, table_currency="USD", lang="en")
    with pytest.raises(ParameterError, match="table_currency takes a currency code"):
        start(settings, experiment_file=str(file), table_currency="yen", lang="en")


# --- formatting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "lang", "short", "long"),
    [
        ("CNY", "zh", "￥123.5万", "￥1,234,567"),
        ("CNY", "en", "¥1.23M", "¥1,234,567"),
        ("USD", "zh", "$123.5万", "$1,234,567"),
        ("USD", "en", "$1.23M", "$1,234,567"),
        ("GBP", "en", "£1.23M", "£1,234,567"),
        ("GBP", "zh", "£123.5万", "£1,234,567"),
        ("EUR", "en", "€1.23M", "€1,234,567"),
        ("EUR", "zh", "€123.5万", "€1,234,567"),
    ],
)
def test_money_is_written_in_each_currency_and_language(
    code: str, lang: str, short: str, long: str
) -> None:
    assert money(1234567, lang, code=code) == short
    assert money(1234567, lang, short=False, code=code) == long
    with currency_of(code):  # the report's currency, when the call names none
        assert money(1234567, lang) == short
        assert money(-1234567, lang, short=False) == "-" + long
    assert with_unit("Net sales", code) == f"Net sales ({code})"


def test_money_columns_keep_the_fen_in_the_download_whatever_the_sign() -> None:
    for code in ("CNY", "USD", "GBP", "EUR"):
        with currency_of(code):
            assert shown_decimals(lambda x: money(x, "en", short=False), pd.Series([980.4])) == 2


def test_a_report_table_shows_the_report_currency() -> None:
    sizes = pd.DataFrame(
        {
            "level": [1, 1],
            "parent": ["active", "lost"],
            "tier": ["active", "lost"],
            "persons": [3, 1],
            "net_amount": [1234.5, 20.0],
            "share": [0.75, 0.25],
        }
    )
    with currency_of("GBP"):
        page = tier_table(sizes, "en").to_html()
    assert "£1,234" in page and "¥" not in page and "￥" not in page
    with currency_of("CNY"):
        assert "￥1,234" in tier_table(sizes, "zh").to_html()
