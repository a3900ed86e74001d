"""Minimum detectable lift and recommended holdout: against statsmodels and a case by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from workbench.errors import ParameterError
from workbench.plan.power import (
    DEFAULT_GRID,
    MEASURABLE,
    NEEDS_LARGER_HOLDOUT,
    NO_PERSONS,
    NO_RATE,
    POWER_COLUMNS,
    RATE_ONE,
    RATE_ZERO,
    TOO_SMALL,
    cell_power,
    detectable_effect,
    minimum_detectable_lift,
    recommended_holdout,
)

CASES = [
    # persons, baseline rate, holdout share, power, alpha
    (20_000, 0.05, 0.10, 0.8, 0.05),
    (1_000, 0.30, 0.50, 0.8, 0.05),
    (250_000, 0.12, 0.05, 0.8, 0.05),
    (5_000, 0.64, 0.20, 0.9, 0.01),
    (800, 0.02, 0.25, 0.8, 0.10),
]


@pytest.mark.parametrize(("n", "p", "h", "power", "alpha"), CASES)
def test_mde_matches_statsmodels_solve_power(
    n: int, p: float, h: float, power: float, alpha: float
) -> None:
    mde_abs, mde_rel = minimum_detectable_lift(n, p, h, power=power, alpha=alpha)
    treated, control = n * (1 - h), n * h
    effect = NormalIndPower().solve_power(
        effect_size=None,
        nobs1=treated,
        alpha=alpha,
        power=power,
        ratio=control / treated,
        alternative="two-sided",
    )
    # Cohen's h of the lifted rate over the baseline is the effect statsmodels solves for
    assert proportion_effectsize(p + mde_abs, p) == pytest.approx(effect, rel=1e-4)
    assert mde_rel == pytest.approx(mde_abs / p, rel=1e-12)
    # and a lift of the MDE has the asked power by statsmodels' own power function
    achieved = NormalIndPower().power(
        proportion_effectsize(p + mde_abs, p), treated, alpha, control / treated
    )
    assert achieved == pytest.approx(power, abs=1e-8)


def test_one_case_by_hand() -> None:
    # 20,000 persons, 10% held out: 18,000 treated and 2,000 control; baseline 5%.
    z = norm.ppf(1 - 0.05 / 2) + norm.ppf(0.8)  # 1.959964 + 0.841621 = 2.801585
    assert z == pytest.approx(2.801585, abs=1e-6)
    effect = z * math.sqrt(1 / 18_000 + 1 / 2_000)  # 2.801585 * 0.0235702 = 0.0660339
    # Cohen's h back to a rate: asin(sqrt(0.05)) = 0.2255134; + h/2 = 0.2585304
    lifted = math.sin(math.asin(math.sqrt(0.05)) + effect / 2) ** 2  # 0.0653634
    assert lifted == pytest.approx(0.065363, abs=1e-6)
    mde_abs, mde_rel = minimum_detectable_lift(20_000, 0.05, 0.1)
    # the far tail that statsmodels also counts moves it by about a millionth
    assert mde_abs == pytest.approx(lifted - 0.05, rel=1e-5)
    assert mde_rel == pytest.approx((lifted - 0.05) / 0.05, rel=1e-5)  # 30.7% of 5%
    # The plain normal approximation on the rate scale, variance at the baseline for
    # both groups, gives 0.01439: the arcsine scale counts the larger variance of a
    # lifted rate, so it asks for a little more (the two agree within 7% here).
    plain = z * math.sqrt(0.05 * 0.95 * (1 / 18_000 + 1 / 2_000))
    assert plain == pytest.approx(0.014392, abs=1e-6)
    assert mde_abs / plain == pytest.approx(1.0675, abs=1e-3)


def test_detectable_effect_is_the_two_quantiles() -> None:
    # two-sided 5% and 80% power: z(0.975) + z(0.8), plus a far tail of about 1e-6
    k = detectable_effect(0.05, 0.8)
    assert k == pytest.approx(norm.ppf(0.975) + norm.ppf(0.8), abs=1e-5)
    with pytest.raises(ParameterError, match=r"power 0\.04 is not above"):
        detectable_effect(0.05, 0.04)
    with pytest.raises(ParameterError, match=r"significance level 1\.5 is outside"):
        detectable_effect(1.5, 0.8)


def hand_mde_rel(n: float, p: float, h: float) -> float:
    z = norm.ppf(0.975) + norm.ppf(0.8)
    effect = z * math.sqrt(1 / (n * (1 - h)) + 1 / (n * h))
    return (math.sin(math.asin(math.sqrt(p)) + effect / 2) ** 2 - p) / p


def test_recommended_holdout_is_the_first_share_of_the_grid_that_reaches_the_target() -> None:
    # 50,000 persons at 10%: the relative MDE by hand at each share of the grid
    by_hand = {h: hand_mde_rel(50_000, 0.10, h) for h in DEFAULT_GRID}
    first = min(h for h, mde in by_hand.items() if mde <= 0.10)
    assert by_hand[0.15] > 0.10 >= by_hand[0.20]  # 10.5% at 0.15, 9.9% at 0.20
    assert first == 0.2
    assert recommended_holdout(50_000, 0.10) == first
    # a lift of 20% needs less
    assert recommended_holdout(50_000, 0.10, 0.20) == min(
        h for h in DEFAULT_GRID if hand_mde_rel(50_000, 0.10, h) <= 0.20
    )
    # even half of 2,000 persons at 5% cannot show a 10% lift
    assert hand_mde_rel(2_000, 0.05, 0.5) > 0.10
    assert recommended_holdout(2_000, 0.05) is None


def test_cell_table_statuses_and_columns() -> None:
    cells = pd.DataFrame(
        {
            "segment": ["active", "new", "lapsed", "empty", "never", "always", "unknown", "tiny"],
            "persons": [100_000, 50_000, 2_000, 0, 1_000, 1_000, 1_000, 5],
            "rate": [0.10, 0.10, 0.05, 0.20, 0.0, 1.0, None, 0.5],
        },
        index=list("abcdefgh"),
    )
    out = cell_power(cells, 0.1)
    assert list(out.columns) == [*cells.columns, *POWER_COLUMNS]
    assert out.index.tolist() == list("abcdefgh")
    assert out["power_status"].tolist() == [
        MEASURABLE,
        NEEDS_LARGER_HOLDOUT,
        TOO_SMALL,
        NO_PERSONS,
        RATE_ZERO,
        RATE_ONE,
        NO_RATE,
        TOO_SMALL,  # half a person in the control
    ]
    assert out.loc["a", "mde_rel"] == pytest.approx(hand_mde_rel(100_000, 0.1, 0.1), rel=1e-5)
    assert out.loc["a", "recommended_holdout"] == 0.1
    assert out.loc["b", "recommended_holdout"] == 0.2
    assert out[["control", "treated"]].loc["b"].tolist() == [5_000, 45_000]
    # a rate of 0: an absolute MDE, sin(effect/2)^2, but no relative one
    effect = (norm.ppf(0.975) + norm.ppf(0.8)) * math.sqrt(1 / 900 + 1 / 100)
    assert out.loc["e", "mde_abs"] == pytest.approx(math.sin(effect / 2) ** 2, rel=1e-5)
    for row in "cdefgh":
        assert np.isnan(out.loc[row, "recommended_holdout"]), row
    for row in "dfgh":
        assert np.isnan(out.loc[row, "mde_abs"]), row
    assert cells.columns.tolist() == ["segment", "persons", "rate"]  # input untouched


def test_vectorised_table_equals_cell_by_cell() -> None:
    rng = np.random.default_rng(11)
    cells = pd.DataFrame(
        {"n": rng.integers(0, 300_000, 40), "p": rng.uniform(0.001, 0.9, 40).round(4)}
    )
    out = cell_power(cells, 0.15, persons="n", rate="p", target_lift=0.05)
    for row in out.itertuples():
        mde_abs, mde_rel = minimum_detectable_lift(row.n, row.p, 0.15)
        for got, want in ((row.mde_abs, mde_abs), (row.mde_rel, mde_rel)):
            assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, rel=1e-12)
        assert recommended_holdout(row.n, row.p, 0.05) == (
            None if np.isnan(row.recommended_holdout) else row.recommended_holdout
        )


def test_mde_falls_with_persons_and_with_the_share_up_to_half() -> None:
    sizes = [minimum_detectable_lift(n, 0.2, 0.1)[1] for n in (1_000, 10_000, 100_000)]
    shares = [minimum_detectable_lift(10_000, 0.2, h)[1] for h in (0.05, 0.2, 0.5)]
    assert sizes == sorted(sizes, reverse=True) and shares == sorted(shares, reverse=True)


@pytest.mark.parametrize(
    ("cells", "kwargs", "words"),
    [
        (pd.DataFrame({"persons": [10], "rate": [1.2]}), {}, "row 0, column rate: 1.2 is not"),
        (
            pd.DataFrame({"persons": [-1], "rate": [0.1]}),
            {},
            "row 0, column persons: -1 is not at least 0",
        ),
        (
            pd.DataFrame({"persons": ["x"], "rate": [0.1]}),
            {},
            "column persons: 'x' is not a number",
        ),
        (pd.DataFrame({"n": [10], "rate": [0.1]}), {}, "lack the column 'persons'"),
        (pd.DataFrame({"persons": [10], "rate": [0.1]}), {"target_lift": 0}, "target lift 0"),
        (pd.DataFrame({"persons": [10], "rate": [0.1]}), {"grid": [0.1, 0.7]}, "grid 0.7"),
    ],
)
def test_bad_cells_and_parameters_are_refused(
    cells: pd.DataFrame, kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(ParameterError) as info:
        cell_power(cells, 0.1, **kwargs)  # type: ignore[arg-type]
    assert words in str(info.value) and "\n" not in str(info.value)


def test_holdout_share_outside_range_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"holdout share 0.55 is outside \(0, 0.5\]"):
        cell_power(pd.DataFrame({"persons": [10], "rate": [0.1]}), 0.55)
