"""The tables behind the report's identity-resolution (OneID) section.

Each function reads the stored resolution (``accounts``, ``account_links``,
``link_weights``, ``identity_runs``) and returns a small frame; another
threshold re-clusters the stored pairs without writing anything.
"""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from workbench.unify.identity import (
    BLOCKING_COLUMNS,
    PRIOR_COLUMNS,
    account_model,
    accounts_at,
    latest_run,
)

LINK_METHODS: tuple[str, ...] = ("deterministic", "probabilistic", "unlinked")
MAX_ACCOUNTS = 8


def identity_summary(con: Any, threshold: float | None = None) -> pd.DataFrame:
    """Accounts per platform by how they were joined to a person, and the persons they make.

    ``deterministic``: a strong key (full phone, member id, unionid, CRM binding)
    joins the account to another; ``probabilistic``: only a weak-evidence link
    does; ``unlinked``: the account is a person on its own. The last row,
    ``total``, counts each person once.
    """
    acc = accounts_at(con, threshold)
    g = acc.group_by(["platform", "link_method"]).agg(n=acc.count()).to_pandas()
    wide = g.pivot_table(index="platform", columns="link_method", values="n", fill_value=0)
    wide = wide.reindex(columns=list(LINK_METHODS), fill_value=0).astype("int64")
    wide["accounts"] = wide.sum(axis=1)
    persons = acc.group_by("platform").agg(persons=acc.person_id.nunique()).to_pandas()
    wide = wide.join(persons.set_index("platform"))
    total = wide.sum(numeric_only=True).astype("int64")
    total["persons"] = int(acc.person_id.nunique().execute())
    wide.loc["total"] = total
    return wide.reset_index(names="platform")


def accounts_per_person(con: Any, threshold: float | None = None) -> pd.DataFrame:
    """Persons by the number of accounts they hold, 1 to 8 (``8`` counts 8 or more)."""
    acc = accounts_at(con, threshold)
    sizes = acc.group_by("person_id").agg(n=acc.count())
    capped = sizes.mutate(accounts=ibis.least(sizes.n, MAX_ACCOUNTS))
    g = capped.group_by("accounts").agg(persons=capped.count()).to_pandas()
    return g.sort_values("accounts", ignore_index=True)


def threshold_summary(
    con: Any, thresholds: tuple[float, ...] = (0.5, 0.8, 0.9, 0.99)
) -> pd.DataFrame:
    """What other thresholds would give: weak-evidence links kept, accounts joined only by
    a link, and persons. Thresholds below the floor of the scored pairs are left out."""
    run = latest_run(con)
    floor = float(run["floor"]) if run else 0.0
    links = con.table("account_links")
    rows = []
    for t in sorted(x for x in thresholds if x >= floor):
        kept = links.filter((links.match_probability >= t) & ~links.held_apart)
        acc = accounts_at(con, t)
        found = acc.aggregate(
            probabilistic=(acc.link_method == "probabilistic").sum(),
            persons=acc.person_id.nunique(),
        ).to_pandas()
        rows.append(
            {
                "threshold": t,
                "links": int(kept.count().execute()),
                "probabilistic": int(found["probabilistic"].iat[0]),
                "persons": int(found["persons"].iat[0]),
            }
        )
    return pd.DataFrame(rows, columns=["threshold", "links", "probabilistic", "persons"])


ID_HISTORY_COLUMNS = ("resolved_at", "threshold", "persons", "ids_new", "ids_merged", "ids_split")


def id_history(con: Any) -> pd.DataFrame:
    """How person ids fared at each identity resolution (one per ingestion), oldest
    first: ``resolved_at``, ``threshold``, ``persons``, ``ids_new`` (the ids it issued),
    ``ids_merged`` and ``ids_split`` (the earlier ids it merged into others, or split; see
    :mod:`workbench.unify.person_ids`). Every other person kept its id. No rows for a
    warehouse resolved before ids were registered."""
    tables = set(con.list_tables())
    if not {"identity_runs", "person_ids", "person_id_changes"} <= tables:
        return pd.DataFrame(columns=list(ID_HISTORY_COLUMNS))
    runs = con.table("identity_runs")
    runs = runs.select("resolved_at", "threshold", "persons").order_by("resolved_at").to_pandas()
    runs["run"] = range(1, len(runs) + 1)
    ids = con.table("person_ids")
    issued = ids.group_by("issued_run").agg(new=ids.count()).to_pandas()
    ch = con.table("person_id_changes")
    changed = ch.group_by(["resolved_at", "reason"]).agg(ids=ch.old_id.nunique()).to_pandas()
    wide = changed.pivot_table(index="resolved_at", columns="reason", values="ids", aggfunc="sum")
    out = runs.merge(issued, left_on="run", right_on="issued_run", how="left")
    out = out.merge(wide, left_on="resolved_at", right_index=True, how="left")
    for col in ("new", "merged", "split"):
        out[f"ids_{col}"] = (out[col] if col in out else pd.Series(0, index=out.index)).fillna(0)
        out[f"ids_{col}"] = out[f"ids_{col}"].astype("int64")
    return out[list(ID_HISTORY_COLUMNS)]


def link_weights(con: Any) -> pd.DataFrame:
    """The trained model: per comparison level, m, u and the match weight log2(m/u).

    Levels where a value is missing carry no weight and are left out.
    """
    w = con.table("link_weights").to_pandas()
    return w[w["match_weight"].notna()].reset_index(drop=True)


def blocking_rules() -> pd.DataFrame:
    """The rules that propose candidate pairs and train the model, as data.

    Returns:
        One row per rule: ``columns`` (the evidence two accounts must share) and
        ``purpose`` (``blocking_prediction``: proposes pairs to score;
        ``blocking_prior``: estimates the prior; ``blocking_m``: pairs whose
        ``m`` probabilities are learnt).
    """
    rows = [{"columns": cols, "purpose": "blocking_prediction"} for cols in BLOCKING_COLUMNS]
    rows.append({"columns": PRIOR_COLUMNS, "purpose": "blocking_prior"})
    label_col = account_model().m_from_label
    if label_col:
        rows.append({"columns": (label_col,), "purpose": "blocking_m"})
    return pd.DataFrame(rows)
