"""How well accounts were resolved into persons, scored against planted truth.

Only tests and the report's optional accuracy section read ``data/truth/``;
the resolution itself never does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


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


def true_person_of_accounts(con: Any, truth_dir: str | Path) -> pd.Series:
    """The true person of each account: the person behind most of its orders, or the member.

    An account keyed by a platform's buyer id belongs to the buyer. An account the
    workbench keyed by the receiver's details (``platform:~r...``, where the export
    names no buyer) belongs to whoever those details are: the receiver of a gift.
    """
    truth = Path(truth_dir)
    cols = ["platform", "order_id", "person_id", "receiver_person_id"]
    orders = pd.read_parquet(truth / "orders", columns=cols)
    orders["order_key"] = orders["platform"] + ":" + orders["order_id"]
    contacts = con.table("contacts").select("source_key", "account_key").to_pandas()
    joined = contacts.merge(orders, left_on="source_key", right_on="order_key")
    by_receiver = joined["account_key"].str.contains(":~r", regex=False)
    joined["owner"] = joined["person_id"].where(~by_receiver, joined["receiver_person_id"])
    joined = joined[joined["owner"] != ""]
    by_account = joined.groupby("account_key")["owner"].agg(lambda s: s.mode().iat[0])
    accounts = pd.read_parquet(truth / "accounts")
    crm = accounts[accounts["platform"] == "crm"]
    crm_truth = pd.Series(crm["person_id"].to_numpy(), index="crm:" + crm["account_key"])
    return pd.concat([by_account, crm_truth])
