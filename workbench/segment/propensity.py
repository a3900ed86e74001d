"""Seven-day repurchase propensity: who is likely to buy again in the next week.

Features are taken as of a cutoff date from the purchases before it; the label
is a purchase of our brand in the seven days after it. Validation is by time:
the model is trained on weekly cutoffs that end before the test cutoff, and
tested on the last cutoff whose week is fully observed (as-of minus seven
days), against a naive baseline that ranks buyers by recency in RC units
alone. The model is scikit-learn's histogram gradient boosting, trained on a
sample of persons and scoring everyone in batches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from workbench.engine import round_to
from workbench.segment.facts import Purchases
from workbench.segment.rc import RepurchaseCycles, person_rc

FEATURES: tuple[str, ...] = (
    "recency_days",
    "r_rc",
    "purchases",
    "orders",
    "net_amount",
    "aov",
    "tenure_days",
    "mean_interval",
    "days_30",
    "days_90",
    "days_365",
    "promo_share",
)
HORIZON_DAYS = 7


def features(p: Purchases, cycles: RepurchaseCycles, cutoff: dt.date) -> ir.Table:
    """One row per buyer of our brand before ``cutoff`` (inclusive) with :data:`FEATURES`,
    and ``label``: whether they bought in the :data:`HORIZON_DAYS` days after it."""
    ours = p.orders.filter(p.orders.ours)
    before = ours.filter(ours.day <= cutoff)
    after = ours.filter((ours.day > cutoff) & (ours.day <= cutoff + dt.timedelta(HORIZON_DAYS)))
    on_promo = (before.promo | before.coupon).cast("int64")

    def within(days: int) -> ir.IntegerValue:
        recent = before.day > cutoff - dt.timedelta(days)
        return before.day.nunique(where=recent)

    g = before.group_by("person_id").agg(
        purchases=before.day.nunique(),
        orders=before.count(),
        net_amount=round_to(before.net_amount.sum(), 2),
        first=before.day.min(),
        last=before.day.max(),
        days_30=within(30),
        days_90=within(90),
        days_365=within(365),
        promo_share=on_promo.mean(),
    )
    bought = after.select("person_id").distinct().mutate(label=ibis.literal(1))
    rc = _rc_at(p, cycles, before)
    c = ibis.literal(cutoff)
    j = g.left_join(bought, "person_id").left_join(rc, "person_id")
    recency = c.delta(j["last"], unit="day")
    span = j["last"].delta(j["first"], unit="day")
    return j.select(
        "person_id",
        recency_days=recency,
        r_rc=recency / j.rc_days,
        purchases=j.purchases,
        orders=j.orders,
        net_amount=j.net_amount,
        aov=round_to(j.net_amount / j.orders, 4),
        tenure_days=c.delta(j["first"], unit="day"),
        mean_interval=(span / (j.purchases - 1).nullif(0)).fill_null(-1.0),
        days_30=j.days_30,
        days_90=j.days_90,
        days_365=j.days_365,
        promo_share=j.promo_share,
        label=j.label.fill_null(0),
    )


def _rc_at(p: Purchases, cycles: RepurchaseCycles, before: ir.Table) -> ir.Table:
    """Each buyer's RC from the purchases before the cutoff (the as-of RCs per category)."""
    last = before.group_by("person_id").agg(last_day=before.day.max())
    return person_rc(last, p.categories, cycles).select("person_id", "rc_days")


@dataclass(frozen=True)
class PropensityModel:
    """The trained model and how well it ranks the test week.

    Attributes:
        model: the fitted scikit-learn classifier.
        train_cutoffs, test_cutoff: the dates features were taken at.
        auc, baseline_auc: ROC AUC of the model and of recency in RC units alone.
        lift, baseline_lift: purchase rate of the top decile over the overall rate.
        calibration: per decile of predicted probability: mean predicted, observed rate,
            persons.
        base_rate: share of test buyers who bought in the week.
        train_rows, test_rows: persons in the training sample and the test week.
    """

    model: Any
    train_cutoffs: tuple[str, ...]
    test_cutoff: str
    auc: float
    baseline_auc: float
    lift: float
    baseline_lift: float
    calibration: pd.DataFrame
    base_rate: float
    train_rows: int
    test_rows: int

    def quality(self) -> pd.DataFrame:
        """AUC and top-decile lift of the model beside the recency baseline."""
        return pd.DataFrame(
            {
                "model": ["gradient_boosting", "recency_baseline"],
                "auc": [self.auc, self.baseline_auc],
                "top_decile_lift": [self.lift, self.baseline_lift],
            }
        )


def _sample(t: ir.Table, n: int, max_rows: int, seed: int) -> pd.DataFrame:
    """About ``max_rows`` of ``t``'s ``n`` rows at most, chosen by a hash of the person id
    (all of them when ``n`` is within ``max_rows``)."""
    if n > max_rows:
        keep = max(1, round(1000 * max_rows / n))
        t = t.filter((t.person_id.hash() + seed).abs() % 1000 < keep)
    return t.order_by("person_id").to_pandas()


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    """Purchase rate among the tenth with the highest scores, over the overall rate.

    Example:
        >>> top_decile_lift(np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), np.arange(10)[::-1])
        10.0
    """
    if len(y) == 0 or y.mean() == 0:
        return float("nan")
    k = max(1, int(np.ceil(len(y) / 10)))
    top = np.argsort(-score, kind="mergesort")[:k]
    return float(y[top].mean() / y.mean())


def train(
    p: Purchases,
    cycles: RepurchaseCycles,
    weeks: int = 8,
    max_rows: int = 200_000,
    seed: int = 7,
) -> PropensityModel:
    """Train on ``weeks`` weekly cutoffs before the test cutoff, test on the last full week.

    Parameters:
        p, cycles: the purchases and repurchase cycles of a snapshot.
        weeks: training cutoffs, a week apart, the last one a week before the test cutoff.
        max_rows: persons sampled per cutoff at most (by a hash of the person id).

    Raises:
        ValueError: the training weeks hold no purchase, or nothing but purchases.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    as_of = p.as_of
    test_cut = as_of - dt.timedelta(HORIZON_DAYS)
    cuts = [test_cut - dt.timedelta(HORIZON_DAYS * k) for k in range(weeks, 0, -1)]
    # Buyers at as-of bound the buyers at every earlier cutoff: one count sets the sample.
    buyers = int(p.per_person.filter(p.per_person.purchases > 0).count().execute())
    train_frames = [_sample(features(p, cycles, c), buyers, max_rows, seed) for c in cuts]
    train_df = pd.concat(train_frames, ignore_index=True)
    if train_df["label"].nunique() < 2:
        raise ValueError(
            f"too little history to train the 7-day model: {len(train_df):,} buyer-weeks "
            f"before {test_cut}, {int(train_df['label'].sum()):,} of them bought"
        )
    test_df = features(p, cycles, test_cut).order_by("person_id").to_pandas()
    x_cols = list(FEATURES)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, random_state=seed)
    model.fit(train_df[x_cols].astype(float), train_df["label"].astype(int))
    y = test_df["label"].to_numpy(dtype=int)
    score = model.predict_proba(test_df[x_cols].astype(float))[:, 1]
    baseline = -test_df["r_rc"].fillna(test_df["r_rc"].max()).to_numpy(dtype=float)
    both = len(set(y)) == 2
    calib = pd.DataFrame({"predicted": score, "observed": y})
    calib["decile"] = pd.qcut(calib["predicted"].rank(method="first"), 10, labels=False) + 1
    calibration = (
        calib.groupby("decile")
        .agg(
            predicted=("predicted", "mean"),
            observed=("observed", "mean"),
            persons=("observed", "size"),
        )
        .reset_index()
    )
    return PropensityModel(
        model=model,
        train_cutoffs=tuple(c.isoformat() for c in cuts),
        test_cutoff=test_cut.isoformat(),
        auc=float(roc_auc_score(y, score)) if both else float("nan"),
        baseline_auc=float(roc_auc_score(y, baseline)) if both else float("nan"),
        lift=top_decile_lift(y, score),
        baseline_lift=top_decile_lift(y, baseline),
        calibration=calibration,
        base_rate=float(y.mean()) if len(y) else float("nan"),
        train_rows=len(train_df),
        test_rows=len(test_df),
    )


def score(
    p: Purchases, cycles: RepurchaseCycles, fitted: PropensityModel, batch: int = 200_000
) -> pd.DataFrame:
    """Each buyer's probability of buying in the week after the as-of date, scored in
    batches: ``person_id``, ``propensity_7d``."""
    t = features(p, cycles, p.as_of).select("person_id", *FEATURES)
    parts = []
    for rb in t.to_pyarrow_batches(chunk_size=batch):
        frame = rb.to_pandas()
        frame["propensity_7d"] = fitted.model.predict_proba(frame[list(FEATURES)].astype(float))[
            :, 1
        ]
        parts.append(frame[["person_id", "propensity_7d"]])
    if not parts:
        return pd.DataFrame({"person_id": [], "propensity_7d": []})
    return pd.concat(parts, ignore_index=True)


def with_scores(table: ir.Table, scores: pd.DataFrame) -> ir.Table:
    """A snapshot's table with ``propensity_7d`` filled from :func:`score` (``NULL`` for
    persons who never bought), columns in the same order."""
    cols = table.columns
    scored = ibis.memtable(scores, schema={"person_id": "string", "propensity_7d": "float64"})
    j = table.drop("propensity_7d").left_join(scored, "person_id")
    return j.select(*cols)
