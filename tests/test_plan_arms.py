"""Holdout and benefit arms by salted hash: reproducible, in proportion, independent, exclusive.

The expected arm of each person is worked out here from Python's own MD5
(hashlib), not from the engine: the first 13 hex digits of
``md5(salt|plan|<name>|<person_id>)`` over ``16**13`` against the bounds.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from workbench.errors import ParameterError
from workbench.plan.arms import (
    CONTROL,
    GLOBAL_CONTROL,
    TREATMENT,
    assign,
    global_control,
    with_draw,
)

SALT = "test-salt"
N = 200_000


def person_ids(n: int, start: int = 0) -> list[str]:
    """Ids shaped like the warehouse's: ``P`` and 15 hex digits."""
    return [f"P{hashlib.sha1(str(i).encode()).hexdigest()[:15]}" for i in range(start, start + n)]


@pytest.fixture(scope="module")
def ids() -> list[str]:
    return person_ids(N)


def table(ids: list[str], **extra: list[object]) -> ibis.Table:
    return ibis.memtable(pd.DataFrame({"person_id": ids, **extra}))


def arms_of(t: ibis.Table) -> pd.Series:
    df = t.to_pandas()
    return df.set_index("person_id")["arm"]


def draw(text: str) -> float:
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:13], 16) / 16**13


def expected_arm(pid: str, plan: str, holdout: float, arms: list[str], shares: list[float]) -> str:
    u = draw(f"{SALT}|plan|{plan}|{pid}")
    if u < holdout:
        return CONTROL
    edge = holdout
    for arm, share in zip(arms, shares, strict=True):
        edge += (1 - holdout) * share
        if u < edge:
            return arm
    return arms[-1]


def within_binomial(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_the_draw_is_md5_read_as_a_number() -> None:
    keys = ["a", "P0123456789abcde", "盐|plan|双11|P1", ""]
    t = ibis.memtable({"k": keys})
    got = with_draw(t, t.k, "u").to_pandas().set_index("k")["u"]
    for key in keys:
        assert got[key] == draw(key), key  # exact: 52 bits fit a double
    # md5("a") = 0cc175b9c0f1b6a8...: 0x0cc175b9c0f1b / 16**13
    assert got["a"] == 0x0CC175B9C0F1B / 16**13


def test_each_person_gets_the_arm_its_hash_gives() -> None:
    pids = person_ids(3000)
    arms, shares = ["coupon_30", "points_x2", "gift"], [0.5, 0.3, 0.2]
    got = arms_of(assign(table(pids), "双11-2026", SALT, 0.15, arms, shares))
    want = {p: expected_arm(p, "双11-2026", 0.15, arms, shares) for p in pids}
    assert got.to_dict() == want


def test_stable_across_runs_row_order_and_other_rows(ids: list[str]) -> None:
    sample = ids[:5000]
    first = arms_of(assign(table(sample), "618-2027", SALT, 0.1, ["a", "b"]))
    again = arms_of(assign(table(sample), "618-2027", SALT, 0.1, ["a", "b"]))
    rng = np.random.default_rng(3)
    shuffled = list(rng.permutation(sample))
    # the same persons among others, in another order: what a later ingest would add
    mixed = shuffled + person_ids(2000, start=N)
    later = arms_of(assign(table(mixed), "618-2027", SALT, 0.1, ["a", "b"]))
    assert first.equals(again)
    assert later[sample].to_dict() == first.to_dict()


def test_holdout_and_arm_shares_within_four_sigma(ids: list[str]) -> None:
    shares = {"a": 0.5, "b": 0.3, "c": 0.2}
    got = arms_of(assign(table(ids), "618-2027", SALT, 0.1, list(shares), list(shares.values())))
    counts = got.value_counts()
    assert counts.sum() == N and not got.isna().any()
    assert within_binomial(counts[CONTROL], N, 0.1)
    for arm, share in shares.items():
        assert within_binomial(counts[arm], N, 0.9 * share), arm
    # no arms: everyone not held out is treatment
    plain = arms_of(assign(table(ids[:20_000]), "618-2027", SALT, 0.5)).value_counts()
    assert set(plain.index) == {CONTROL, TREATMENT}
    assert within_binomial(plain[CONTROL], 20_000, 0.5)


def test_arm_independent_of_segment(ids: list[str]) -> None:
    # Segments that are functions of the id, as a lifecycle tier is of the person.
    by_last_digit = [p[-1] for p in ids]
    by_number = [str(int(p[1:], 16) % 7) for p in ids]
    got = assign(
        table(ids, seg_a=by_last_digit, seg_b=by_number), "618-2027", SALT, 0.2, ["x", "y"]
    ).to_pandas()
    for seg in ("seg_a", "seg_b"):
        crosstab = pd.crosstab(got[seg], got["arm"])
        assert crosstab.shape == ((16, 3) if seg == "seg_a" else (7, 3))
        assert chi2_contingency(crosstab).pvalue > 0.001, seg


def test_no_person_in_two_arms_across_packs() -> None:
    pids = person_ids(4000)
    # every person in three packs (phases x groups), as the plan's packs table holds them
    packs = pd.DataFrame(
        {
            "person_id": pids * 3,
            "phase": ["warmup"] * 4000 + ["burst"] * 4000 + ["close"] * 4000,
            "group": ["active"] * 6000 + ["lapsed"] * 6000,
        }
    )
    got = assign(ibis.memtable(packs), "618-2027", SALT, 0.1, ["a", "b"]).to_pandas()
    assert len(got) == len(packs)
    assert (got.groupby("person_id")["arm"].nunique() == 1).all()
    assert set(got["arm"]) == {CONTROL, "a", "b"}


def test_different_plans_draw_independently(ids: list[str]) -> None:
    a = arms_of(assign(table(ids), "618-2027", SALT, 0.1))
    b = arms_of(assign(table(ids), "双11-2027", SALT, 0.1))
    in_a, in_b = a == CONTROL, b[a.index] == CONTROL
    # held out in both about as often as chance gives: 1% of persons
    assert within_binomial(int((in_a & in_b).sum()), N, 0.01)
    assert chi2_contingency(pd.crosstab(in_a, in_b)).pvalue > 0.001
    # another salt draws again too
    c = arms_of(assign(table(ids), "618-2027", "other-salt", 0.1))
    assert within_binomial(int(((c[a.index] == CONTROL) & in_a).sum()), N, 0.01)


def test_global_control_share_year_and_independence_of_plans(ids: list[str]) -> None:
    flagged = global_control(table(ids), SALT, 0.05, 2027).to_pandas().set_index("person_id")
    flags = flagged["global_control"]
    assert within_binomial(int(flags.sum()), N, 0.05)
    want = {p: draw(f"{SALT}|global|2027|{p}") < 0.05 for p in ids[:2000]}
    assert flags[ids[:2000]].to_dict() == want
    # another year draws again
    next_year = global_control(table(ids), SALT, 0.05, 2028).to_pandas().set_index("person_id")
    assert within_binomial(int((flags & next_year["global_control"][flags.index]).sum()), N, 0.0025)
    # a plan named like the year does not share the draw
    named = arms_of(assign(table(ids), "2027", SALT, 0.05))
    assert within_binomial(int(((named[flags.index] == CONTROL) & flags).sum()), N, 0.0025)


def test_global_control_is_kept_out_of_every_plans_treatment(ids: list[str]) -> None:
    flagged = global_control(table(ids[:50_000]), SALT, 0.1, 2027)
    flags = flagged.to_pandas().set_index("person_id")["global_control"]
    for plan in ("618-2027", "双11-2027", "会员日-03"):
        got = arms_of(assign(flagged, plan, SALT, 0.1, ["a", "b"]))
        assert ((got == GLOBAL_CONTROL) == flags[got.index]).all(), plan
        rest = got[got != GLOBAL_CONTROL]
        # the plan's own holdout among the others keeps its share
        assert within_binomial(int((rest == CONTROL).sum()), len(rest), 0.1), plan


@pytest.mark.parametrize("share", [0, -0.1, 0.6, 1, float("nan"), "0.1", True])
def test_holdout_share_outside_range_is_refused_naming_it(share: object) -> None:
    with pytest.raises(ParameterError) as info:
        assign(table(["P1"]), "618", SALT, share)  # type: ignore[arg-type]
    message = str(info.value)
    assert "holdout share" in message and repr(share) in message and "\n" not in message


def test_half_is_the_largest_holdout() -> None:
    assert set(arms_of(assign(table(person_ids(100)), "618", SALT, 0.5))) <= {CONTROL, TREATMENT}


@pytest.mark.parametrize(
    ("arms", "shares", "words"),
    [
        (["a", "a"], None, "arm names a appear more than once"),
        (["control", "b"], None, "'control' is reserved"),
        (["global_control"], None, "'global_control' is reserved"),
        (["a", " "], None, "' ' is empty"),
        ("ab", None, "one string"),
        (["a", "b"], [0.5], "give one share per arm"),
        (["a", "b"], [0.5, 0.4], "sum to 0.9, not 1"),
        (["a", "b"], [1.2, -0.2], "-0.2 is not above 0"),
        ([], [1.0], "give one share per arm"),
    ],
)
def test_bad_arms_are_refused(arms: object, shares: object, words: str) -> None:
    with pytest.raises(ParameterError, match=None) as info:
        assign(table(["P1"]), "618", SALT, 0.1, arms, shares)  # type: ignore[arg-type]
    assert words in str(info.value)


def test_bad_plan_salt_year_and_flag_are_refused() -> None:
    with pytest.raises(ParameterError, match="plan name '' is empty"):
        assign(table(["P1"]), "", SALT, 0.1)
    with pytest.raises(ParameterError, match="salt is empty"):
        assign(table(["P1"]), "618", "", 0.1)
    with pytest.raises(ParameterError, match=r"global control share 0\.7"):
        global_control(table(["P1"]), SALT, 0.7, 2027)
    with pytest.raises(ParameterError, match="year '2027' is not a whole number"):
        global_control(table(["P1"]), SALT, 0.05, "2027")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="global_control is string, not boolean"):
        assign(table(["P1"], global_control=["yes"]), "618", SALT, 0.1)


def test_a_row_without_person_id_gets_no_arm() -> None:
    got = assign(table(["P1", None]), "618", SALT, 0.1).to_pandas()  # type: ignore[list-item]
    assert got["arm"].isna().tolist() == [False, True]


@pytest.mark.spark
@pytest.mark.slow
def test_spark_draws_the_same_arms(tmp_path: Path) -> None:
    from workbench.config import load_settings
    from workbench.engine import connect

    pids = person_ids(2000)
    spark = connect(load_settings(root=tmp_path, env={"WORKBENCH_ENGINE": "spark"}))
    spark.create_table("_wb_test_arms", pd.DataFrame({"person_id": pids}), overwrite=True)
    on_spark = assign(
        global_control(spark.table("_wb_test_arms"), SALT, 0.1, 2027),
        "双11-2026",
        SALT,
        0.2,
        ["a", "b"],
        [0.7, 0.3],
    )
    on_duck = assign(
        global_control(table(pids), SALT, 0.1, 2027), "双11-2026", SALT, 0.2, ["a", "b"], [0.7, 0.3]
    )
    assert arms_of(on_spark).sort_index().equals(arms_of(on_duck).sort_index())
