"""Properties of the lifecycle rules on random persons (hypothesis)."""

from __future__ import annotations

import ibis
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.engine import duckdb_connect
from workbench.segment.lifecycle import (
    LEVEL1_ORDER,
    LEVEL2_ORDER,
    SCHEME_ONE,
    SCHEME_TWO,
    lifecycle,
)

PARENT = {r.tier: r.parent for r in SCHEME_ONE}
# Level-2 tiers of buyers from most to least active.
ACTIVITY = (
    "highly_awake",
    "moderately_awake",
    "light_sleep",
    "deep_sleep",
    "brand_lost",
    "category_lost",
)

person = st.fixed_dictionaries(
    {
        "purchases": st.integers(0, 6),
        "recency_days": st.integers(0, 1500),
        "rc_days": st.floats(5, 300),
        "other_brand_ever": st.booleans(),
        "other_brand_after": st.booleans(),
        "aov": st.floats(1, 500),
        "is_member": st.booleans(),
        "member_days": st.integers(0, 2000),
    }
)


def frame(rows: list[dict[str, object]], rc_scale: float = 1.0) -> pd.DataFrame:
    f = pd.DataFrame(rows)
    f.insert(0, "person_id", [f"p{i}" for i in range(len(f))])
    f["rc_days"] = f["rc_days"] * rc_scale
    never = f["purchases"] == 0
    f.loc[never, ["recency_days", "rc_days", "aov"]] = None
    f["r_rc"] = f["recency_days"] / f["rc_days"]
    f["other_brand_after"] = f["other_brand_after"] & ~never & f["other_brand_ever"]
    return f


def tiers(f: pd.DataFrame) -> pd.DataFrame:
    con = duckdb_connect(":memory:")
    out = lifecycle(con.create_table("p", ibis.memtable(f)), loyal_aov=100.0)
    return out.to_pandas().set_index("person_id").loc[f["person_id"]]


@settings(max_examples=40, deadline=None)
@given(st.lists(person, min_size=1, max_size=40))
def test_each_person_in_one_tier_per_level_and_level_two_nests(
    rows: list[dict[str, object]],
) -> None:
    t = tiers(frame(rows))
    assert t["tier_l1"].isin(LEVEL1_ORDER).all()
    assert t["tier_l2"].isin(LEVEL2_ORDER).all()
    assert t["tier_s2"].isin([r.tier for r in SCHEME_TWO]).all()
    assert (t["tier_l2"].map(PARENT) == t["tier_l1"]).all()
    active = t["tier_l1"] == "active"
    assert t.loc[active, "tier_l3"].isin(["new", "returning", "loyal"]).all()
    assert (t.loc[~active, "tier_l3"] == t.loc[~active, "tier_l2"]).all()
    assert ((t["tier_l1"] == "potential") == (t["purchases"] == 0)).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(person, min_size=1, max_size=40), st.floats(1.0, 4.0))
def test_a_larger_rc_never_makes_anyone_less_active(
    rows: list[dict[str, object]], scale: float
) -> None:
    before = tiers(frame(rows))
    after = tiers(frame(rows, rc_scale=scale))
    buyers = before["tier_l1"] != "potential"
    rank = {t: i for i, t in enumerate(ACTIVITY)}
    lost = ("brand_lost", "category_lost")
    b = before.loc[buyers, "tier_l2"].map(lambda t: rank["brand_lost"] if t in lost else rank[t])
    a = after.loc[buyers, "tier_l2"].map(lambda t: rank["brand_lost"] if t in lost else rank[t])
    assert (a <= b).all()
