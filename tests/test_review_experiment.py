"""Incrementality on any experiment table: checked against Hillstrom's published figures and
scipy, against tiny tables worked by hand, and by coverage on simulated experiments.

Every expected value is computed here, independently of ``workbench.review``: from the
file with pandas and scipy (Welch's t interval, the Wald interval of a difference of
proportions written out), by hand on a few units, or from the truth planted in a
simulation.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench import review
from workbench.review import ExperimentError

HILLSTROM = (
    Path(__file__).parents[2] / "shared" / "data" / "real" / "hillstrom" / "hillstrom.csv.gz"
)
CONTROL = "No E-Mail"
ARMS = ("Mens E-Mail", "Womens E-Mail")
# SOURCE.md's table: units, visit rate, conversion rate, spend per customer
PUBLISHED = {
    "Mens E-Mail": (21_307, 0.1828, 0.0125, 1.4226),
    "Womens E-Mail": (21_387, 0.1514, 0.0088, 1.0772),
    "No E-Mail": (21_306, 0.1062, 0.0057, 0.6528),
}


def table(frame: pd.DataFrame) -> Any:
    """The frame as a table of a fresh in-memory DuckDB."""
    con = ibis.duckdb.connect()
    return con.create_table("experiment", frame)


def tiny(**columns: list[Any]) -> Any:
    return table(pd.DataFrame(columns))


def two_arms(control: list[float], arm: list[float], name: str = "spend") -> Any:
    values = [*control, *arm]
    return tiny(
        unit=list(range(len(values))),
        arm=["c"] * len(control) + ["t"] * len(arm),
        **{name: values},
    )


# Hillstrom ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hillstrom() -> pd.DataFrame:
    if not HILLSTROM.exists():
        pytest.skip(f"the Hillstrom file is not at {HILLSTROM}")
    return pd.read_csv(HILLSTROM).reset_index(names="customer")


@pytest.fixture(scope="module")
def hill_exp(hillstrom: pd.DataFrame) -> review.Experiment:
    return review.experiment(
        table(hillstrom),
        unit="customer",
        arm="segment",
        control=CONTROL,
        outcomes=["visit", "conversion", "spend"],
        covariate="history",
    )


@pytest.fixture(scope="module")
def hill_summary(hill_exp: review.Experiment) -> review.Summary:
    return review.summarise(hill_exp)


@pytest.fixture(scope="module")
def hill_lifts(hill_summary: review.Summary) -> pd.DataFrame:
    return review.lifts(hill_summary, confidence=0.95)


def row(lifts: pd.DataFrame, outcome: str, arm: str) -> pd.Series:
    found = lifts[(lifts["outcome"] == outcome) & (lifts["arm"] == arm)]
    assert len(found) == 1
    return found.iloc[0]


def test_hillstrom_arms_match_the_published_figures(
    hill_summary: review.Summary, hill_lifts: pd.DataFrame
) -> None:
    assert hill_summary.kinds == {"visit": "rate", "conversion": "rate", "spend": "mean"}
    assert hill_summary.arm_units() == {a: v[0] for a, v in PUBLISHED.items()}
    for arm in ARMS:
        for i, outcome in enumerate(("visit", "conversion", "spend"), start=1):
            r = row(hill_lifts, outcome, arm)
            assert round(r.value_arm, 4) == PUBLISHED[arm][i]
            assert round(r.value_control, 4) == PUBLISHED[CONTROL][i]


@pytest.mark.parametrize("arm", ARMS)
def test_hillstrom_spend_lift_is_scipys_welch(
    hillstrom: pd.DataFrame, hill_lifts: pd.DataFrame, arm: str
) -> None:
    y1 = hillstrom.loc[hillstrom["segment"] == arm, "spend"].to_numpy()
    y0 = hillstrom.loc[hillstrom["segment"] == CONTROL, "spend"].to_numpy()
    welch = stats.ttest_ind(y1, y0, equal_var=False)
    ci = welch.confidence_interval(0.95)
    r = row(hill_lifts, "spend", arm)
    assert r.interval == "welch" and r.status == "ok"
    assert r.lift == pytest.approx(y1.mean() - y0.mean(), rel=1e-12)
    assert (r.lift_low, r.lift_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert r.p_value == pytest.approx(welch.pvalue, rel=1e-6)
    # the relative lift: delta method on the log of the ratio of means, Welch's df
    m1, m0 = y1.mean(), y0.mean()
    v1, v0 = y1.var(ddof=1) / (len(y1) * m1**2), y0.var(ddof=1) / (len(y0) * m0**2)
    df = (v1 + v0) ** 2 / (v1**2 / (len(y1) - 1) + v0**2 / (len(y0) - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(v1 + v0)
    ratio = m1 / m0
    assert r.rel_lift == pytest.approx(ratio - 1)
    assert r.rel_lift_low == pytest.approx(ratio * math.exp(-half) - 1, rel=1e-9)
    assert r.rel_lift_high == pytest.approx(ratio * math.exp(half) - 1, rel=1e-9)


@pytest.mark.parametrize("outcome", ["visit", "conversion"])
@pytest.mark.parametrize("arm", ARMS)
def test_hillstrom_rate_lifts_are_the_wald_interval(
    hillstrom: pd.DataFrame, hill_lifts: pd.DataFrame, outcome: str, arm: str
) -> None:
    y1 = hillstrom.loc[hillstrom["segment"] == arm, outcome]
    y0 = hillstrom.loc[hillstrom["segment"] == CONTROL, outcome]
    n1, n0 = len(y1), len(y0)
    p1, p0 = y1.sum() / n1, y0.sum() / n0
    z = stats.norm.ppf(0.975)
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    r = row(hill_lifts, outcome, arm)
    assert r.interval == "wald" and r.kind == "rate"
    assert r.lift == pytest.approx(p1 - p0, rel=1e-12)
    assert (r.lift_low, r.lift_high) == pytest.approx((p1 - p0 - z * se, p1 - p0 + z * se))
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(p1 - p0) / se), rel=1e-6)
    # Katz: the ratio of proportions, normal on the log scale
    log_se = math.sqrt((1 - p1) / (n1 * p1) + (1 - p0) / (n0 * p0))
    assert r.rel_lift_low == pytest.approx(p1 / p0 * math.exp(-z * log_se) - 1)
    assert r.rel_lift_high == pytest.approx(p1 / p0 * math.exp(z * log_se) - 1)


def test_hillstrom_mens_lifts_match_tea_tastings_published_run(hill_lifts: pd.DataFrame) -> None:
    # DESIGN.md: tea-tasting 1.14 on this file, Mens vs no e-mail (Welch on both outcomes);
    # the Wald interval of the visit rate agrees with Welch's on a 0/1 column to 1e-6 here.
    visit, spend = row(hill_lifts, "visit", "Mens E-Mail"), row(hill_lifts, "spend", "Mens E-Mail")
    assert (visit.lift, visit.lift_low, visit.lift_high) == pytest.approx(
        (0.076590, 0.069953, 0.083226), abs=2e-6
    )
    assert (spend.lift, spend.lift_low, spend.lift_high) == pytest.approx(
        (0.769827, 0.485140, 1.054515), abs=1e-6
    )


def test_hillstrom_split_passes_the_sample_ratio_check(
    hillstrom: pd.DataFrame, hill_summary: review.Summary, hill_lifts: pd.DataFrame
) -> None:
    counts = hillstrom["segment"].value_counts()
    chi2 = sum((n - len(hillstrom) / 3) ** 2 / (len(hillstrom) / 3) for n in counts)
    srm = review.sample_ratio(hill_summary)
    assert srm.statistic == pytest.approx(chi2)
    assert srm.df == 2
    assert srm.p_value == pytest.approx(stats.chi2.sf(chi2, 2))
    assert srm.p_value > 0.5 and not srm.broken
    assert not hill_lifts["srm_broken"].any()


def test_hillstrom_every_lift_survives_holm_and_mens_wins(hill_lifts: pd.DataFrame) -> None:
    for outcome in ("visit", "conversion", "spend"):
        rows = hill_lifts[hill_lifts["outcome"] == outcome]
        p = sorted(rows["p_value"])
        # Holm with two arms: the smaller p-value doubled, the larger kept (never below it)
        holm = sorted(rows["p_adjusted"])
        assert holm == pytest.approx([2 * p[0], max(2 * p[0], p[1])])
        assert rows["significant"].all()
        w = review.winner(hill_lifts, outcome)
        assert w.arm == "Mens E-Mail"
        mens = row(hill_lifts, outcome, "Mens E-Mail")
        assert (w.lift, w.lift_low, w.lift_high) == (mens.lift, mens.lift_low, mens.lift_high)


@pytest.mark.parametrize("arm", ARMS)
def test_hillstrom_cuped_with_history_narrows_spend(
    hillstrom: pd.DataFrame, hill_summary: review.Summary, arm: str
) -> None:
    adjusted = review.cuped(hill_summary)
    r = row(adjusted, "spend", arm)
    raw = row(review.lifts(hill_summary), "spend", arm)
    assert r.interval == "welch_cuped"
    assert (r.raw_lift_low, r.raw_lift_high) == (raw.lift_low, raw.lift_high)
    assert r.lift_high - r.lift_low < raw.lift_high - raw.lift_low
    assert r.width_ratio < 1
    both = hillstrom[hillstrom["segment"].isin([arm, CONTROL])]
    corr = np.corrcoef(both["spend"], both["history"])[0, 1]
    # the adjusted outcome keeps 1 - corr^2 of the variance: corr^2 is removed
    assert 1 - r.variance_removed == pytest.approx(1 - corr**2, rel=1e-9)
    assert r.variance_removed == pytest.approx(corr**2, rel=1e-6)


def test_hillstrom_cuped_lift_is_the_adjusted_outcomes_welch(
    hillstrom: pd.DataFrame, hill_summary: review.Summary
) -> None:
    arm = "Mens E-Mail"
    both = hillstrom[hillstrom["segment"].isin([arm, CONTROL])]
    x, y = both["history"], both["spend"]
    theta = np.cov(y, x)[0, 1] / x.var(ddof=1)
    adj = y - theta * (x - x.mean())
    welch = stats.ttest_ind(
        adj[both["segment"] == arm], adj[both["segment"] == CONTROL], equal_var=False
    )
    ci = welch.confidence_interval(0.95)
    r = row(review.cuped(hill_summary), "spend", arm)
    assert (r.lift_low, r.lift_high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_hillstrom_segment_lifts_correct_across_segments_and_arms(
    hillstrom: pd.DataFrame, hill_exp: review.Experiment
) -> None:
    seg = review.segment_lifts(hill_exp, "zip_code", correction="bh")
    spend = seg[seg["outcome"] == "spend"]
    assert len(spend) == 3 * 2
    expected = []
    for r in spend.itertuples():
        here = hillstrom[hillstrom["zip_code"] == r.segment]
        y1 = here.loc[here["segment"] == r.arm, "spend"]
        y0 = here.loc[here["segment"] == CONTROL, "spend"]
        ci = stats.ttest_ind(y1, y0, equal_var=False).confidence_interval(0.95)
        assert (r.lift_low, r.lift_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
        expected.append(stats.ttest_ind(y1, y0, equal_var=False).pvalue)
    # Benjamini-Hochberg over the six tests, by hand: p(i) * m / i, then the running minimum
    p = np.array(expected)
    order = np.argsort(p)
    scaled = p[order] * len(p) / np.arange(1, len(p) + 1)
    bh = np.minimum.accumulate(scaled[::-1])[::-1]
    want = np.empty_like(bh)
    want[order] = np.minimum(bh, 1)
    assert spend["p_adjusted"].to_numpy() == pytest.approx(want, rel=1e-6)
    assert (spend["significant"] == (want <= 0.05)).all()


def test_hillstrom_bootstrap_agrees_with_welch(hill_summary: review.Summary) -> None:
    boot = review.bootstrap_lifts(hill_summary, "spend", n_resamples=500, seed=3)
    welch = review.lifts(hill_summary)
    for arm in ARMS:
        b, w = row(boot, "spend", arm), row(welch, "spend", arm)
        assert b.interval == "bootstrap_percentile" and b.resamples == 500
        assert b.lift == pytest.approx(w.lift)
        assert b.lift_low < b.lift < b.lift_high
        # the same interval to within a tenth of its width on 21,000 units per arm
        width = w.lift_high - w.lift_low
        assert abs(b.lift_low - w.lift_low) < 0.1 * width
        assert abs(b.lift_high - w.lift_high) < 0.1 * width
    again = review.bootstrap_lifts(hill_summary, "spend", n_resamples=500, seed=3)
    pd.testing.assert_frame_equal(boot, again)


# Hand-worked tiny tables ----------------------------------------------------------------


def test_welch_interval_worked_by_hand() -> None:
    # control 1..5: mean 3, variance 2.5; arm 3,5,..,11: mean 7, variance 10
    t = two_arms([1, 2, 3, 4, 5], [3, 5, 7, 9, 11])
    s = review.summarise(
        review.experiment(t, unit="unit", arm="arm", control="c", outcomes=["spend"])
    )
    r = review.lifts(s, confidence=0.9, min_units=5).iloc[0]
    se2 = 2.5 / 5 + 10 / 5  # 2.5
    df = se2**2 / ((2.5 / 5) ** 2 / 4 + (10 / 5) ** 2 / 4)  # 6.25 / 1.0625
    assert df == pytest.approx(5.882353, rel=1e-6)
    half = stats.t.ppf(0.95, df) * math.sqrt(se2)
    assert (r.value_control, r.value_arm, r.lift) == (3.0, 7.0, 4.0)
    assert (r.lift_low, r.lift_high) == pytest.approx((4 - half, 4 + half), rel=1e-12)
    assert r.p_value == pytest.approx(2 * stats.t.sf(4 / math.sqrt(se2), df), rel=1e-9)
    assert r.confidence == 0.9 and r.kind == "mean" and r.status == "ok"


def test_rate_lift_worked_by_hand() -> None:
    # 200 units a side: 20 respond in the control (10%), 40 in the arm (20%)
    c = [1] * 20 + [0] * 180
    a = [1] * 40 + [0] * 160
    s = review.summarise(
        review.experiment(
            two_arms(c, a, "bought"), unit="unit", arm="arm", control="c", outcomes=["bought"]
        )
    )
    r = review.lifts(s).iloc[0]
    se = math.sqrt(0.1 * 0.9 / 200 + 0.2 * 0.8 / 200)  # 0.035355
    z = 1.959964
    assert r.kind == "rate"
    assert r.lift == pytest.approx(0.1)
    assert (r.lift_low, r.lift_high) == pytest.approx((0.1 - z * se, 0.1 + z * se), rel=1e-6)
    assert r.rel_lift == pytest.approx(1.0)


def split(control: int, arm: int) -> Any:
    n = control + arm
    return tiny(
        unit=list(range(n)),
        arm=["c"] * control + ["t"] * arm,
        bought=[i % 5 == 0 for i in range(n)],
        gmv=[float(i % 7) for i in range(n)],
        pre=[float(i % 3) for i in range(n)],
    )


def test_a_broken_split_is_flagged_and_marks_every_result() -> None:
    exp = review.experiment(
        split(6000, 4000),
        unit="unit",
        arm="arm",
        control="c",
        outcomes=["bought", "gmv"],
        covariate="pre",
    )
    s = review.summarise(exp)
    srm = review.sample_ratio(s)
    # (6000 - 5000)^2 / 5000 + (4000 - 5000)^2 / 5000
    assert srm.statistic == pytest.approx(400.0)
    assert srm.p_value == pytest.approx(stats.chi2.sf(400.0, 1))
    assert srm.broken
    assert srm.arms["expected_units"].tolist() == [5000.0, 5000.0]
    assert "mismatch" in srm.text()
    lifts = review.lifts(s)
    assert lifts["srm_broken"].all() and len(lifts) == 2
    assert review.winner(lifts, "gmv").srm_broken
    assert review.roi(s, "gmv", cost_per_unit=1.0)["srm_broken"].all()
    assert review.bootstrap_lifts(s, "gmv", n_resamples=100)["srm_broken"].all()
    assert review.cuped(s)["srm_broken"].all()


def test_a_sound_split_and_declared_shares_are_not_flagged() -> None:
    sound = review.summarise(
        review.experiment(split(5020, 4980), unit="unit", arm="arm", control="c", outcomes=["gmv"])
    )
    srm = review.sample_ratio(sound)
    assert srm.statistic == pytest.approx(2 * 20**2 / 5000)
    assert not srm.broken and not review.lifts(sound)["srm_broken"].any()
    declared = review.summarise(
        review.experiment(
            split(6000, 4000),
            unit="unit",
            arm="arm",
            control="c",
            outcomes=["gmv"],
            shares={"c": 60, "t": 40},
        )
    )
    assert review.sample_ratio(declared).statistic == pytest.approx(0.0)
    assert not review.sample_ratio(declared).broken


def test_holm_and_benjamini_hochberg_on_known_p_values() -> None:
    p = [0.01, float("nan"), 0.04, 0.03, 0.005]
    # Holm: sorted 0.005 0.01 0.03 0.04 times 4 3 2 1 = 0.02 0.03 0.06 0.04, running max
    holm, reject = review.correct(p, "holm", alpha=0.05)
    assert holm[[0, 2, 3, 4]] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(holm[1])
    assert reject.tolist() == [True, False, False, False, True]
    # BH: sorted p * 4 / rank = 0.02 0.02 0.04 0.04, running min from the top
    bh, reject = review.correct(p, "bh", alpha=0.05)
    assert bh[[0, 2, 3, 4]] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert reject.tolist() == [True, False, True, True, True]
    with pytest.raises(ExperimentError, match="correction 'bonferroni'"):
        review.correct(p, "bonferroni")  # type: ignore[arg-type]


def three_arms() -> Any:
    """1,000 units an arm: control and A buy at 10%, B at 20%."""
    rates = {"control": 100, "A": 100, "B": 200}
    arms, bought = [], []
    for arm, buyers in rates.items():
        arms += [arm] * 1000
        bought += [1] * buyers + [0] * (1000 - buyers)
    return tiny(unit=list(range(3000)), arm=arms, bought=bought)


def test_the_winner_is_the_significant_arm_with_its_interval() -> None:
    s = review.summarise(
        review.experiment(
            three_arms(), unit="unit", arm="arm", control="control", outcomes=["bought"]
        )
    )
    lifts = review.lifts(s, correction="holm")
    assert lifts["arm"].tolist() == ["A", "B"]
    a, b = lifts.iloc[0], lifts.iloc[1]
    assert a.lift == 0 and not a.significant
    se = math.sqrt(0.2 * 0.8 / 1000 + 0.1 * 0.9 / 1000)
    z = stats.norm.ppf(0.975)
    assert b.p_adjusted == pytest.approx(2 * (2 * stats.norm.sf(0.1 / se)))
    w = review.winner(lifts, "bought")
    assert w.arm == "B"
    assert (w.lift, w.lift_low, w.lift_high) == pytest.approx((0.1, 0.1 - z * se, 0.1 + z * se))
    assert w.text().startswith("bought: B wins, +0.1 [")


def test_no_winner_when_no_arm_beats_control_after_correction() -> None:
    # A beats control at p = 0.03 alone; Holm over two arms doubles it past 0.05
    n = 1000
    c, a, b = 100, 129, 100
    z_a = (c - a) / n / math.sqrt((0.1 * 0.9 + 0.129 * 0.871) / n)
    p_a = 2 * stats.norm.sf(abs(z_a))
    assert 0.025 < p_a < 0.05
    arms = ["control"] * n + ["A"] * n + ["B"] * n
    bought = [1] * c + [0] * (n - c) + [1] * a + [0] * (n - a) + [1] * b + [0] * (n - b)
    s = review.summarise(
        review.experiment(
            tiny(unit=list(range(3 * n)), arm=arms, bought=bought),
            unit="unit",
            arm="arm",
            control="control",
            outcomes=["bought"],
        )
    )
    lifts = review.lifts(s, correction="holm")
    assert lifts.loc[lifts["arm"] == "A", "p_value"].item() == pytest.approx(p_a, rel=1e-6)
    assert not lifts["significant"].any()
    w = review.winner(lifts, "bought")
    assert w.arm is None and math.isnan(w.lift)
    assert w.text() == "bought: no winner"


def test_an_arm_of_three_units_is_too_small_to_test() -> None:
    t = two_arms([float(i % 4) for i in range(40)], [1.0, 5.0, 9.0])
    s = review.summarise(
        review.experiment(t, unit="unit", arm="arm", control="c", outcomes=["spend"])
    )
    r = review.lifts(s).iloc[0]
    assert r.status == "too_few_units"
    assert r.reason == "arm 't' has 3 units, fewer than 30"
    assert r.lift == pytest.approx(5.0 - 1.5)  # the point estimate stays
    assert all(math.isnan(r[c]) for c in ("lift_low", "lift_high", "p_value", "p_adjusted"))
    assert not r.significant
    assert review.winner(review.lifts(s), "spend").arm is None
    boot = review.bootstrap_lifts(s, "spend").iloc[0]
    assert boot.status == "too_few_units" and math.isnan(boot.lift_low)
    roi = review.roi(s, "spend", cost=10.0).iloc[0]
    assert roi.status == "too_few_units" and math.isnan(roi.roi_low)


def test_a_rate_with_no_events_on_one_side_is_not_tested() -> None:
    c, a = [0] * 50, [1] * 5 + [0] * 45
    s = review.summarise(
        review.experiment(
            two_arms(c, a, "bought"), unit="unit", arm="arm", control="c", outcomes=["bought"]
        )
    )
    r = review.lifts(s).iloc[0]
    assert r.status == "no_events" and r.reason == "no unit of arm 'c' has bought"
    assert math.isnan(r.lift_low) and r.lift == pytest.approx(0.1)


def test_roi_with_a_known_cost_scales_the_welch_interval() -> None:
    rng = np.random.default_rng(5)
    c, a = rng.gamma(2.0, 10.0, 60).tolist(), rng.gamma(2.0, 12.0, 50).tolist()
    s = review.summarise(
        review.experiment(
            two_arms(c, a, "gmv"), unit="unit", arm="arm", control="c", outcomes=["gmv"]
        )
    )
    ci = stats.ttest_ind(a, c, equal_var=False).confidence_interval(0.95)
    lift = np.mean(a) - np.mean(c)
    per_unit = review.roi(s, "gmv", cost_per_unit=2.0).iloc[0]
    assert per_unit.cost == 100.0  # 50 units at 2 yuan
    assert per_unit.incremental_gmv == pytest.approx(50 * lift)
    assert (per_unit.incremental_gmv_low, per_unit.incremental_gmv_high) == pytest.approx(
        (50 * ci.low, 50 * ci.high)
    )
    assert per_unit.roi == pytest.approx(lift / 2.0)
    assert (per_unit.roi_low, per_unit.roi_high) == pytest.approx((ci.low / 2, ci.high / 2))
    total = review.roi(s, "gmv", cost={"t": 100.0}).iloc[0]
    assert (total.roi, total.roi_low, total.roi_interval) == (
        per_unit.roi,
        per_unit.roi_low,
        "exact",
    )


def test_roi_with_a_cost_column_uses_the_delta_method() -> None:
    rng = np.random.default_rng(11)
    n0, n1 = 400, 300
    y0 = rng.gamma(2.0, 10.0, n0)
    used = rng.random(n1) < 0.4  # who used a 5-yuan coupon
    y1 = rng.gamma(2.0, 10.0, n1) + 15.0 * used
    cost1 = 5.0 * used
    t = tiny(
        unit=list(range(n0 + n1)),
        arm=["c"] * n0 + ["t"] * n1,
        gmv=[*y0, *y1],
        coupon=[0.0] * n0 + cost1.tolist(),
    )
    exp = review.experiment(t, unit="unit", arm="arm", control="c", outcomes=["gmv"], cost="coupon")
    r = review.roi(review.summarise(exp), "gmv").iloc[0]
    # ROI = (mean y1 - mean y0) / mean cost1; its variance by the first-order expansion
    c_bar = cost1.mean()
    ratio = (y1.mean() - y0.mean()) / c_bar
    var = (
        y1.var(ddof=1) / n1
        + y0.var(ddof=1) / n0
        + ratio**2 * cost1.var(ddof=1) / n1
        - 2 * ratio * np.cov(y1, cost1)[0, 1] / n1
    ) / c_bar**2
    half = stats.norm.ppf(0.975) * math.sqrt(var)
    assert r.cost == pytest.approx(cost1.sum())
    assert r.roi == pytest.approx(ratio)
    assert (r.roi_low, r.roi_high) == pytest.approx((ratio - half, ratio + half), rel=1e-9)
    assert r.roi_interval == "delta"


# Refusals ---------------------------------------------------------------------------------


def good_table() -> Any:
    return tiny(
        unit=[1, 2, 3, 4],
        arm=["c", "t", "c", "t"],
        spend=[1.0, 2.0, 3.0, 4.0],
        pre=[0.0, 1.0, 0.0, 2.0],
    )


def test_a_unit_in_two_arms_is_refused() -> None:
    t = tiny(unit=[1, 2, 3, 1], arm=["c", "t", "c", "t"], spend=[1.0, 2.0, 3.0, 4.0])
    exp = review.experiment(t, unit="unit", arm="arm", control="c", outcomes=["spend"])
    with pytest.raises(
        ExperimentError, match=r"^unit 1 is in arms 'c' and 't'; 1 unit in more than one arm in all"
    ) as e:
        review.summarise(exp)
    assert "\n" not in str(e.value)


def test_a_unit_in_two_rows_of_one_arm_is_refused() -> None:
    t = tiny(unit=[1, 2, 3, 3], arm=["c", "t", "t", "t"], spend=[1.0, 2.0, 3.0, 4.0])
    exp = review.experiment(t, unit="unit", arm="arm", control="c", outcomes=["spend"])
    with pytest.raises(ExperimentError, match="unit 3 has more than one row"):
        review.summarise(exp)


def test_one_arm_only_is_refused() -> None:
    t = tiny(unit=[1, 2], arm=["c", "c"], spend=[1.0, 2.0])
    exp = review.experiment(t, unit="unit", arm="arm", control="c", outcomes=["spend"])
    with pytest.raises(ExperimentError, match=r"one arm only \('c'\)"):
        review.summarise(exp)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"outcomes": ["spend", "orders"]},
            "no outcome column 'orders'; columns found: unit, arm, spend, pre",
        ),
        ({"covariate": "before"}, "no covariate column 'before'"),
        ({"arm": "group"}, "no arm column 'group'"),
        ({"outcomes": []}, "no outcome column given"),
        ({"outcomes": {"spend": "ratio"}}, "outcome 'spend' has kind 'ratio'"),
        ({"shares": {"c": 1, "t": 0}}, "shares must be positive"),
        ({"covariate": "spend"}, "column 'spend' is named for two roles"),
    ],
)
def test_bad_columns_and_settings_are_refused_before_running(
    kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"unit": "unit", "arm": "arm", "control": "c", "outcomes": ["spend"]}
    with pytest.raises(ExperimentError, match=message):
        review.experiment(good_table(), **(args | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"control": "holdout"},
            "control arm 'holdout' is not in the table; its arms are 'c', 't'",
        ),
        ({"shares": {"c": 1, "t": 1, "B": 1}}, "arm 'B' has no units"),
        ({"shares": {"c": 1}}, "arm 't' is in the table but not in the expected shares"),
        ({"outcomes": {"spend": "rate"}}, "'spend' is said to be a rate"),
    ],
)
def test_bad_arms_are_refused_when_summarised(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"unit": "unit", "arm": "arm", "control": "c", "outcomes": ["spend"]}
    exp = review.experiment(good_table(), **(args | kwargs))
    with pytest.raises(ExperimentError, match=message):
        review.summarise(exp)


def test_empty_values_are_refused() -> None:
    t = table(pd.DataFrame({"unit": [1, 2, 3], "arm": ["c", "t", None], "spend": [1.0, None, 2.0]}))
    exp = review.experiment(t, unit="unit", arm="arm", control="c", outcomes=["spend"])
    with pytest.raises(
        ExperimentError, match=r"^column 'arm' is empty for 1 unit; every unit needs an arm$"
    ):
        review.summarise(exp)
    t = table(pd.DataFrame({"unit": [1, 2, 3], "arm": ["c", "t", "t"], "spend": [1.0, None, 2.0]}))
    exp = review.experiment(t, unit="unit", arm="arm", control="c", outcomes=["spend"])
    with pytest.raises(ExperimentError, match="column 'spend' has 1 empty value;"):
        review.summarise(exp)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.05, float("nan"), True, "95%"])
def test_a_confidence_level_outside_0_1_is_refused(level: Any) -> None:
    exp = review.experiment(good_table(), unit="unit", arm="arm", control="c", outcomes=["spend"])
    s = review.summarise(exp)
    with pytest.raises(ExperimentError, match=r"^confidence level .* is outside \(0, 1\)"):
        review.lifts(s, confidence=level)
    with pytest.raises(ExperimentError, match="outside"):
        review.roi(s, "spend", cost=1.0, confidence=level)


def test_cuped_without_a_covariate_and_roi_without_a_cost_are_refused() -> None:
    s = review.summarise(
        review.experiment(good_table(), unit="unit", arm="arm", control="c", outcomes=["spend"])
    )
    with pytest.raises(ExperimentError, match="CUPED needs a pre-period covariate"):
        review.cuped(s)
    with pytest.raises(ExperimentError, match="no cost given"):
        review.roi(s, "spend")
    with pytest.raises(ExperimentError, match="cost has no value for arm 't'"):
        review.roi(s, "spend", cost={"B": 1.0})


# Coverage ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_intervals_cover_the_planted_lift_in_95_percent_of_experiments() -> None:
    """1,000 simulated experiments of 1,000 units an arm, in one table (one per segment).

    Revenue is heavy-tailed: a buyer (10% in the control, 13% in the arm) spends a
    gamma amount of mean 100 (shape 0.8), so the true lift per head is
    0.03 x 100 = 3 and the true rate lift 0.03. A pre-period spend correlated with
    the outcome makes CUPED matter; its adjusted lift has the same true value.
    """
    rng = np.random.default_rng(20240611)
    experiments, n = 1000, 1000
    p0, p1, shape, mean_spend = 0.10, 0.13, 0.8, 100.0
    size = experiments * n
    segment = np.repeat(np.arange(experiments), 2 * n)
    arm = np.tile(np.repeat(["control", "A"], n), experiments)
    treated = arm == "A"
    propensity = rng.uniform(0.2, 1.8, 2 * size)  # mean 1: what pre-period and outcome share
    bought = rng.random(2 * size) < np.where(treated, p1, p0) * propensity
    spend = np.where(bought, rng.gamma(shape, mean_spend / shape, 2 * size), 0.0)
    before = propensity * 60 + rng.gamma(shape, 40, 2 * size)
    frame = pd.DataFrame(
        {
            "unit": np.arange(2 * size),
            "arm": arm,
            "segment": segment,
            "bought": bought.astype(int),
            "spend": spend,
            "before": before,
        }
    )
    exp = review.experiment(
        table(frame),
        unit="unit",
        arm="arm",
        control="control",
        outcomes=["bought", "spend"],
        covariate="before",
    )
    s = review.summarise(exp, by="segment")
    truth = {"bought": p1 - p0, "spend": (p1 - p0) * mean_spend}
    tolerance = 3 * math.sqrt(0.95 * 0.05 / experiments)  # three binomial standard errors
    widths = {}
    for cuped in (False, True):
        lifts = review.lifts(s, cuped=cuped)
        assert (lifts["status"] == "ok").all() and len(lifts) == 2 * experiments
        for outcome, true in truth.items():
            rows = lifts[lifts["outcome"] == outcome]
            covered = ((rows["lift_low"] <= true) & (true <= rows["lift_high"])).mean()
            assert abs(covered - 0.95) < tolerance, (outcome, cuped, covered)
            widths[outcome, cuped] = (rows["lift_high"] - rows["lift_low"]).mean()
    # the pre-period shares each unit's propensity, so CUPED narrows the intervals
    assert all(widths[outcome, True] < widths[outcome, False] for outcome in truth)


# Docstring examples and the Spark backend ------------------------------------------------


def test_the_docstring_examples_run() -> None:
    import doctest
    import importlib

    for name in ("experiment", "srm", "lift", "roi", "bootstrap"):
        module = importlib.import_module(f"workbench.review.{name}")
        failed, _ = doctest.testmod(module)
        assert failed == 0, name


@pytest.mark.spark
@pytest.mark.slow
def test_the_same_lifts_on_spark(tmp_path: Path) -> None:
    from workbench.config import load_settings
    from workbench.engine import connect

    rng = np.random.default_rng(3)
    n = 600
    frame = pd.DataFrame(
        {
            "unit": [f"P{i}" for i in range(n)],
            "arm": rng.choice(["control", "A", "B"], n),
            "tier": rng.choice(["new", "active", "lapsed"], n),
            "bought": (rng.random(n) < 0.3).astype(int),
            "gmv": rng.gamma(0.5, 80.0, n),
            "gmv_before": rng.gamma(0.5, 80.0, n),
            "coupon": rng.choice([0.0, 5.0], n),
        }
    )
    spark = connect(load_settings(root=tmp_path, env={"WORKBENCH_ENGINE": "spark"}))
    on_spark = spark.create_table("review_experiment", frame, overwrite=True)
    results = []
    for t in (table(frame), on_spark):
        exp = review.experiment(
            t,
            unit="unit",
            arm="arm",
            control="control",
            outcomes=["bought", "gmv"],
            covariate="gmv_before",
            cost="coupon",
        )
        s = review.summarise(exp, by="tier")
        results.append((review.lifts(s, cuped=True), review.roi(s, "gmv")))
    for duck, other in zip(results[0], results[1], strict=True):
        pd.testing.assert_frame_equal(duck, other, rtol=1e-9)
