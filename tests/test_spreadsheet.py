"""Formula-safe text: the same rule for frames, single values and engine expressions."""

from __future__ import annotations

import ibis
import pandas as pd

from workbench.spreadsheet import FORMULA_START, formula_safe, formula_safe_expr, formula_safe_text

# Each character a spreadsheet reads as the start of a formula, and text that only
# contains one further in.
RISKY = ["=SUM(A1)", "+86 138", "-1+1", "@cmd", "\tx", "\rx"]
PLAIN = ["tb_alice", "a=b", "黄远娜", "'=quoted", "", " =x"]


def test_risky_text_gets_a_quote_and_plain_text_stays() -> None:
    assert [formula_safe_text(v) for v in RISKY] == ["'" + v for v in RISKY]
    assert [formula_safe_text(v) for v in PLAIN] == PLAIN
    assert {v[0] for v in RISKY} == set(FORMULA_START)


def test_frames_quote_text_cells_and_names_but_not_numbers() -> None:
    df = pd.DataFrame(
        {"=name": ["-x", "y"], "n": [-3, 4], "when": pd.to_datetime(["2027-06-18"] * 2)}
    )
    out = formula_safe(df)
    assert out.columns.tolist() == ["'=name", "n", "when"]
    assert out["'=name"].tolist() == ["'-x", "y"]
    assert out["n"].tolist() == [-3, 4]
    assert df.columns.tolist() == ["=name", "n", "when"]  # the input is left as it was


def test_the_engine_expression_follows_the_same_rule() -> None:
    values = RISKY + PLAIN
    t = ibis.memtable({"v": values})
    got = t.select(safe=formula_safe_expr(t.v)).to_pandas()["safe"].tolist()
    assert got == ["'" + v for v in RISKY] + PLAIN
