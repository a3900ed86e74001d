"""How well accounts were resolved into persons, scored against planted truth.

Only this package, tests and the report's accuracy section read ``data/truth/``;
the resolution itself never does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from workbench.unify.identity import accounts_at


def pairwise_scores(predicted: pd.Series, truth: pd.Series) -> dict[str, float]:
    """Pairwise precision and recall of a clustering against the true clusters.

    Parameters:
        predicted: cluster label per item (index: item).
        truth: true cluster label per item (same index; items missing here are ignored).

    Returns:
        ``precision`` (share of predicted same-person pairs that are true), ``recall``
        (share of true pairs that were predicted), ``f1``, and the pair counts.

    Example:
        >>> p = pd.Series({"a": 1, "b": 1, "c": 2, "d": 2})
        >>> t = pd.Series({"a": "x", "b": "x", "c": "x", "d": "y"})
        >>> s = pairwise_scores(p, t)
        >>> (s["precision"], round(s["recall"], 3))
        (0.5, 0.333)
    """
    both = pd.DataFrame({"p": predicted, "t": truth}).dropna()

    def pairs(sizes: pd.Series) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    predicted_pairs = pairs(both.groupby("p").size())
    true_pairs = pairs(both.groupby("t").size())
    common = pairs(both.groupby(["p", "t"]).size())
    precision = common / predicted_pairs if predicted_pairs else 1.0
    recall = common / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "predicted_pairs": predicted_pairs,
        "true_pairs": true_pairs,
        "correct_pairs": common,
    }


def account_people(con: Any, truth_dir: str | Path) -> pd.DataFrame:
    """Per account, the person who owns it and the person whose details it shows.

    An account keyed by a platform's buyer id belongs to the buyer; one the
    workbench keyed by the receiver's details (``platform:~r...``, where the
    export names no buyer) belongs to whoever those details are. ``shown`` is
    the person whose name, phone and address most of the account's orders show
    (the receiver of a gift, not its buyer). CRM records are their member.

    Returns:
        A frame indexed by ``account_key`` with ``owner`` and ``shown``.
    """
    truth = Path(truth_dir)
    o = con.read_parquet(str(truth / "orders" / "*.parquet"))
    o = o.select(
        order_key=o.platform + ":" + o.order_id, buyer=o.person_id, receiver=o.receiver_person_id
    )
    c = con.table("contacts")
    c = c.filter(c.account_key.notnull()).select("source_key", "account_key")
    j = c.join(o, c.source_key == o.order_key)
    by_receiver = j.account_key.contains(":~r")
    j = j.mutate(owner=by_receiver.ifelse(j.receiver, j.buyer), shown=j.receiver)
    j = j.filter(j.owner != "")

    def mode(col: str) -> ir.Table:
        """The most frequent value per account; ties go to the smallest value."""
        n = j.group_by(["account_key", col]).agg(n=ibis._.count())
        rank = ibis.row_number().over(group_by="account_key", order_by=[ibis.desc("n"), col])
        return n.mutate(rank=rank).filter(ibis._.rank == 0).select("account_key", col)

    people = mode("owner").join(mode("shown"), "account_key").to_pandas()
    people = people.set_index("account_key")[["owner", "shown"]]
    accounts = pd.read_parquet(truth / "accounts", columns=["platform", "account_key", "person_id"])
    crm = accounts[accounts["platform"] == "crm"]
    crm_people = pd.DataFrame(
        {"owner": crm["person_id"].to_numpy(), "shown": crm["person_id"].to_numpy()},
        index=pd.Index("crm:" + crm["account_key"], name="account_key"),
    )
    return pd.concat([people, crm_people])


def evidence_ceiling(key_groups: pd.Series, people: pd.DataFrame) -> dict[str, float]:
    """Scores of a linker that reads the evidence perfectly: the best one can do.

    Accounts that strong keys join stay joined (as their true person); every
    other account goes to the person whose details it shows. What keeps this
    below 1 is accounts that show someone else's details: gifts.

    Parameters:
        key_groups: the key group of each account (``accounts.key_group``).
        people: :func:`account_people`.
    """
    frame = pd.DataFrame({"group": key_groups}).join(people, how="inner")
    size = frame.groupby("group")["owner"].transform("size")
    shared = frame[size > 1]
    counts = shared.groupby(["group", "owner"]).size().reset_index(name="n")
    counts = counts.sort_values(
        ["group", "n", "owner"], ascending=[True, False, True], kind="mergesort"
    )
    group_owner = counts.drop_duplicates("group").set_index("group")["owner"]
    best = frame["shown"].where(size == 1, frame["group"].map(group_owner))
    return pairwise_scores(best, frame["owner"])


def has_truth(truth_dir: str | Path | None) -> bool:
    """Whether ``truth_dir`` holds the synthetic world's truth (real data has none)."""
    return bool(truth_dir) and (Path(str(truth_dir)) / "orders").is_dir()


def identity_accuracy(
    con: Any, truth_dir: str | Path, threshold: float | None = None
) -> pd.DataFrame | None:
    """Pairwise scores of strong keys alone, of the resolution at ``threshold``, and of
    the evidence ceiling (see :func:`evidence_ceiling`); ``None`` without truth.

    Returns:
        One row per ``resolution`` (``strong_keys_only``, ``resolved``,
        ``evidence_ceiling``) with precision, recall, f1 and the pair counts.
    """
    if not has_truth(truth_dir):
        return None
    people = account_people(con, truth_dir)
    acc = accounts_at(con, threshold).to_pandas().set_index("account_key")
    rows = {
        "strong_keys_only": pairwise_scores(acc["key_group"], people["owner"]),
        "resolved": pairwise_scores(acc["person_id"], people["owner"]),
        "evidence_ceiling": evidence_ceiling(acc["key_group"], people),
    }
    return pd.DataFrame(rows).T.reset_index(names="resolution")


def planted_new_share(truth_dir: str | Path | None) -> dict[str, float]:
    """The new-to-brand share the generator planted per channel (Douyin), if truth is there."""
    path = Path(str(truth_dir or "")) / "summary.json"
    if not truth_dir or not path.is_file():
        return {}
    value = json.loads(path.read_text()).get("douyin_new_share")
    return {} if value is None else {"douyin": float(value)}
