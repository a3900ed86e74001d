"""The plan's Excel workbook: the same numbers as the plan's tables, live gap formulas that
recompute when an input changes, labels in both languages, frozen headers, no text that a
spreadsheet would run as a formula, and the same bytes for the same plan.

Most tests build a real :class:`workbench.plan.Plan` by hand from tiny frames whose
numbers are worked out below (the cells pass through the job's own ``gap`` and
``apply_levers``, so the planning table has the shape the job gives it), and the
persons of its packs are an in-memory table. One slow test writes the workbook of a
plan made by ``plan.run`` on the small synthetic warehouse.

openpyxl reads formulas as text and does not calculate, so :class:`Formula` evaluates
the few forms the workbook writes (cell references, + - * /, SUM and SUMIF over
ranges of one sheet) from the cells they reference, recursively.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import ibis
import openpyxl
import pandas as pd
import pytest
import xlsxwriter.workbook
from openpyxl.utils import range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from workbench.config import PlanSettings, load_settings
from workbench.engine import connect
from workbench.plan import Edition, Plan
from workbench.plan import run as run_plan
from workbench.plan.baseline import Total, gap
from workbench.plan.history import HISTORY_COLUMNS, NO_TIER
from workbench.plan.levers import apply_levers
from workbench.plan.strategy import load_library
from workbench.report.labels import label
from workbench.report.workbook import pack_size_table, write_workbook
from workbench.synth import SynthResult
from workbench.unify import ingest

# A formula evaluator for the forms the workbook writes.

TOKEN = re.compile(
    r"\s*(?:(?P<range>\$?[A-Z]{1,3}\$?\d+:\$?[A-Z]{1,3}\$?\d+)|(?P<func>[A-Z]+)\(|"
    r'(?P<ref>\$?[A-Z]{1,3}\$?\d+)|(?P<num>\d+(?:\.\d+)?)|"(?P<str>(?:[^"]|"")*)"|'
    r"(?P<op>[-+*/(),]))"
)


class Formula:
    """The value of a formula cell of ``ws``, from the values of the cells it references."""

    def __init__(self, ws: Worksheet, text: str) -> None:
        self.ws = ws
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = TOKEN.match(text, pos)
            assert m, f"cannot read formula {text!r} at {text[pos:]!r}"
            kind = m.lastgroup
            assert kind is not None
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    @staticmethod
    def value(ws: Worksheet, coord: str) -> Any:
        v = ws[coord.replace("$", "")].value
        if isinstance(v, str) and v.startswith("="):
            return Formula(ws, v[1:]).parse()
        return 0.0 if v is None else v

    def parse(self) -> float:
        out = self.sum()
        assert self.i == len(self.tokens), self.tokens[self.i :]
        return out

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def sum(self) -> float:
        out = self.product()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            right = self.product()
            out = out + right if op == "+" else out - right
        return out

    def product(self) -> float:
        out = self.atom()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            right = self.atom()
            out = out * right if op == "*" else out / right
        return out

    def cells(self, span: str) -> list[Any]:
        lo_c, lo_r, hi_c, hi_r = range_boundaries(span.replace("$", ""))
        assert None not in (lo_c, lo_r, hi_c, hi_r)
        return [
            Formula.value(self.ws, self.ws.cell(r, c).coordinate)
            for r in range(int(lo_r or 0), int(hi_r or 0) + 1)
            for c in range(int(lo_c or 0), int(hi_c or 0) + 1)
        ]

    def atom(self) -> float:
        kind, text = self.take()
        if kind == "op" and text == "-":
            return -self.atom()
        if kind == "op" and text == "(":
            out = self.sum()
            assert self.take() == ("op", ")")
            return out
        if kind == "num":
            return float(text)
        if kind == "ref":
            return float(Formula.value(self.ws, text))
        if kind == "func":
            args: list[Any] = []
            while True:
                k, t = self.take()
                if k == "range":
                    args.append(self.cells(t))
                elif k == "str":
                    args.append(t.replace('""', '"'))
                elif (k, t) == ("op", ")"):
                    break
                elif (k, t) != ("op", ","):
                    raise AssertionError(f"unexpected {t!r} in {text}(...)")
            if text == "SUM":
                return float(sum(float(v) for v in args[0]))
            if text == "SUMIF":
                where, criterion, values = args
                return float(
                    sum(float(v) for w, v in zip(where, values, strict=True) if w == criterion)
                )
            raise AssertionError(f"function {text} is not one the workbook writes")
        raise AssertionError(f"unexpected token {text!r}")


# A plan built by hand.

AS_OF = dt.date(2026, 10, 19)
COMING = Edition(
    "双11",
    2026,
    (dt.date(2026, 10, 20), dt.date(2026, 11, 1), dt.date(2026, 11, 12), dt.date(2026, 11, 15)),
    dt.date(2026, 11, 18),
    "given",
)
PAST = [
    Edition(
        "双11",
        y,
        (dt.date(y, 10, 20), dt.date(y, 11, 1), dt.date(y, 11, 12), dt.date(y, 11, 15)),
        dt.date(y, 11, 18),
        "calendar",
    )
    for y in (2024, 2025)
]

# The cells of the coming edition: population x rate x order value = GMV, worked out
# here; the outside row's GMV is buyers x order value (20 x 80).
#   active_old  x VIP  : 100 x 0.30 x 200 = 6,000
#   active_old  x none : 400 x 0.10 x 100 = 4,000
#   potential_member x none (new) : 1,000 x 0.02 x 50 = 1,000
#   trial_member x 普通 (new): no history, no estimate: 0
#   outside (new): 20 x 80 = 1,600
# Baseline 12,600; target 20,000; gap 7,400.
BASELINE = pd.DataFrame(
    {
        "segment": ["active_old", "active_old", "potential_member", "trial_member", "outside"],
        "member_tier": ["VIP", NO_TIER, NO_TIER, "普通", NO_TIER],
        "new": [False, False, True, True, True],
        "population": pd.array([100, 400, 1000, 10, None], dtype="Int64"),
        "rate": [0.30, 0.10, 0.02, float("nan"), float("nan")],
        "aov": [200.0, 100.0, 50.0, float("nan"), 80.0],
        "buyers": [30.0, 40.0, 20.0, 0.0, 20.0],
        "gmv": [6000.0, 4000.0, 1000.0, 0.0, 1600.0],
        "gmv_low": [4000.0, 3000.0, 500.0, 0.0, 1000.0],
        "gmv_high": [8000.0, 5000.0, 1500.0, 0.0, 2200.0],
        "editions": [2, 2, 2, 0, 2],
        "note": ["", "", "", "no history", ""],
    }
)
BASE_TOTAL = 12_600.0
TARGET = 20_000.0

# Levers: active_old x VIP to a rate of 0.40 (100 x 0.40 x 200 = 8,000), the outside
# buyers to an order value of 90 (20 x 90 = 1,800). Planned 8,000 + 4,000 + 1,000 + 0 +
# 1,800 = 14,800; the levers leave 20,000 - 14,800 = 5,200. The texts are what a
# spreadsheet would run as formulas.
LEVERS = pd.DataFrame(
    {
        "segment": ["active_old", "outside"],
        "member_tier": ["VIP", NO_TIER],
        "rate": [0.40, float("nan")],
        "aov": [float("nan"), 90.0],
        "measure": ['=HYPERLINK("http://example.com/x")', "+满 200 减 30"],
        "owner": ["@张三", "李四"],
        "note": ["-5 points of churn", "\tnote"],
    }
)
PLANNED = 14_800.0


def _history() -> pd.DataFrame:
    rows = []
    for e, k in zip(PAST, (0.9, 1.0), strict=True):
        for seg, tier, new, pop, buyers, aov in (
            ("active_old", "VIP", False, 100, 30, 200.0),
            ("active_old", NO_TIER, False, 400, 40, 100.0),
            ("potential_member", NO_TIER, True, 1000, 20, 50.0),
            ("outside", NO_TIER, True, None, 20, 80.0),
        ):
            p = None if pop is None else int(pop * k)
            b = int(buyers * k)
            rows.append(
                {
                    "edition": e.name,
                    "year": e.year,
                    "segment": seg,
                    "member_tier": tier,
                    "new": new,
                    "population": p,
                    "buyers": b,
                    "orders": b + 2,
                    "gmv": b * aov,
                    "gmv_sq": b * aov * aov,
                    "rate": float("nan") if p is None else b / p,
                    "aov": aov,
                }
            )
    h = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    h["population"] = h["population"].astype("Int64")
    return h


# Persons today: 5 + 7 active old, 4 potential members, 3 trial members, and one person
# in no target group (no pack). The library gives active_old a play in all four phases,
# trial_member in three (no close) and potential_member in two (warm-up, burst).
PERSONS = pd.DataFrame(
    {
        "person_id": [f"P{i:03d}" for i in range(20)],
        "segment": ["active_old"] * 12 + ["potential_member"] * 4 + ["trial_member"] * 3 + ["x"],
        "member_tier": ["VIP"] * 5 + [NO_TIER] * 7 + [NO_TIER] * 4 + ["普通"] * 3 + [NO_TIER],
        "new": [False] * 12 + [True] * 8,
        "group_name": ["active_old"] * 12
        + ["potential_member"] * 4
        + ["trial_member"] * 3
        + [None],
    }
)
PACK_PERSONS = {
    ("warmup", "active_old"): 12,
    ("warmup", "potential_member"): 4,
    ("warmup", "trial_member"): 3,
    ("burst", "active_old"): 12,
    ("burst", "potential_member"): 4,
    ("burst", "trial_member"): 3,
    ("return", "active_old"): 12,
    ("return", "trial_member"): 3,
    ("tail", "active_old"): 12,
}


def hand_plan(target: float | None = TARGET, target_new: float | None = None) -> Plan:
    """The plan of the numbers above."""
    cells = BASELINE.copy()
    if target is None:
        cells = cells.assign(gap=float("nan"), gap_share=float("nan"))
    else:
        cells = gap(cells, target, target_new)
    cells = apply_levers(cells, LEVERS)
    suggestion = pd.DataFrame(
        {
            "segment": ["active_old", "potential_member"],
            "member_tier": [NO_TIER, NO_TIER],
            "proposed_rate": [0.13, 0.025],
            "taken": [True, False],
        }
    )
    library = load_library()
    # an analyst's edit of the library that a spreadsheet would run
    library = [
        dataclasses.replace(g, text={**g.text, "strategy": {"zh": "=1+1", "en": "@SUM(1)"}})
        if g.key == "trial_member"
        else g
        for g in library
    ]
    new = BASELINE["new"]
    return Plan(
        name="hand",
        as_of=AS_OF,
        settings=PlanSettings(),
        coming=COMING,
        past=PAST,
        history=_history(),
        cells=cells,
        total=Total(BASE_TOTAL, 9_000.0, 16_200.0, 2_000.0),
        total_new=Total(float(BASELINE.loc[new, "gmv"].sum()), 1_500.0, 3_700.0, 600.0),
        total_returning=Total(float(BASELINE.loc[~new, "gmv"].sum()), 7_000.0, 13_000.0, 1_800.0),
        target=target,
        target_new=target_new,
        levers=LEVERS,
        suggestion=suggestion,
        library=library,
        persons=ibis.memtable(PERSONS),
        salt="test-salt",
    )


@pytest.fixture(scope="module")
def zh_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_workbook(hand_plan(), tmp_path_factory.mktemp("wb") / "hand_zh.xlsx", "zh")


@pytest.fixture(scope="module")
def en_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_workbook(hand_plan(), tmp_path_factory.mktemp("wb") / "hand_en.xlsx", "en")


# Reading a sheet back by its labels.


def headers(ws: Worksheet) -> dict[str, int]:
    return {str(c.value): c.column for c in ws[1] if c.value is not None}


def rows(ws: Worksheet, lang: str) -> dict[tuple[str, str], int]:
    """The row of each cell of a table sheet, keyed by segment and tier as shown."""
    h = headers(ws)
    seg, tier = h[label("wb_segment", lang)], h[label("wb_member_tier", lang)]
    out = {}
    for r in range(2, ws.max_row + 1):
        s, t = ws.cell(r, seg).value, ws.cell(r, tier).value
        if s and t:
            out[(str(s), str(t))] = r
    return out


def line(ws: Worksheet, key: str, lang: str) -> openpyxl.cell.cell.Cell:
    """The value cell of a summary line of the levers sheet (label in column A)."""
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, 1).value == label(key, lang):
            return ws.cell(r, 2)
    raise AssertionError(f"no line {label(key, lang)!r}")


def shown(segment: str, tier: str, lang: str) -> tuple[str, str]:
    s = label("wb_outside", lang) if segment == "outside" else label(segment, lang)
    t = label("non_member", lang) if tier == NO_TIER else label(tier, lang)
    return s, t


# The tests.


def test_sheet_names_and_headers_in_each_language(zh_book: Path, en_book: Path) -> None:
    zh = openpyxl.load_workbook(zh_book)
    en = openpyxl.load_workbook(en_book)
    assert zh.sheetnames == ["历史", "基线", "提升举措", "分阶段策略", "人群包规模"]
    assert en.sheetnames == ["History", "Baseline", "Levers", "Strategy", "Pack sizes"]
    assert "复购率" in headers(zh["基线"]) and "客单价" in headers(zh["基线"])
    assert "Repurchase rate" in headers(en["Baseline"])
    assert "Planned rate" in headers(en["Levers"]) and "计划复购率" in headers(zh["提升举措"])
    # segments and tiers in words, the outside row named
    assert ("活跃老客", "非会员") in rows(zh["基线"], "zh")
    assert ("Active old customers", "Non-members") in rows(en["Baseline"], "en")
    assert ("Buyers from outside the pool", "Non-members") in rows(en["Levers"], "en")
    assert ("试用会员", "普通") in rows(zh["基线"], "zh")


def test_every_sheet_freezes_its_header_row(zh_book: Path, en_book: Path) -> None:
    for book in (zh_book, en_book):
        for ws in openpyxl.load_workbook(book).worksheets:
            assert ws.freeze_panes is not None, ws.title
            assert re.fullmatch(r"[A-Z]+2", ws.freeze_panes), (ws.title, ws.freeze_panes)
            assert all(c.value for c in ws[1]), ws.title


def test_baseline_and_history_hold_the_plans_numbers(zh_book: Path) -> None:
    wb = openpyxl.load_workbook(zh_book)
    ws = wb["基线"]
    h, at = headers(ws), rows(ws, "zh")
    plan = hand_plan()
    for rec in plan.cells.to_dict("records"):
        r = at[shown(rec["segment"], rec["member_tier"], "zh")]
        pop = ws.cell(r, h["人数"]).value
        assert pop == (None if pd.isna(rec["population"]) else rec["population"])
        for key, col in (("gmv", "基线 GMV"), ("gmv_low", "90% 区间下限"), ("gap", "分摊缺口")):
            assert ws.cell(r, h[col]).value == pytest.approx(rec[key])
        rate = ws.cell(r, h["复购率"]).value
        assert rate is None if pd.isna(rec["rate"]) else rate == pytest.approx(rec["rate"])
    assert ws.cell(at[("试用会员", "普通")], h["备注"]).value == label("wb_no_history", "zh")
    # the gap is shared by baseline GMV: active_old x VIP takes 6,000 / 12,600 of 7,400
    vip = at[("活跃老客", "VIP")]
    assert ws.cell(vip, h["分摊缺口"]).value == pytest.approx(7_400 * 6_000 / 12_600)
    # the totals are the plan's, not sums of the rows' intervals
    r = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "合计")
    assert ws.cell(r, h["基线 GMV"]).value == pytest.approx(12_600)
    assert ws.cell(r, h["90% 区间下限"]).value == pytest.approx(9_000)
    assert ws.cell(r, h["90% 区间上限"]).value == pytest.approx(16_200)
    assert ws.cell(r, h["分摊缺口"]).value == pytest.approx(7_400)
    assert ws.cell(r, h["人数"]).value == 100 + 400 + 1000 + 10
    r = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "新客合计")
    assert ws.cell(r, h["基线 GMV"]).value == pytest.approx(1_000 + 0 + 1_600)
    # history: one row per cell and edition, the plan's values
    hs = wb["历史"]
    hh = headers(hs)
    assert hs.max_row - 1 == len(plan.history)
    found = {
        (
            hs.cell(r, hh["大促届次"]).value,
            hs.cell(r, hh["人群分层"]).value,
            hs.cell(r, hh["会员等级"]).value,
        ): r
        for r in range(2, hs.max_row + 1)
    }
    for rec in plan.history.to_dict("records"):
        r = found[(rec["edition"], *shown(rec["segment"], rec["member_tier"], "zh"))]
        assert hs.cell(r, hh["复购人数"]).value == rec["buyers"]
        assert hs.cell(r, hh["贡献 GMV"]).value == pytest.approx(rec["gmv"])
        assert hs.cell(r, hh["客单价"]).value == pytest.approx(rec["aov"])
        assert hs.cell(r, hh["年份"]).value == rec["year"]


def test_levers_planned_gmv_is_population_times_rate_times_order_value(zh_book: Path) -> None:
    ws = openpyxl.load_workbook(zh_book)["提升举措"]
    h, at = headers(ws), rows(ws, "zh")
    planned = h["计划 GMV"]
    hand = {
        ("活跃老客", "VIP"): 100 * 0.40 * 200,
        ("活跃老客", "非会员"): 400 * 0.10 * 100,
        ("潜在会员", "非会员"): 1000 * 0.02 * 50,
        ("试用会员", "普通"): 0.0,
        ("池外新购买者", "非会员"): 20 * 90,
    }
    for key, value in hand.items():
        cell = ws.cell(at[key], planned)
        assert str(cell.value).startswith("="), cell.value
        assert Formula.value(ws, cell.coordinate) == pytest.approx(value)
    # inputs hold the plan's planned rate and order value; the suggestion is beside them
    assert ws.cell(at[("活跃老客", "VIP")], h["计划复购率"]).value == pytest.approx(0.40)
    assert ws.cell(at[("活跃老客", "VIP")], h["基线复购率"]).value == pytest.approx(0.30)
    assert ws.cell(at[("活跃老客", "非会员")], h["建议复购率"]).value == pytest.approx(0.13)
    assert ws.cell(at[("潜在会员", "非会员")], h["建议复购率"]).value is None
    assert ws.cell(at[("池外新购买者", "非会员")], h["计划客单价"]).value == pytest.approx(90)
    # the cached values Excel shows before it recalculates are the plan's
    cached = openpyxl.load_workbook(zh_book, data_only=True)["提升举措"]
    assert cached.cell(at[("活跃老客", "VIP")], planned).value == pytest.approx(8_000)
    assert cached[line(ws, "wb_remaining", "zh").coordinate].value == pytest.approx(5_200)


def test_gap_formulas_reference_the_target_and_the_totals(zh_book: Path) -> None:
    ws = openpyxl.load_workbook(zh_book)["提升举措"]
    h = headers(ws)
    target = line(ws, "wb_target", "zh")
    assert target.value == TARGET
    base, planned = line(ws, "wb_baseline_total", "zh"), line(ws, "wb_planned_total", "zh")
    total_row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "合计")
    base_sum = ws.cell(total_row, h["基线 GMV"])
    planned_sum = ws.cell(total_row, h["计划 GMV"])
    assert base.value == f"={base_sum.coordinate}"
    assert planned.value == f"={planned_sum.coordinate}"
    col = planned_sum.column_letter
    assert planned_sum.value == f"=SUM({col}2:{col}{total_row - 1})"
    gap_cell = line(ws, "wb_gap_total", "zh")
    assert gap_cell.value == f"={target.coordinate}-{base.coordinate}"
    remaining = line(ws, "wb_remaining", "zh")
    assert remaining.value == f"={target.coordinate}-{planned.coordinate}"
    assert Formula.value(ws, gap_cell.coordinate) == pytest.approx(TARGET - BASE_TOTAL)
    assert Formula.value(ws, remaining.coordinate) == pytest.approx(TARGET - PLANNED)


def test_the_gap_recomputes_when_a_planned_rate_or_the_target_changes(
    zh_book: Path, tmp_path: Path
) -> None:
    wb = openpyxl.load_workbook(zh_book)
    ws = wb["提升举措"]
    h, at = headers(ws), rows(ws, "zh")
    # active_old x none from a rate of 0.10 to 0.15: 400 x 0.15 x 100 = 6,000, 2,000 more
    ws.cell(at[("活跃老客", "非会员")], h["计划复购率"]).value = 0.15
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    ws = openpyxl.load_workbook(edited)["提升举措"]
    assert Formula.value(ws, line(ws, "wb_planned_total", "zh").coordinate) == pytest.approx(16_800)
    assert Formula.value(ws, line(ws, "wb_remaining", "zh").coordinate) == pytest.approx(3_200)
    # the baseline's gap does not move with a lever
    assert Formula.value(ws, line(ws, "wb_gap_total", "zh").coordinate) == pytest.approx(7_400)
    # a new target moves both gaps
    line(ws, "wb_target", "zh").value = 25_000
    assert Formula.value(ws, line(ws, "wb_gap_total", "zh").coordinate) == pytest.approx(12_400)
    assert Formula.value(ws, line(ws, "wb_remaining", "zh").coordinate) == pytest.approx(8_200)


def test_a_split_target_has_live_new_and_returning_gaps(tmp_path: Path) -> None:
    path = write_workbook(hand_plan(target_new=5_000.0), tmp_path / "split.xlsx", "en")
    wb = openpyxl.load_workbook(path)
    ws = wb["Levers"]
    # new: planned 1,000 + 0 + 1,800 = 2,800 of 5,000; returning: 8,000 + 4,000 of 15,000
    assert Formula.value(ws, line(ws, "wb_planned_new", "en").coordinate) == pytest.approx(2_800)
    assert Formula.value(ws, line(ws, "wb_remaining_new", "en").coordinate) == pytest.approx(2_200)
    assert Formula.value(ws, line(ws, "wb_target_returning", "en").coordinate) == pytest.approx(
        15_000
    )
    assert Formula.value(ws, line(ws, "wb_remaining_returning", "en").coordinate) == pytest.approx(
        3_000
    )
    # the outside buyers' order value from 90 to 100: 200 more for the new customers only
    h, at = headers(ws), rows(ws, "en")
    ws.cell(
        at[("Buyers from outside the pool", "Non-members")], h["Planned order value"]
    ).value = 100
    assert Formula.value(ws, line(ws, "wb_remaining_new", "en").coordinate) == pytest.approx(2_000)
    assert Formula.value(ws, line(ws, "wb_remaining_returning", "en").coordinate) == pytest.approx(
        3_000
    )
    base = wb["Baseline"]
    r = next(r for r in range(2, base.max_row + 1) if base.cell(r, 1).value == "New customers")
    assert base.cell(r, headers(base)["Share of the gap"]).value == pytest.approx(5_000 - 2_600)


def test_without_a_target_the_levers_sheet_says_so(tmp_path: Path) -> None:
    path = write_workbook(hand_plan(target=None), tmp_path / "none.xlsx", "en")
    ws = openpyxl.load_workbook(path)["Levers"]
    texts = [ws.cell(r, 1).value for r in range(1, ws.max_row + 1)]
    assert label("wb_no_target", "en") in texts
    assert label("wb_target", "en") not in texts and label("wb_remaining", "en") not in texts
    assert Formula.value(ws, line(ws, "wb_planned_total", "en").coordinate) == pytest.approx(
        PLANNED
    )


def test_money_shows_the_currency_and_rates_show_as_percentages(
    zh_book: Path, en_book: Path
) -> None:
    for book, lang, symbol in ((zh_book, "zh", "￥"), (en_book, "en", "¥")):
        ws = openpyxl.load_workbook(book)[label("wb_sheet_levers", lang)]
        h, at = headers(ws), rows(ws, lang)
        r = at[shown("active_old", "VIP", lang)]
        money = ws.cell(r, h[label("wb_planned_gmv", lang)]).number_format
        assert money == f'"{symbol}"#,##0.00'
        assert ws.cell(r, h[label("wb_planned_rate", lang)]).number_format == "0.0%"
        assert ws.cell(r, h[label("wb_population", lang)]).number_format == "#,##0"
        assert ws.column_dimensions["A"].width > 8


def test_no_text_from_the_data_starts_like_a_formula(zh_book: Path, en_book: Path) -> None:
    sizes = pd.DataFrame(
        {"phase": ["burst"], "group_name": ["active_old"], "arm": ["=cmd"], "persons": [3]}
    )
    for book, lang in ((zh_book, "zh"), (en_book, "en")):
        wb = openpyxl.load_workbook(book)
        texts = [
            c.value
            for ws in wb.worksheets
            for row in ws.iter_rows()
            for c in row
            if c.data_type == "s"
        ]
        assert texts
        assert not [t for t in texts if t.startswith(("=", "+", "-", "@", "\t", "\r"))]
        levers = wb[label("wb_sheet_levers", lang)]
        h, at = headers(levers), rows(levers, lang)
        r = at[shown("active_old", "VIP", lang)]
        assert levers.cell(r, h[label("wb_measure", lang)]).value == (
            '\'=HYPERLINK("http://example.com/x")'
        )
        assert levers.cell(r, h[label("wb_owner", lang)]).value == "'@张三"
        strategy = wb[label("wb_sheet_strategy", lang)]
        assert any(
            str(c.value).startswith("'") for row in strategy.iter_rows() for c in row if c.value
        )
    path = write_workbook(hand_plan(), en_book.with_name("arms.xlsx"), "en", pack_sizes=sizes)
    ws = openpyxl.load_workbook(path)["Pack sizes"]
    assert "'=cmd" in headers(ws)


def test_pack_sizes_are_the_packs_counted_by_phase_group_and_arm(en_book: Path) -> None:
    plan = hand_plan()
    ws = openpyxl.load_workbook(en_book)["Pack sizes"]
    h = headers(ws)
    control, treated = h["Holdout (not contacted)"], h["Contacted"]
    phase_name = {label(f"wb_phase_{p}", "en"): p for p in ("warmup", "burst", "return", "tail")}
    group_name = {label(g, "en"): g for g in ("active_old", "potential_member", "trial_member")}
    found = {}
    for r in range(2, ws.max_row + 1):
        key = (
            phase_name[ws.cell(r, h["Phase"]).value],
            group_name[ws.cell(r, h["Target group"]).value],
        )
        found[key] = r
        persons = ws.cell(r, h["Persons"]).value
        assert persons == ws.cell(r, control).value + ws.cell(r, treated).value
    assert {k: ws.cell(r, h["Persons"]).value for k, r in found.items()} == PACK_PERSONS
    # each arm as the packs hold it, counted here from the persons themselves
    packs = plan.packs().to_pandas()
    for (phase, group), r in found.items():
        mine = packs[(packs["phase"] == phase) & (packs["group_name"] == group)]
        assert ws.cell(r, control).value == int((mine["arm"] == "control").sum())
    # a person keeps one arm across the phases: the holdout is the same in every phase
    holdout = {p: ws.cell(r, control).value for (p, g), r in found.items() if g == "active_old"}
    assert len(set(holdout.values())) == 1
    first = ws.cell(2, h["First day"]).value
    assert first.date() == dt.date(2026, 10, 20)
    assert pack_size_table(plan)["persons"].sum() == sum(PACK_PERSONS.values())


def test_strategy_columns_are_the_phases_with_their_dates(en_book: Path) -> None:
    ws = openpyxl.load_workbook(en_book)["Strategy"]
    heads = [str(c.value) for c in ws[1]]
    assert heads[-4:] == [
        "Warm-up\n2026-10-20 – 2026-10-31",
        "Burst\n2026-11-01 – 2026-11-11",
        "Sustain\n2026-11-12 – 2026-11-14",
        "Close\n2026-11-15 – 2026-11-18",
    ]
    groups = [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)]
    # the groups covering the plan's segments (outside is none), in the library's order
    assert groups == ["Active old customers", "Trial members", "Potential members"]


def test_the_same_plan_gives_the_same_bytes(tmp_path: Path) -> None:
    a = write_workbook(hand_plan(), tmp_path / "a.xlsx", "zh")
    b = write_workbook(hand_plan(), tmp_path / "b.xlsx", "zh")
    assert a.read_bytes() == b.read_bytes()
    props = openpyxl.load_workbook(a).properties
    assert props.created == dt.datetime(2000, 1, 1)


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="language 'fr'"):
        write_workbook(hand_plan(), tmp_path / "fr.xlsx", "fr")
    sizes = pd.DataFrame({"phase": ["burst"], "group_name": ["active_old"], "n": [3]})
    with pytest.raises(ValueError, match="lack the column\\(s\\) arm, persons"):
        write_workbook(hand_plan(), tmp_path / "bad.xlsx", "zh", pack_sizes=sizes)
    assert not list(tmp_path.iterdir())


def test_a_failure_while_saving_leaves_the_last_workbook_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_workbook(hand_plan(), tmp_path / "plan.xlsx", "zh")
    before = path.read_bytes()

    def half_written(self: Any) -> None:
        Path(self.filename).write_bytes(b"PK half a zip")
        raise OSError("disk full")

    # xlsxwriter writes the file when the workbook is closed: fail half-way through that
    monkeypatch.setattr(xlsxwriter.workbook.Workbook, "_store_workbook", half_written)
    with pytest.raises(OSError, match="disk full"):
        write_workbook(hand_plan(target=30_000.0), path, "zh")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]


def test_another_currency_shows_its_code(tmp_path: Path) -> None:
    path = write_workbook(hand_plan(), tmp_path / "eur.xlsx", "en", currency="EUR")
    ws = openpyxl.load_workbook(path)["Baseline"]
    h, at = headers(ws), rows(ws, "en")
    cell = ws.cell(at[shown("active_old", "VIP", "en")], h["Baseline GMV"])
    assert cell.number_format == '"EUR "#,##0.00'
    with pytest.raises(ValueError, match="currency 'yuan'"):
        write_workbook(hand_plan(), tmp_path / "x.xlsx", "en", currency="yuan")


@pytest.mark.slow
def test_the_workbook_of_a_plan_made_on_the_synthetic_warehouse(
    small_synth: SynthResult, tmp_path: Path
) -> None:
    s = load_settings(root=tmp_path, env={})
    ingest(small_synth.raw_dir, s, progress=False)
    con = connect(s)
    plan = run_plan(
        con,
        AS_OF,
        "double11-2026",
        50_000,
        s.plan,
        segment_settings=s.segment,
        link_threshold=s.link_threshold,
        salt=s.salt,
    )
    path = write_workbook(plan, tmp_path / "plan.xlsx", "en")
    wb = openpyxl.load_workbook(path)
    ws = wb["Baseline"]
    h, at = headers(ws), rows(ws, "en")
    for rec in plan.cells.to_dict("records"):
        r = at[shown(rec["segment"], rec["member_tier"], "en")]
        assert ws.cell(r, h["Baseline GMV"]).value == pytest.approx(rec["gmv"])
    levers = wb["Levers"]
    assert Formula.value(levers, line(levers, "wb_planned_total", "en").coordinate) == (
        pytest.approx(plan.planned)
    )
    assert Formula.value(levers, line(levers, "wb_remaining", "en").coordinate) == (
        pytest.approx(plan.remaining_gap)
    )
    assert Formula.value(levers, line(levers, "wb_gap_total", "en").coordinate) == (
        pytest.approx(50_000 - plan.total.value)
    )
    packs = wb["Pack sizes"]
    ph = headers(packs)
    shown_total = sum(packs.cell(r, ph["Persons"]).value for r in range(2, packs.max_row + 1))
    p = plan.packs()
    assert shown_total == p.count().execute()
