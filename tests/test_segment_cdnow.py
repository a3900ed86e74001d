"""Segmentation of the real CDNOW transactions as of 1998-06-30, checked against plain pandas.

The reference below reads the raw file itself and applies the rules as DOMAIN.md
and the segment modules' docstrings state them, sharing no code with the
workbench: a purchase is a transaction that kept some value (dollar_value > 0);
purchase days are distinct dates; the inductive RC is the p90 (linear
interpolation) of each repeat customer's mean interval between purchase days,
divided by 3; recency is counted in RC units against the bounds 1 / 2 / 2.5 / 3;
RFM scores are quintiles (SQL NTILE(5) on the sorted values, ties sharing the
lowest score) and a dimension is high at or above the mean score. CDNOW has no
product master and no other brand, so every person takes the overall RC, lost
persons are category-lost and customers whose every transaction is worth $0
are category potential.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.config import SegmentSettings, Settings, load_settings
from workbench.engine import connect
from workbench.segment.segments import segment

REPO = Path(__file__).resolve().parents[1]
MAPPING = REPO / "data" / "mappings" / "cdnow.toml"
CDNOW = REPO.parent / "shared" / "data" / "real" / "cdnow"
AS_OF = dt.date(1998, 6, 30)

needs_cdnow = pytest.mark.skipif(
    not CDNOW.is_dir(), reason="shared/data/real/cdnow is not beside the checkout"
)

# The figures the pandas reference gives (and the workbench must give).
RC_DAYS = 84.8  # p90 of 11,513 repeat customers' mean intervals = 254.4 days
TIERS = {
    ("active", "highly_awake"): 3182,
    ("active", "moderately_awake"): 2022,
    ("sleeping", "light_sleep"): 823,
    ("sleeping", "deep_sleep"): 777,
    ("lost", "category_lost"): 16698,
    ("potential", "category_potential"): 68,
}
RFM = {
    "important_value": 9884,
    "important_develop": 905,
    "important_keep": 626,
    "important_retain": 2682,
    "general_value": 846,
    "general_develop": 2292,
    "general_keep": 157,
    "general_retain": 6110,
}
SEGMENT_NAMES = {
    (True, True, True): "important_value",
    (True, False, True): "important_develop",
    (False, True, True): "important_keep",
    (False, False, True): "important_retain",
    (True, True, False): "general_value",
    (True, False, False): "general_develop",
    (False, True, False): "general_keep",
    (False, False, False): "general_retain",
}


def quintile(values: pd.Series, descending: bool = False) -> pd.Series:
    """1-5 as SQL's NTILE(5) over the sorted values (the first N % 5 tiles one row
    larger), equal values taking the lowest tile any of them got."""
    ordered = values.sort_values(ascending=not descending, kind="mergesort")
    n = len(ordered)
    size, extra = divmod(n, 5)
    pos = np.arange(n)
    big = extra * (size + 1)
    tile = np.where(pos < big, pos // (size + 1), extra + (pos - big) // max(size, 1))
    lowest = pd.Series(tile, index=ordered.index).groupby(ordered.to_numpy()).transform("min")
    return (lowest + 1).reindex(values.index)


def test_quintile_by_hand() -> None:
    # Seven values: NTILE(5) gives tiles 1 1 2 2 3 4 5 in sorted order; the two 20s
    # (tiles 1 and 2) share 1, the two 40s (tiles 3 and 4) share 3.
    v = pd.Series([10, 20, 20, 30, 40, 40, 50])
    assert quintile(v).tolist() == [1, 1, 1, 2, 3, 3, 5]
    # Descending, 50 40 40 30 20 20 10 take 1 1 2 2 3 4 5: the 40s share 1, the 20s 3.
    assert quintile(v, descending=True).tolist() == [5, 3, 3, 2, 1, 1, 1]


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    raw = pd.read_csv(CDNOW / "CDNOW_master.txt.gz", sep=r"\s+", dtype={"customer_id": str})
    raw["day"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    as_of = pd.Timestamp(AS_OF)
    bought = raw[(raw["dollar_value"] > 0) & (raw["day"] <= as_of)]
    per = bought.groupby("customer_id").agg(
        first=("day", "min"),
        last=("day", "max"),
        days=("day", "nunique"),
        amount=("dollar_value", "sum"),
    )
    repeat = per[per["days"] >= 2]
    mean_interval = (repeat["last"] - repeat["first"]).dt.days / (repeat["days"] - 1)
    rc = float(mean_interval.quantile(0.9)) / 3
    # The exact distribution-free 95% interval of the p90 (binomial order statistics).
    ci = stats.quantile_test(mean_interval.to_numpy(), q=rc * 3, p=0.9).confidence_interval(0.95)
    per["recency"] = (as_of - per["last"]).dt.days
    r = per["recency"] / rc
    level2 = pd.Series(
        np.select(
            [r <= 1, r <= 2, r <= 2.5, r <= 3],
            ["highly_awake", "moderately_awake", "light_sleep", "deep_sleep"],
            "category_lost",
        ),
        index=per.index,
    ).reindex(raw["customer_id"].unique(), fill_value="category_potential")
    parent = {
        "highly_awake": "active",
        "moderately_awake": "active",
        "light_sleep": "sleeping",
        "deep_sleep": "sleeping",
        "category_lost": "lost",
        "category_potential": "potential",
    }
    tiers = level2.map(parent).to_frame("l1").assign(l2=level2).value_counts().to_dict()
    scores = pd.DataFrame(
        {
            "r": quintile(per["recency"], descending=True),
            "f": quintile(per["days"]),
            "m": quintile(per["amount"]),
        }
    )
    high = scores >= scores.mean()
    rfm = pd.Series(
        [SEGMENT_NAMES[k] for k in zip(high["r"], high["f"], high["m"], strict=True)]
    ).value_counts()

    def segments(table: pd.DataFrame, reference: str) -> dict[str, int]:
        # Higher is better in every column given here (recency as minus days); at a
        # reference on the worst value, high is strictly above it.
        high = {}
        for col in table.columns:
            ref = table[col].agg(reference)
            strict = ref == table[col].min()
            high[col] = table[col] > ref if strict else table[col] >= ref
        keys = zip(high["r"], high["f"], high["m"], strict=True)
        return pd.Series([SEGMENT_NAMES[k] for k in keys]).value_counts().to_dict()

    raw_values = pd.DataFrame({"r": -per["recency"], "f": per["days"], "m": per["amount"]})
    return {
        "rfm_median_score": segments(scores, "median"),
        "rfm_median_raw": segments(raw_values, "median"),
        "f_median_days": float(per["days"].median()),
        "buyers_twice": int((per["days"] >= 2).sum()),
        "rc": rc,
        "rc_interval": (float(ci.low) / 3, float(ci.high) / 3),
        "repeaters": len(repeat),
        "tiers": tiers,
        "rfm": rfm.to_dict(),
    }


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """CDNOW ingested through its mapping file."""
    from workbench.unify import ingest_mapped

    warehouse = tmp_path_factory.mktemp("cdnow") / "w.duckdb"
    s = load_settings(root=REPO, env={"WORKBENCH_WAREHOUSE": str(warehouse)})
    ingest_mapped(MAPPING, s, progress=False)
    return s


@pytest.fixture(scope="module")
def snapshot(cdnow: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The workbench's segments of CDNOW as of 1998-06-30, and its RC table."""
    snap = segment(connect(cdnow, read_only=True), AS_OF)
    return snap.table.to_pandas(), snap.cycles.table


@pytest.mark.slow
@needs_cdnow
def test_the_pandas_reference_gives_the_pinned_figures(reference: dict[str, object]) -> None:
    assert reference["rc"] == pytest.approx(RC_DAYS)
    assert reference["repeaters"] == 11513
    assert reference["tiers"] == TIERS
    assert reference["rfm"] == RFM


@pytest.mark.slow
@needs_cdnow
def test_inductive_rc_matches_pandas(
    snapshot: tuple[pd.DataFrame, pd.DataFrame], reference: dict[str, object]
) -> None:
    table, cycles = snapshot
    overall = cycles[cycles["category"].isna()].iloc[0]
    assert overall["method"] == "inductive" and pd.isna(overall["rc_usage"])
    assert overall["repeaters"] == reference["repeaters"]
    assert overall["rc_inductive"] == pytest.approx(reference["rc"], rel=1e-9)
    # The normal approximation of the binomial ranks gives scipy's exact interval here.
    low, high = reference["rc_interval"]  # type: ignore[misc]
    assert overall["rc_inductive_low"] == pytest.approx(low, rel=1e-9)
    assert overall["rc_inductive_high"] == pytest.approx(high, rel=1e-9)
    assert table["rc_days"].dropna().eq(overall["rc_days"]).all()


@pytest.mark.slow
@needs_cdnow
def test_tier_counts_match_pandas(
    snapshot: tuple[pd.DataFrame, pd.DataFrame], reference: dict[str, object]
) -> None:
    table = snapshot[0]
    assert len(table) == 23570
    got = table.groupby(["tier_l1", "tier_l2"]).size().to_dict()
    assert got == reference["tiers"]


@pytest.mark.slow
@needs_cdnow
def test_rfm_segments_match_pandas(
    snapshot: tuple[pd.DataFrame, pd.DataFrame], reference: dict[str, object]
) -> None:
    table = snapshot[0]
    got = table["rfm_segment"].value_counts().to_dict()
    assert got == reference["rfm"]
    assert table["rfm_segment"].isna().sum() == TIERS[("potential", "category_potential")]


@pytest.mark.slow
@needs_cdnow
@pytest.mark.parametrize("basis", ["score", "raw"])
def test_rfm_against_the_median_splits_frequency(
    cdnow: Settings, reference: dict[str, object], basis: str
) -> None:
    """CDNOW's median buyer bought on one day: against the median, F-high means more than
    that, not everyone, and the eight segments agree with pandas' count."""
    assert reference["f_median_days"] == 1.0
    chosen = SegmentSettings(rfm_reference="median", rfm_basis=basis)
    table = segment(connect(cdnow, read_only=True), AS_OF, chosen).table.to_pandas()
    got = table["rfm_segment"].value_counts().to_dict()
    assert got == reference[f"rfm_median_{basis}"]
    f_high = table["rfm_segment"].isin([n for (r, f, m), n in SEGMENT_NAMES.items() if f]).sum()
    assert f_high == reference["buyers_twice"] < table["rfm_segment"].notna().sum()


@pytest.mark.slow
@needs_cdnow
def test_the_segment_report_runs_on_cdnow_and_says_what_it_cannot_show(
    cdnow: Settings, tmp_path: Path
) -> None:
    """CDNOW has no member CRM, coupons, campaigns, other brands or product master: every
    section of 02 still runs, in both languages, and one line says what each lack hides."""
    from workbench.report import run_notebook
    from workbench.report.labels import label

    settings = cdnow.with_(reports_dir=tmp_path / "reports")
    notebook = REPO / "notebooks" / "02_segment.ipynb"
    for lang in ("zh", "en"):
        given = {"lang": lang, "as_of": str(AS_OF), "truth_dir": str(tmp_path / "no_truth")}
        run = run_notebook(notebook, given, settings, progress=False)
        assert run.ok, run.error
        page = html.unescape(run.html.read_text(encoding="utf-8"))
        for key in ("absent_members", "absent_promotions", "absent_products", "no_truth"):
            assert label(key, lang) in page, (lang, key)
        assert label("no_competitor_data", lang) in page
        # CDNOW's mapping declares dollars: the headline's net sales and every money cell
        # are in $, chart titles name USD, and no yuan sign is left.
        headline = re.search(
            re.escape(label("active_net_amount", lang)) + r"</div><div[^>]*>([^<]*)</div>", page
        )
        assert headline is not None and headline.group(1).startswith("$"), lang
        assert re.search(r"<td[^>]*>\$[\d,]+</td>", page), lang
        assert f"{label('net_amount', lang)} (USD)" in page
        text = re.sub(r"<script\b.*?</script>", "", page, flags=re.S)  # Vega's bundle aside
        assert "￥" not in text and "¥" not in text, lang
