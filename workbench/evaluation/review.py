"""The planted campaign uplift against what the review finds.

The synthetic world gives each treated member of a campaign an extra purchase in
the burst with a probability planted per lifecycle tier and arm
(``parameters.json``: ``uplift``, ``arms``), the tier as the world saw it at the
warm-up (``campaign_audience``: ``segment``). A member who would have bought
anyway gains nothing in the purchase rate, so the effect the review can find on
the rate of buying at all is the planted uplift x (1 - the control's rate).
The review's experiment is split by the world's own tiers here, so the check
does not hinge on our tiers matching the world's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from workbench.evaluation.identity import has_truth
from workbench.review import Review, segment_lifts
from workbench.review.reach import member_persons


def uplift_checks(con: Any, rv: Review, truth_dir: str | Path) -> pd.DataFrame | None:
    """Per planted tier and arm: the planted uplift, the effect it implies on the purchase
    rate, the lift found with its interval, and whether the interval covers it.

    Returns:
        ``None`` without truth or without a campaign; else one row per tier and arm:
        ``segment``, ``arm``, ``planted``, ``expected``, ``lift``, ``lift_low``,
        ``lift_high``, ``units_arm``, ``covered`` (``NaN`` when the cell was too small
        to test).
    """
    truth = Path(truth_dir)
    if rv.campaign_id is None or not has_truth(truth):
        return None
    params = json.loads((truth / "parameters.json").read_text(encoding="utf-8"))
    aud = pd.read_parquet(truth / "campaign_audience")
    aud = aud[aud["campaign_id"] == rv.campaign_id][["member_id", "segment"]]
    persons = member_persons(con).to_pandas()
    seg = aud.merge(persons, on="member_id").drop_duplicates("person_id")
    seg = seg.rename(columns={"segment": "truth_segment"})[["person_id", "truth_segment"]]
    exp = rv.experiment
    table = exp.table.join(ibis.memtable(seg), exp.unit)
    split = dataclasses.replace(exp, table=table, outcomes={"bought": "rate"}, cost=None)
    s = rv.settings
    found = segment_lifts(
        split,
        "truth_segment",
        confidence=s.confidence,
        correction=s.correction,  # type: ignore[arg-type]
        min_units=s.min_units,
    )
    arm_of = {name: code for code, name in params["arms"].items()}
    rows = []
    for r in found.itertuples():
        planted = params["uplift"].get(str(r.segment), {}).get(arm_of.get(str(r.arm), ""), None)
        if planted is None:
            continue
        expected = planted * (1.0 - float(r.value_control))
        tested = r.status == "ok"
        rows.append(
            {
                "segment": str(r.segment),
                "arm": str(r.arm),
                "planted": float(planted),
                "expected": expected,
                "lift": float(r.lift),
                "lift_low": float(r.lift_low) if tested else float("nan"),
                "lift_high": float(r.lift_high) if tested else float("nan"),
                "units_arm": int(r.units_arm),
                "covered": (r.lift_low <= expected <= r.lift_high) if tested else float("nan"),
            }
        )
    return pd.DataFrame(rows)
