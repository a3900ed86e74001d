"""A plan as an Excel workbook, for the teams who plan in Excel.

:func:`write_workbook` writes five sheets:

- the history table (one row per cell and past edition);
- the baseline: the planning table with each cell's interval and share of the
  gap, and the totals with their own intervals (a total's interval is not the
  sum of the cells');
- the levers, live: each cell's planned repurchase rate and order value are
  input cells, and its planned GMV (population x rate x order value; buyers x
  order value for the buyers from outside the pool), the totals, the gap to the
  target and the gap the levers leave are formulas, so a rate changed in Excel
  recomputes the plan;
- the phase strategy table, one column per phase headed by its dates;
- the audience packs' sizes per phase and target group, by arm.

Labels are Chinese or English (``lang``), money shows the currency symbol, rates
show as percentages, header rows are frozen. Text that comes from the data (the
strategy library, the levers' measures, owners and notes, arm names) is
neutralised so a spreadsheet never runs it as a formula
(:func:`workbench.report.theme.formula_safe`). The same plan gives the same bytes:
the workbook's creation time is fixed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.utility import xl_range, xl_rowcol_to_cell
from xlsxwriter.workbook import Format
from xlsxwriter.worksheet import Worksheet

from workbench.plan import Plan
from workbench.plan.arms import CONTROL, TREATMENT
from workbench.plan.editions import PHASES
from workbench.plan.history import CELL, NO_TIER, OUTSIDE
from workbench.plan.levers import TIER_ORDER
from workbench.report.labels import label
from workbench.segment.lifecycle import LEVEL1_ORDER, LEVEL2_ORDER, LEVEL3_ACTIVE, SCHEME_TWO
from workbench.spreadsheet import formula_safe

CREATED = dt.datetime(2000, 1, 1)
"""The creation time stamped in the workbook's properties. A fixed one keeps the same
plan the same bytes (xlsxwriter would stamp the clock; its zip entries already carry a
constant date)."""

SHEETS: tuple[str, ...] = ("history", "baseline", "levers", "strategy", "packs")
"""The sheets, in order; each is named by the label ``wb_sheet_<name>``."""

CURRENCY_SYMBOLS: dict[str, tuple[str, str]] = {"CNY": ("￥", "¥")}
"""The symbol of each currency in a Chinese and in an English workbook; any other
currency shows its ISO code."""

PACK_SIZE_COLUMNS: tuple[str, ...] = ("phase", "group_name", "arm", "persons")
"""The columns of a pack-size table (:func:`pack_size_table`)."""

LANGS: tuple[str, ...] = ("zh", "en")

SEGMENT_ORDER: tuple[str, ...] = tuple(
    dict.fromkeys((*LEVEL1_ORDER, *LEVEL2_ORDER, *LEVEL3_ACTIVE, *(r.tier for r in SCHEME_TWO)))
)
"""The order rows take by lifecycle segment, in any scheme; the outside row comes last."""

NOTES: dict[str, str] = {"no history": "wb_no_history", "one edition": "wb_one_edition"}
"""The baseline's notes on a cell, and their labels."""

NUMBER_FORMATS: dict[str, str] = {"int": "#,##0", "plain": "0", "num": "#,##0.0", "pct": "0.0%"}
"""Excel number formats by kind of cell (money takes the currency's symbol)."""

INPUT_FILL = "#FFF2CC"
TOTAL_FILL = "#F2F2F2"
HEADER_FILL = "#DDEBF7"
WIDEST = 60
WRAP_WIDTH = 36


def pack_size_table(plan: Plan) -> pd.DataFrame:
    """The persons of each audience pack by arm, counted in the engine.

    Parameters:
        plan: a plan from :func:`workbench.plan.run`.

    Returns:
        One row per phase, target group and arm: ``phase``, ``group_name``, ``arm``,
        ``persons``.

    Example:
        >>> sizes = pack_size_table(plan)  # doctest: +SKIP
        >>> sizes.groupby("phase")["persons"].sum()  # doctest: +SKIP
    """
    packs = plan.packs()
    counts = packs.group_by(["phase", "group_name", "arm"]).agg(persons=packs.count())
    df = counts.to_pandas()
    df["persons"] = df["persons"].astype("int64")
    return df[list(PACK_SIZE_COLUMNS)]


def currency_symbol(currency: str, lang: str) -> str:
    """The symbol money shows in a workbook: ``￥`` (zh) or ``¥`` (en) for CNY.

    Example:
        >>> currency_symbol("CNY", "zh"), currency_symbol("CNY", "en"), currency_symbol("EUR", "en")
        ('￥', '¥', 'EUR ')
    """
    pair = CURRENCY_SYMBOLS.get(currency.upper())
    if pair is None:
        return currency.upper() + " "
    return pair[0] if lang == "zh" else pair[1]


def write_workbook(
    plan: Plan,
    path: str | Path,
    lang: str = "zh",
    pack_sizes: pd.DataFrame | None = None,
    currency: str = "CNY",
    created: dt.datetime = CREATED,
) -> Path:
    """Write ``plan`` as a formatted Excel workbook with live gap formulas.

    Parameters:
        plan: a plan from :func:`workbench.plan.run`.
        path: the ``.xlsx`` file to write (replaced if it exists; its folder is made).
        lang: ``zh`` or ``en``: sheet names, headers, segment and tier names.
        pack_sizes: the packs' sizes (columns of :data:`PACK_SIZE_COLUMNS`);
            ``None``: counted from the plan's packs in the engine
            (:func:`pack_size_table`).
        currency: the ISO code of the plan's money (symbols in :data:`CURRENCY_SYMBOLS`).
        created: the creation time in the workbook's properties.

    Returns:
        The path written.

    Raises:
        ValueError: an unknown ``lang``, a ``currency`` that is not an ISO code, or
            ``pack_sizes`` without the columns it needs.
        OSError: the file could not be written (the last workbook at ``path`` stays).

    Example:
        >>> p = plan.run(con, as_of, "double11-2026", 2_000_000)  # doctest: +SKIP
        >>> write_workbook(p, "reports/double11-2026.xlsx", lang="en")  # doctest: +SKIP
        PosixPath('reports/double11-2026.xlsx')
    """
    if lang not in LANGS:
        raise ValueError(f"workbook language {lang!r} is not one of {', '.join(LANGS)}")
    sizes = pack_size_table(plan) if pack_sizes is None else pack_sizes
    missing = [c for c in PACK_SIZE_COLUMNS if c not in sizes.columns]
    if missing:
        raise ValueError(
            f"pack sizes lack the column(s) {', '.join(missing)}; columns found: "
            f"{', '.join(map(str, sizes.columns)) or 'none'}"
        )
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code such as CNY")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # written beside the target and moved over it, so a failure leaves no half file
    part = out.with_name(f".{out.name}.part")
    book = xlsxwriter.Workbook(str(part))
    book.set_properties(
        {
            "title": f"{plan.name}: {plan.coming.name}",
            "subject": label("wb_title", lang),
            "created": created,
        }
    )
    styles = _Styles(book, currency_symbol(currency, lang))
    _history_sheet(book, styles, plan, lang)
    _baseline_sheet(book, styles, plan, lang)
    _levers_sheet(book, styles, plan, lang)
    _strategy_sheet(book, styles, plan, lang)
    _packs_sheet(book, styles, plan, sizes, lang)
    try:
        book.close()
        os.replace(part, out)
    except FileCreateError as exc:
        raise OSError(f"workbook {out} could not be written: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return out


# Cells: their kind, their formats, their widths.


class _Styles:
    """The workbook's cell formats, by kind (``text``, ``int``, ``num``, ``money``,
    ``pct``, ``wrap``), each plain, as an input cell, or in a total row."""

    def __init__(self, book: xlsxwriter.Workbook, symbol: str) -> None:
        self.book = book
        self.money_format = f'"{symbol}"#,##0.00'
        self.cache: dict[tuple[str, str], Format] = {}
        self.header = book.add_format(
            {"bold": True, "bg_color": HEADER_FILL, "bottom": 1, "text_wrap": True, "valign": "top"}
        )

    def get(self, kind: str, role: str = "") -> Format:
        key = (kind, role)
        if key not in self.cache:
            props: dict[str, Any] = {"valign": "top"}
            if kind == "money":
                props["num_format"] = self.money_format
            elif kind == "wrap":
                props["text_wrap"] = True
            elif kind in NUMBER_FORMATS:
                props["num_format"] = NUMBER_FORMATS[kind]
            if role == "input":
                props.update(bg_color=INPUT_FILL, locked=False, border=1, border_color="#BFBFBF")
            elif role == "total":
                props.update(bold=True, bg_color=TOTAL_FILL, top=1)
            self.cache[key] = self.book.add_format(props)
        return self.cache[key]


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _put(ws: Worksheet, row: int, col: int, value: Any, fmt: Format) -> None:
    """Write one value by its type: text always as text (never as a formula)."""
    if _missing(value):
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, str):
        ws.write_string(row, col, value, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, dt.datetime | dt.date):
        ws.write_datetime(row, col, value, fmt)
    else:
        ws.write_number(row, col, float(value), fmt)


def _text_width(text: str) -> int:
    """Columns the text takes: two for a wide (CJK) character, one for the others."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown_width(value: Any, kind: str) -> int:
    if _missing(value):
        return 0
    if kind == "pct":
        return len(f"{float(value) * 100:.1f}%")
    if kind == "int":
        return len(f"{float(value):,.0f}")
    if kind in ("money", "num"):
        return len(f"{float(value):,.2f}") + 2
    return max((_text_width(line) for line in str(value).splitlines()), default=0)


@dataclass(frozen=True)
class _Column:
    """A column of a sheet: the frame's column, its header label and its kind."""

    key: str
    header: str
    kind: str


def _set_widths(ws: Worksheet, columns: Sequence[_Column], frame: pd.DataFrame) -> list[int]:
    """Widths to fit each column's header and values (wrapped text at most
    :data:`WRAP_WIDTH`, other columns at most :data:`WIDEST`); returns them."""
    widths = []
    for j, col in enumerate(columns):
        values = frame[col.key].tolist() if col.key in frame else []
        shown = [_shown_width(v, col.kind) for v in values]
        header = max(_text_width(w) for w in col.header.splitlines())
        cap = WRAP_WIDTH if col.kind == "wrap" else WIDEST
        width = min(max(header, *shown, 6) + 2, cap)
        ws.set_column(j, j, width)
        widths.append(width)
    return widths


def _write_frame(
    ws: Worksheet,
    styles: _Styles,
    columns: Sequence[_Column],
    frame: pd.DataFrame,
    first: int = 1,
) -> int:
    """Write the header row and ``frame``'s rows from row ``first``; return the next row."""
    for j, col in enumerate(columns):
        ws.write_string(0, j, col.header, styles.header)
    row = first
    for record in frame.to_dict("records"):
        for j, col in enumerate(columns):
            _put(ws, row, j, record.get(col.key), styles.get(col.kind))
        row += 1
    return row


# What the sheets show, in the workbook's language.


def _segment_name(segment: str, lang: str) -> str:
    return label("wb_outside" if segment == OUTSIDE else segment, lang)


def _tier_name(tier: str, lang: str) -> str:
    return label("non_member" if tier == NO_TIER else tier, lang)


def _customers(new: Any, lang: str) -> str:
    return label("new" if bool(new) else "returning", lang)


def _note(note: Any, lang: str) -> str:
    if _missing(note):
        return ""
    text = str(note)
    return label(NOTES[text], lang) if text in NOTES else text


def _sorted_cells(frame: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Rows by ``by``, then segment (lifecycle order, outside last), then member tier."""
    seg = {s: i for i, s in enumerate(SEGMENT_ORDER)}
    tier = {t: i for i, t in enumerate(TIER_ORDER)}
    out = frame.assign(
        _seg=frame["segment"].map(lambda s: len(seg) + 1 if s == OUTSIDE else seg.get(s, len(seg))),
        _tier=frame["member_tier"].map(lambda t: tier.get(t, len(tier))),
    )
    keys = [*by, "_seg", "segment", "_tier", "member_tier"]
    out = out.sort_values(keys, kind="stable").drop(columns=["_seg", "_tier"])
    return out.reset_index(drop=True)


def _labelled_cells(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The frame with its segment, member tier and new columns in words, text made safe."""
    out = frame.copy()
    out["segment"] = out["segment"].astype(str).map(lambda s: _segment_name(s, lang))
    out["member_tier"] = out["member_tier"].astype(str).map(lambda t: _tier_name(t, lang))
    out["customers"] = out["new"].map(lambda n: _customers(n, lang))
    return formula_safe(out)


def _history_sheet(book: xlsxwriter.Workbook, styles: _Styles, plan: Plan, lang: str) -> None:
    ws = book.add_worksheet(label("wb_sheet_history", lang))
    h = _sorted_cells(plan.history, by=["year"])
    frame = _labelled_cells(h, lang)
    columns = [
        _Column("edition", label("wb_edition", lang), "text"),
        _Column("year", label("wb_year", lang), "plain"),
        _Column("segment", label("wb_segment", lang), "text"),
        _Column("member_tier", label("wb_member_tier", lang), "text"),
        _Column("customers", label("wb_customers", lang), "text"),
        _Column("population", label("wb_population", lang), "int"),
        _Column("buyers", label("wb_buyers", lang), "int"),
        _Column("orders", label("wb_orders", lang), "int"),
        _Column("gmv", label("wb_gmv", lang), "money"),
        _Column("rate", label("wb_rate", lang), "pct"),
        _Column("aov", label("wb_aov", lang), "money"),
    ]
    end = _write_frame(ws, styles, columns, frame)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(end - 1, 0), len(columns) - 1)
    _set_widths(ws, columns, frame)


def _baseline_sheet(book: xlsxwriter.Workbook, styles: _Styles, plan: Plan, lang: str) -> None:
    ws = book.add_worksheet(label("wb_sheet_baseline", lang))
    c = _sorted_cells(plan.cells, by=[])
    frame = _labelled_cells(c.assign(note=c["note"].map(lambda n: _note(n, lang))), lang)
    level = f"{plan.settings.confidence:.0%}"
    columns = [
        _Column("segment", label("wb_segment", lang), "text"),
        _Column("member_tier", label("wb_member_tier", lang), "text"),
        _Column("customers", label("wb_customers", lang), "text"),
        _Column("population", label("wb_population", lang), "int"),
        _Column("rate", label("wb_rate", lang), "pct"),
        _Column("aov", label("wb_aov", lang), "money"),
        _Column("buyers", label("wb_est_buyers", lang), "num"),
        _Column("gmv", label("wb_base_gmv", lang), "money"),
        _Column("gmv_low", label("wb_gmv_low", lang).format(level=level), "money"),
        _Column("gmv_high", label("wb_gmv_high", lang).format(level=level), "money"),
        _Column("gap", label("wb_gap", lang), "money"),
        _Column("gap_share", label("wb_gap_share", lang), "pct"),
        _Column("editions", label("wb_editions", lang), "int"),
        _Column("note", label("wb_note", lang), "text"),
    ]
    row = _write_frame(ws, styles, columns, frame)
    at = {col.key: j for j, col in enumerate(columns)}
    totals = [
        ("wb_total", plan.total, None),
        ("wb_total_new", plan.total_new, True),
        ("wb_total_returning", plan.total_returning, False),
    ]
    for key, tot, new in totals:
        part = c if new is None else c[c["new"] == new]
        fmt = styles.get("text", "total")
        for j in range(len(columns)):
            ws.write_blank(row, j, None, fmt)
        ws.write_string(row, 0, label(key, lang), fmt)
        pop = part["population"].dropna()
        _put(ws, row, at["population"], int(pop.sum()), styles.get("int", "total"))
        _put(ws, row, at["buyers"], float(part["buyers"].sum()), styles.get("num", "total"))
        for name, value in (("gmv", tot.value), ("gmv_low", tot.low), ("gmv_high", tot.high)):
            _put(ws, row, at[name], value, styles.get("money", "total"))
        if plan.target is not None:
            _put(ws, row, at["gap"], float(part["gap"].sum()), styles.get("money", "total"))
        row += 1
    row += 1
    if plan.target is not None:
        lines: list[tuple[str, float]] = [("wb_target", plan.target)]
        if plan.target_new is not None:
            lines += [
                ("wb_target_new", plan.target_new),
                ("wb_target_returning", plan.target - plan.target_new),
            ]
        lines.append(("wb_gap_total", plan.target - plan.total.value))
        for key, amount in lines:
            ws.write_string(row, 0, label(key, lang), styles.get("text", "total"))
            _put(ws, row, at["gmv"], amount, styles.get("money", "total"))
            row += 1
        row += 1
    notes = [label("wb_interval_note", lang).format(level=level)]
    notes += [str(n) for n in plan.notes]
    for n in formula_safe(pd.DataFrame({"n": notes}))["n"]:
        ws.write_string(row, 0, n)
        row += 1
    ws.freeze_panes(1, 2)
    _set_widths(ws, columns, frame)


def _levers_sheet(book: xlsxwriter.Workbook, styles: _Styles, plan: Plan, lang: str) -> None:
    ws = book.add_worksheet(label("wb_sheet_levers", lang))
    c = _sorted_cells(plan.cells)
    lv = plan.levers[[*CELL, "measure", "owner", "note"]].fillna("").astype(str)
    c = c.drop(columns=["measure", "owner"], errors="ignore").merge(
        lv.rename(columns={"note": "lever_note"}), on=CELL, how="left"
    )
    taken = plan.suggestion
    if not taken.empty:
        taken = taken[taken["taken"].astype(bool)][[*CELL, "proposed_rate"]]
        c = c.merge(taken, on=CELL, how="left")
    else:
        c["proposed_rate"] = float("nan")
    frame = _labelled_cells(c, lang)
    columns = [
        _Column("segment", label("wb_segment", lang), "text"),
        _Column("member_tier", label("wb_member_tier", lang), "text"),
        _Column("customers", label("wb_customers", lang), "text"),
        _Column("population", label("wb_population", lang), "int"),
        _Column("buyers", label("wb_est_buyers", lang), "num"),
        _Column("rate", label("wb_base_rate", lang), "pct"),
        _Column("aov", label("wb_base_aov", lang), "money"),
        _Column("gmv", label("wb_base_gmv", lang), "money"),
        _Column("proposed_rate", label("wb_suggested_rate", lang), "pct"),
        _Column("planned_rate", label("wb_planned_rate", lang), "pct"),
        _Column("planned_aov", label("wb_planned_aov", lang), "money"),
        _Column("planned_gmv", label("wb_planned_gmv", lang), "money"),
        _Column("lever_gmv", label("wb_lever_gmv", lang), "money"),
        _Column("measure", label("wb_measure", lang), "wrap"),
        _Column("owner", label("wb_owner", lang), "text"),
        _Column("lever_note", label("wb_lever_note", lang), "wrap"),
    ]
    at = {col.key: j for j, col in enumerate(columns)}
    live = {"planned_rate", "planned_aov", "planned_gmv", "lever_gmv"}
    editable = {"measure", "owner", "lever_note"}
    for j, col in enumerate(columns):
        ws.write_string(0, j, col.header, styles.header)
    first = 1
    row = first
    for i, rec in enumerate(frame.to_dict("records")):
        outside = c["segment"].iloc[i] == OUTSIDE
        for j, col in enumerate(columns):
            if col.key not in live:
                role = "input" if col.key in editable else ""
                _put(ws, row, j, rec.get(col.key), styles.get(col.kind, role))
        rate_fmt = styles.get("pct") if outside else styles.get("pct", "input")
        _put(ws, row, at["planned_rate"], None if outside else rec["planned_rate"], rate_fmt)
        _put(ws, row, at["planned_aov"], rec["planned_aov"], styles.get("money", "input"))
        ref = {k: xl_rowcol_to_cell(row, at[k]) for k in at}
        if outside:
            formula = f"={ref['buyers']}*{ref['planned_aov']}"
        else:
            formula = f"={ref['population']}*{ref['planned_rate']}*{ref['planned_aov']}"
        planned = float(rec["planned_gmv"]) if not _missing(rec["planned_gmv"]) else 0.0
        ws.write_formula(row, at["planned_gmv"], formula, styles.get("money"), planned)
        base = float(rec["gmv"]) if not _missing(rec["gmv"]) else 0.0
        ws.write_formula(
            row,
            at["lever_gmv"],
            f"={ref['planned_gmv']}-{ref['gmv']}",
            styles.get("money"),
            planned - base,
        )
        row += 1
    last = row - 1
    if last >= first:
        rate_col, aov_col = at["planned_rate"], at["planned_aov"]
        ws.data_validation(
            first,
            rate_col,
            last,
            rate_col,
            {
                "validate": "decimal",
                "criteria": "between",
                "minimum": 0,
                "maximum": 1,
                "error_message": label("wb_rate_invalid", lang),
            },
        )
        ws.data_validation(
            first,
            aov_col,
            last,
            aov_col,
            {
                "validate": "decimal",
                "criteria": ">=",
                "value": 0,
                "error_message": label("wb_aov_invalid", lang),
            },
        )
    total_row = row
    fmt = styles.get("text", "total")
    for j in range(len(columns)):
        ws.write_blank(total_row, j, None, fmt)
    ws.write_string(total_row, 0, label("wb_total", lang), fmt)
    sums = {
        "population": ("int", float(c["population"].dropna().sum())),
        "buyers": ("num", float(c["buyers"].sum())),
        "gmv": ("money", float(c["gmv"].sum())),
        "planned_gmv": ("money", float(c["planned_gmv"].sum())),
        "lever_gmv": ("money", float(c["planned_gmv"].sum() - c["gmv"].sum())),
    }
    total_cell: dict[str, str] = {}
    for key, (kind, value) in sums.items():
        j = at[key]
        span = xl_range(first, j, max(last, first), j)
        formula = f"=SUM({span})" if last >= first else "=0"
        ws.write_formula(total_row, j, formula, styles.get(kind, "total"), value)
        total_cell[key] = xl_rowcol_to_cell(total_row, j)
    _lever_summary(ws, styles, plan, lang, c, total_row + 2, first, last, at, total_cell)
    ws.freeze_panes(1, 2)
    widths = _set_widths(ws, columns, frame)
    summary = max(_text_width(label(k, lang)) for k in _SUMMARY_KEYS) + 2
    ws.set_column(0, 0, min(max(widths[0], summary), WIDEST))


_SUMMARY_KEYS = (
    "wb_target",
    "wb_baseline_total",
    "wb_gap_total",
    "wb_planned_total",
    "wb_remaining",
    "wb_target_new",
    "wb_planned_new",
    "wb_remaining_new",
    "wb_target_returning",
    "wb_planned_returning",
    "wb_remaining_returning",
    "wb_no_target",
)


def _lever_summary(
    ws: Worksheet,
    styles: _Styles,
    plan: Plan,
    lang: str,
    cells: pd.DataFrame,
    row: int,
    first: int,
    last: int,
    at: dict[str, int],
    total_cell: dict[str, str],
) -> None:
    """The target, the gap and the gap the levers leave, as formulas below the table,
    from row ``row``: labels in column A, values in column B."""
    where: dict[str, str] = {}
    money = styles.get("money", "total")
    base = float(cells["gmv"].sum())
    planned = float(cells["planned_gmv"].sum())

    def line(key: str, value: float, formula: str | None = None, fmt: Format = money) -> str:
        nonlocal row
        ws.write_string(row, 0, label(f"wb_{key}", lang), styles.get("text", "total"))
        if formula is None:
            ws.write_number(row, 1, value, fmt)
        else:
            ws.write_formula(row, 1, formula, fmt, value)
        where[key] = xl_rowcol_to_cell(row, 1)
        row += 1
        return where[key]

    if plan.target is None:
        line("baseline_total", base, f"={total_cell['gmv']}")
        line("planned_total", planned, f"={total_cell['planned_gmv']}")
        ws.write_string(row, 0, label("wb_no_target", lang))
        return
    target = line("target", plan.target, fmt=styles.get("money", "input"))
    base_cell = line("baseline_total", base, f"={total_cell['gmv']}")
    line("gap_total", plan.target - base, f"={target}-{base_cell}")
    planned_cell = line("planned_total", planned, f"={total_cell['planned_gmv']}")
    line("remaining", plan.target - planned, f"={target}-{planned_cell}")
    if plan.target_new is None:
        return
    row += 1
    new_rows = cells["new"].astype(bool)
    who = xl_range(first, at["customers"], max(last, first), at["customers"])
    gmvs = xl_range(first, at["planned_gmv"], max(last, first), at["planned_gmv"])
    for part, goal, mask in (
        ("new", plan.target_new, new_rows),
        ("returning", None, ~new_rows),
    ):
        if goal is None:
            t_cell = line(
                f"target_{part}",
                plan.target - plan.target_new,
                f"={target}-{where['target_new']}",
            )
        else:
            t_cell = line(f"target_{part}", goal, fmt=styles.get("money", "input"))
        value = float(cells.loc[mask, "planned_gmv"].sum())
        criterion = label(part, lang).replace('"', '""')
        p_cell = line(f"planned_{part}", value, f'=SUMIF({who},"{criterion}",{gmvs})')
        target_value = plan.target_new if goal is not None else plan.target - plan.target_new
        line(f"remaining_{part}", target_value - value, f"={t_cell}-{p_cell}")


def _strategy_sheet(book: xlsxwriter.Workbook, styles: _Styles, plan: Plan, lang: str) -> None:
    ws = book.add_worksheet(label("wb_sheet_strategy", lang))
    table = plan.strategy(lang)
    sep = "、" if lang == "zh" else ", "
    table = table.assign(
        group=table["group"].map(lambda g: label(g, lang)),
        segments=table["segments"].map(
            lambda s: sep.join(label(x, lang) for x in str(s).split(",") if x)
        ),
    )
    frame = formula_safe(table)
    columns = [
        _Column("group", label("wb_group", lang), "wrap"),
        _Column("segments", label("wb_covers", lang), "wrap"),
        _Column("strategy", label("wb_strategy", lang), "wrap"),
        _Column("channel", label("wb_channel", lang), "wrap"),
        _Column("resources", label("wb_resources", lang), "wrap"),
    ]
    for phase, start, end in plan.coming.phases():
        head = f"{label(f'wb_phase_{phase}', lang)}\n{start:%Y-%m-%d} – {end:%Y-%m-%d}"
        columns.append(_Column(phase, head, "wrap"))
    _write_frame(ws, styles, columns, frame)
    ws.set_row(0, 32)
    ws.freeze_panes(1, 1)
    _set_widths(ws, columns, frame)


def _arm_order(arms: Sequence[str], plan: Plan) -> list[str]:
    known = [CONTROL, *(plan.settings.arm_names or (TREATMENT,))]
    present = set(arms)
    return [a for a in known if a in present] + sorted(present - set(known))


def _arm_name(arm: str, lang: str) -> str:
    if arm == CONTROL:
        return label("wb_arm_control", lang)
    if arm == TREATMENT:
        return label("wb_arm_treatment", lang)
    return arm


def _packs_sheet(
    book: xlsxwriter.Workbook, styles: _Styles, plan: Plan, sizes: pd.DataFrame, lang: str
) -> None:
    ws = book.add_worksheet(label("wb_sheet_packs", lang))
    s = sizes[list(PACK_SIZE_COLUMNS)].copy()
    s["persons"] = s["persons"].astype("int64")
    arms = _arm_order([str(a) for a in s["arm"].dropna().unique()], plan)
    wide = s.pivot_table(
        index=["phase", "group_name"], columns="arm", values="persons", aggfunc="sum"
    )
    wide = wide.reindex(columns=arms).fillna(0).astype("int64")
    wide["persons"] = wide.sum(axis=1)
    wide = wide.reset_index()
    phase_at = {p: i for i, p in enumerate(PHASES)}
    group_at = {g.key: i for i, g in enumerate(plan.library)}
    wide = wide.assign(
        _p=wide["phase"].map(lambda p: phase_at.get(p, len(phase_at))),
        _g=wide["group_name"].map(lambda g: group_at.get(g, len(group_at))),
    ).sort_values(["_p", "phase", "_g", "group_name"], kind="stable")
    dates = {p: (a, b) for p, a, b in plan.coming.phases()}
    frame = pd.DataFrame(
        {
            "phase": wide["phase"].map(lambda p: label(f"wb_phase_{p}", lang)),
            "start": wide["phase"].map(lambda p: dates[p][0] if p in dates else None),
            "end": wide["phase"].map(lambda p: dates[p][1] if p in dates else None),
            "group": wide["group_name"].map(lambda g: label(g, lang)),
            "persons": wide["persons"],
            **{f"arm:{a}": wide[a] for a in arms},
        }
    )
    frame = formula_safe(frame)
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd", "valign": "top"})
    columns = [
        _Column("phase", label("wb_phase", lang), "text"),
        _Column("start", label("wb_phase_start", lang), "text"),
        _Column("end", label("wb_phase_end", lang), "text"),
        _Column("group", label("wb_group", lang), "text"),
        _Column("persons", label("wb_persons", lang), "int"),
        *(_Column(f"arm:{a}", _safe_text(_arm_name(a, lang)), "int") for a in arms),
    ]
    for j, col in enumerate(columns):
        ws.write_string(0, j, col.header, styles.header)
    for i, rec in enumerate(frame.to_dict("records"), start=1):
        for j, col in enumerate(columns):
            fmt = date_fmt if col.key in ("start", "end") else styles.get(col.kind)
            _put(ws, i, j, rec.get(col.key), fmt)
    ws.freeze_panes(1, 0)
    _set_widths(ws, columns, frame.assign(start="0000-00-00", end="0000-00-00"))


def _safe_text(text: str) -> str:
    """One text made safe as :func:`workbench.report.theme.formula_safe` makes a frame's."""
    return str(formula_safe(pd.DataFrame({"t": [text]}))["t"].iloc[0])
