"""Clusters of buyers: k-means on scaled log RFM and behaviour, k chosen by silhouette.

The features are log recency, log purchase days, log net sales, log value per
purchase, the share bought on promotion and the discount depth, each scaled to
mean 0 and variance 1. The model trains on a sample of buyers, tries each k in
a range and keeps the one with the best silhouette (on a smaller sample), then
assigns every buyer in batches. Each cluster is named by what sets it apart:
the features whose cluster mean lies furthest from the overall mean, in
standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

CLUSTER_FEATURES: tuple[str, ...] = (
    "recency_days",
    "purchases",
    "net_amount",
    "aov",
    "promo_share",
    "discount_depth",
)
LOGGED: frozenset[str] = frozenset({"recency_days", "purchases", "net_amount", "aov"})


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    cols = []
    for c in CLUSTER_FEATURES:
        x = frame[c].astype(float).fillna(0.0).clip(lower=0.0).to_numpy()
        cols.append(np.log1p(x) if c in LOGGED else x)
    # Rounded, so that float noise (a discount depth of 1e-17 where nobody had a
    # discount) has no variance for the scaler to blow up into a cluster.
    return np.round(np.column_stack(cols), 6)


@dataclass(frozen=True)
class Clusters:
    """The chosen clustering.

    Attributes:
        k: clusters chosen.
        silhouettes: silhouette score per k tried.
        profile: per ``cluster``: persons, share, the mean of each feature, and
            ``traits``: up to two (feature, "high"/"low") pairs that set it apart.
        scaler, model: the fitted scikit-learn objects.
    """

    k: int
    silhouettes: dict[int, float]
    profile: pd.DataFrame
    scaler: Any
    model: Any


def _buyers(table: ir.Table) -> ir.Table:
    """The buyers with their features as floats (net sales is an exact decimal in the
    snapshot: as one, its means in the profile would be decimals of many places)."""
    b = table.filter(table.purchases > 0)
    return b.select("person_id", *(b[c].cast("float64").name(c) for c in CLUSTER_FEATURES))


def fit(
    table: ir.Table,
    ks: tuple[int, ...] = (3, 4, 5, 6, 7),
    sample: int = 50_000,
    silhouette_sample: int = 5_000,
    seed: int = 7,
) -> Clusters:
    """Fit k-means for each k in ``ks`` on a sample of buyers and keep the best by silhouette.

    Parameters:
        table: a snapshot's table (:data:`workbench.segment.segments.SEGMENT_COLUMNS`).
        sample: buyers to train on at most (a hash sample of person ids).
        silhouette_sample: buyers the silhouette is computed on.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    buyers = _buyers(table)
    n = int(buyers.count().execute())
    if n > sample:
        keep = max(1, round(1000 * sample / n))
        buyers = buyers.filter((buyers.person_id.hash() + seed).abs() % 1000 < keep)
    frame = buyers.order_by("person_id").to_pandas()
    ks = tuple(k for k in ks if k < len(frame))
    if not ks:
        raise ValueError(f"too few buyers ({len(frame)}) to cluster")
    scaler = StandardScaler().fit(_matrix(frame))
    x = scaler.transform(_matrix(frame))
    scores: dict[int, float] = {}
    models: dict[int, Any] = {}
    for k in ks:
        models[k] = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
        scores[k] = float(
            silhouette_score(
                x, models[k].labels_, sample_size=min(silhouette_sample, len(x)), random_state=seed
            )
        )
    best = max(scores, key=lambda k: (scores[k], -k))
    model = models[best]
    frame["cluster"] = model.labels_
    return Clusters(best, scores, _profile(frame, x, model.labels_), scaler, model)


def _profile(frame: pd.DataFrame, x: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Per cluster: size, feature means, and the two features furthest from the overall mean."""
    g = frame.groupby("cluster")[list(CLUSTER_FEATURES)].mean()
    g.insert(0, "persons", frame.groupby("cluster").size())
    g.insert(1, "share", g["persons"] / g["persons"].sum())
    z = pd.DataFrame(x, columns=list(CLUSTER_FEATURES)).groupby(labels).mean()
    traits = []
    for c in g.index:
        row = z.loc[c]
        top = row.abs().sort_values(ascending=False).index[:2]
        traits.append([(f, "high" if row[f] > 0 else "low") for f in top if abs(row[f]) >= 0.25])
    g["traits"] = traits
    return g.reset_index()


def assign(table: ir.Table, clusters: Clusters, batch: int = 200_000) -> pd.DataFrame:
    """Every buyer's cluster, assigned in batches: ``person_id``, ``cluster``."""
    parts = []
    for rb in _buyers(table).to_pyarrow_batches(chunk_size=batch):
        frame = rb.to_pandas()
        x = clusters.scaler.transform(_matrix(frame))
        parts.append(
            pd.DataFrame({"person_id": frame["person_id"], "cluster": clusters.model.predict(x)})
        )
    if not parts:
        return pd.DataFrame(
            {"person_id": pd.Series([], dtype=str), "cluster": pd.Series([], dtype="int64")}
        )
    return pd.concat(parts, ignore_index=True)


def with_clusters(table: ir.Table, assigned: pd.DataFrame) -> ir.Table:
    """A snapshot's table with ``cluster`` filled from :func:`assign`, columns in order."""
    cols = table.columns
    frame = assigned.astype({"cluster": "int64"})
    t = ibis.memtable(frame, schema={"person_id": "string", "cluster": "int64"})
    return table.drop("cluster").left_join(t, "person_id").select(*cols)
