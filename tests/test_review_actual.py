"""Estimate vs actual: the decomposition worked out by hand; the review's engine tables on
the demo-sized synthetic warehouse agree with direct counts."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.review.actual import decompose


def test_the_three_effects_are_worked_out_by_hand_and_add_up() -> None:
    t = pd.DataFrame(
        {
            "segment": ["A", "outside"],
            "member_tier": ["VIP", "non_member"],
            # A: estimate 100 persons x 20% x 50 = 1,000; actual 120 x 25% x 40 = 1,200
            "est_population": [100, None],
            "est_rate": [0.2, None],
            "est_aov": [50.0, 80.0],
            "est_buyers": [20.0, 10.0],
            "est_gmv": [1000.0, 800.0],
            "act_population": [120, None],
            "act_rate": [0.25, None],
            "act_aov": [40.0, 90.0],
            "act_buyers": [30.0, 12.0],
            "act_gmv": [1200.0, 1080.0],
        }
    )
    d = decompose(t).set_index("segment")
    a = d.loc["A"]
    assert a["population_effect"] == pytest.approx(20 * 0.2 * 50)  # 200
    assert a["rate_effect"] == pytest.approx(120 * 0.05 * 50)  # 300
    assert a["aov_effect"] == pytest.approx(120 * 0.25 * -10)  # -300
    assert a["difference"] == pytest.approx(200.0)
    o = d.loc["outside"]  # buyers take the place of persons x rate
    assert o["population_effect"] == 0
    assert o["rate_effect"] == pytest.approx(2 * 80)
    assert o["aov_effect"] == pytest.approx(12 * 10)
    assert o["difference"] == pytest.approx(280.0)
