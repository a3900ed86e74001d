"""The review job on the small synthetic warehouse and on Hillstrom: the decomposition adds
up, the planted uplift is covered, a broken split is flagged, evidence is stored, bad input
is refused; Hillstrom's lifts equal the direct computation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from scipy import stats

from workbench.config import PlanSettings, ReviewSettings

HILLSTROM = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "real"
    / "hillstrom"
    / "hillstrom.csv.gz"
)


def hillstrom(**columns: str) -> Any:
    """The review of the Hillstrom e-mail test, each e-mail against no e-mail."""
    import ibis

    from workbench import review

    given = {"arm": "segment", "control": "No E-Mail", **columns}
    return review.run(ibis.duckdb.connect(), table=HILLSTROM, columns=given)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, small_synth: Any) -> Any:
    from workbench import plan
    from workbench.config import load_settings
    from workbench.engine import connect
    from workbench.unify import ingest

    root = tmp_path_factory.mktemp("review")
    s = load_settings(root=root, env={})
    ingest(small_synth.raw_dir, s, progress=False)
    con = connect(s)
    p = plan.run(
        con,
        dt.date(2026, 10, 19),
        "bt",
        50_000.0,
        PlanSettings(),
        segment_settings=s.segment,
        salt="x",
    )
    plan.write(con, p)
    return con, s, small_synth


@pytest.mark.slow
def test_a_plan_review_adds_up_and_stores_its_evidence(warehouse: Any) -> None:
    from workbench import review

    con, _, _ = warehouse
    rv = review.run(con, ReviewSettings(min_units=30), plan_name="bt")
    assert rv.campaign_id == "CMP-1111-2026" and rv.edition is not None
    v = rv.vs_actual
    assert v is not None and rv.totals is not None
    effects = v["population_effect"] + v["rate_effect"] + v["aov_effect"]
    assert effects.to_numpy() == pytest.approx(v["difference"].to_numpy(), abs=1e-6)
    assert rv.totals["actual"] - rv.totals["estimate"] == pytest.approx(
        float(v["difference"].sum())
    )
    assert not rv.ratio.broken
    # CUPED with the pre-period GMV narrows the GMV interval of every tested arm
    c = rv.cuped
    assert c is not None
    tested = c[(c["outcome"] == "gmv") & (c["status"] == "ok")]
    assert len(tested) and (tested["width_ratio"] < 1).all()
    n = review.write(con, rv)
    again = review.write(con, rv)
    ev = review.evidence(con)
    assert n == again == len(ev[ev["review"] == "bt"]) and n == len(rv.segments)


@pytest.fixture(scope="module")
def larger(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """20,000 persons, seed 5: campaigns large enough to test each tier's lift. Made and
    ingested by the CLI in a process of its own, as a user would."""
    import subprocess
    import sys

    from workbench.config import load_settings
    from workbench.engine import connect

    root = tmp_path_factory.mktemp("larger")
    env = {**os.environ, "WORKBENCH_ROOT": str(root)}
    for args in (
        ["synth", "--customers", "20000", "--seed", "5", "--out", str(root / "data" / "raw")],
        ["ingest", str(root / "data" / "raw")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "workbench", *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
    s = load_settings(root=root, env={})
    return connect(s), s, SimpleNamespace(truth_dir=root / "data" / "truth")


@pytest.mark.slow
def test_the_planted_uplift_is_covered(larger: Any) -> None:
    """Every campaign over, split by the world's own tiers: of the cells large enough to
    test, the 95% intervals cover the effect the planted uplift implies in most; with 95%
    coverage, 70% or fewer covered would happen by chance with probability below 1e-3."""
    from workbench import review
    from workbench.evaluation import uplift_checks

    con, _, synth = larger
    campaigns = con.table("campaigns").select("campaign_id").to_pandas()["campaign_id"]
    found = []
    for cid in campaigns:
        rv = review.run(con, ReviewSettings(min_units=30), campaign_id=cid)
        u = uplift_checks(con, rv, synth.truth_dir)
        assert u is not None
        found.append(u)
    checks = pd.concat(found)
    tested = checks[checks["covered"].notna()]
    assert len(tested) >= 10
    assert tested["covered"].astype(bool).mean() > 0.7


@pytest.mark.slow
def test_a_split_broken_on_purpose_is_flagged_and_marks_every_result(warehouse: Any) -> None:
    from workbench import review
    from workbench.review import lifts, sample_ratio, summarise

    con, _, _ = warehouse
    rv = review.run(con, ReviewSettings(min_units=30), campaign_id="CMP-1111-2026")
    t = rv.experiment.table
    # drop two control units in three: the control falls to about 3% of the units
    kept = t.filter((t.arm != "control") | (t.person_id.hash() % 3 == 0))
    broken = dataclasses.replace(rv.experiment, table=kept)
    summary = summarise(broken)
    assert sample_ratio(summary).broken
    assert lifts(summary)["srm_broken"].all()


def test_bad_input_is_refused_with_one_line(warehouse: Any) -> None:
    from workbench import review

    con, _, _ = warehouse
    with pytest.raises(ValueError, match="review one source"):
        review.run(con, plan_name="bt", campaign_id="CMP-1111-2026")
    with pytest.raises(ValueError, match="campaign 'nope' does not exist"):
        review.run(con, campaign_id="nope")
    with pytest.raises(ValueError, match="no plan named 'nope'"):
        review.run(con, plan_name="nope")
    with pytest.raises(ValueError, match=r"review confidence 1\.5"):
        review.run(con, ReviewSettings(confidence=1.5), campaign_id="CMP-1111-2026")
    one_arm = pd.DataFrame({"arm": ["control"] * 5, "y": [1, 0, 1, 0, 1]})
    import ibis

    with pytest.raises(ValueError, match="one arm"):
        review.run(
            con,
            table=ibis.memtable(one_arm),
            columns={"arm": "arm", "control": "control", "outcomes": "y"},
        )
    with pytest.raises(ValueError, match="no column spend"):
        review.run(
            con,
            table=ibis.memtable(one_arm),
            columns={"arm": "arm", "control": "control", "outcomes": "spend"},
        )


@pytest.mark.skipif(not HILLSTROM.is_file(), reason="the Hillstrom data is not beside the project")
def test_hillstrom_through_the_job_equals_the_direct_computation() -> None:
    rv = hillstrom(outcomes="visit,spend", revenue="spend", covariate="history")
    df = pd.read_csv(HILLSTROM)
    c = df[df["segment"] == "No E-Mail"]
    m = df[df["segment"] == "Mens E-Mail"]
    row = rv.lifts.set_index(["outcome", "arm"]).loc[("spend", "Mens E-Mail")]
    welch = stats.ttest_ind(m["spend"], c["spend"], equal_var=False)
    low, high = welch.confidence_interval(0.95)
    assert (row["lift"], row["lift_low"], row["lift_high"]) == pytest.approx(
        (m["spend"].mean() - c["spend"].mean(), low, high)
    )
    v = rv.lifts.set_index(["outcome", "arm"]).loc[("visit", "Mens E-Mail")]
    p1, p0 = m["visit"].mean(), c["visit"].mean()
    se = math.sqrt(p1 * (1 - p1) / len(m) + p0 * (1 - p0) / len(c))
    z = stats.norm.ppf(0.975)
    assert (v["lift_low"], v["lift_high"]) == pytest.approx((p1 - p0 - z * se, p1 - p0 + z * se))
    # SOURCE.md's per-arm figures
    assert (p1, p0) == pytest.approx((0.1828, 0.1062), abs=5e-5)
    assert not rv.ratio.broken
    assert rv.roi is not None and rv.roi["incremental_gmv"].notna().all()


def test_the_lessons_name_each_segments_best_arm_and_its_units() -> None:
    """Hillstrom by area: the men's e-mail lifts visits most in each of the three (as it
    does overall); every customer of an area is one unit of its lesson."""
    rv = hillstrom(outcomes="visit", segment="zip_code")
    found = rv.lessons()
    assert found is not None
    df = pd.read_csv(HILLSTROM)
    assert dict(zip(found["segment"], found["units"], strict=True)) == dict(
        df["zip_code"].value_counts()
    )
    assert set(found["arm"]) == {"Mens E-Mail"}
    for row in found.itertuples():
        area = df[df["zip_code"] == row.segment]
        m, c = area[area["segment"] == "Mens E-Mail"], area[area["segment"] == "No E-Mail"]
        assert row.lift == pytest.approx(m["visit"].mean() - c["visit"].mean())
        assert row.lift_low < row.lift < row.lift_high


def test_a_revenue_lift_is_money_to_the_cent_in_the_reports_currency() -> None:
    """Hillstrom's spend lift, +0.7698 dollars a head [0.4851, 1.0545], reads as money;
    the visit lift stays in percentage points."""
    from workbench.report.format import currency_of
    from workbench.report.views.review import headline

    rv = hillstrom(outcomes="visit,spend", revenue="spend")
    with currency_of("USD"):
        page = headline(rv, "en")._repr_html_()
    assert "$0.77" in page and "[$0.49, $1.05]" in page
    assert "7.66%" in page
    # the settings a table review does not use show a dash; the others their value
    from workbench.report.labels import label
    from workbench.report.views.review import settings_table

    df = settings_table(rv, "en").data
    values = dict(zip(df.iloc[:, 0], df.iloc[:, 1], strict=True))
    for unused in ("segment_scheme", "pre_days", "design_holdout"):
        assert values[label(unused, "en")] == "–"
    assert values[label("correction", "en")] == label("correction_holm", "en")
    assert values[label("confidence", "en")] == "0.95"


@pytest.mark.slow
def test_the_loop_closes_evidence_shows_in_the_next_plan(larger: Any) -> None:
    """A stored review's significant lifts show beside the groups of the next plan's
    strategy table that cover their segments."""
    from workbench import plan, review

    con, s, _ = larger
    rv = review.run(con, ReviewSettings(min_units=30), campaign_id="CMP-1111-2026")
    review.write(con, rv)
    p = plan.run(
        con,
        dt.date(2026, 11, 19),
        "next",
        None,
        PlanSettings(promotion="618"),
        segment_settings=s.segment,
        salt="x",
    )
    st = p.strategy("en").set_index("group")
    seg = rv.segments
    assert seg is not None
    lost = seg[
        (seg["segment"] == "lost")
        & (seg["outcome"] == "bought")
        & seg["significant"]
        & (seg["lift"] > 0)
    ]
    assert len(lost) > 0  # 20,000 persons: the lost tier's largest arm lift is significant
    best = lost.sort_values("lift", ascending=False).iloc[0]
    assert st.loc["churned", "evidence_arm"] == best["arm"]
    assert st.loc["churned", "evidence_lift"] == pytest.approx(best["lift"])
    assert st.loc["churned", "evidence_n"] == best["units_arm"] + best["units_control"]
    assert st.loc["churned", "evidence_from"] == "双11-2026"
