"""Identity resolution: components worked out by hand, pairwise scores, synthetic truth."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from workbench.config import load_settings
from workbench.engine import connect, duckdb_connect
from workbench.schema import CONTACTS, MEMBERS
from workbench.synth import SynthResult
from workbench.unify import ingest
from workbench.unify.accuracy import pairwise_scores, true_person_of_accounts
from workbench.unify.identity import resolve_deterministic


def _contacts(rows: list[dict[str, str]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in CONTACTS.schema.names:
        if col not in df:
            df[col] = None
    return df[list(CONTACTS.schema.names)]


def test_strong_keys_join_accounts_by_hand() -> None:
    # tmall:a and youzan:b share a phone, youzan:b and youzan:c a unionid;
    # pos:M1 carries member M1, whose CRM record binds jd:j; pdd:~x has only weak evidence.
    contacts = _contacts(
        [
            {"source_key": "o1", "account_key": "tmall:a", "platform": "tmall", "phone_hash": "h1"},
            {
                "source_key": "o2",
                "account_key": "youzan:b",
                "platform": "youzan",
                "phone_hash": "h1",
                "unionid": "u1",
            },
            {"source_key": "o3", "account_key": "youzan:c", "platform": "youzan", "unionid": "u1"},
            {"source_key": "o4", "account_key": "pos:M1", "platform": "pos", "member_id": "M1"},
            {
                "source_key": "o5",
                "account_key": "pdd:~x",
                "platform": "pdd",
                "phone_masked": "138****0000",
            },
            {"source_key": "o6", "account_key": "jd:j", "platform": "jd"},
        ]
    )
    members = (
        pd.DataFrame(
            {
                "member_id": ["M1", "M2"],
                "tmall_account": [None, None],
                "jd_account": ["jd:j", None],
            }
        )
        .reindex(columns=list(MEMBERS.schema.names))
        .astype(object)
    )
    con = duckdb_connect(":memory:")
    con.create_table("contacts", ibis.memtable(contacts, schema=CONTACTS.schema))
    con.create_table("members", ibis.memtable(members, schema=MEMBERS.schema))
    acc = resolve_deterministic(con).to_pandas().set_index("account_key")
    groups = acc.groupby("person_id").apply(lambda d: sorted(d.index), include_groups=False)
    assert sorted(groups.tolist()) == [
        ["crm:M1", "jd:j", "pos:M1"],
        ["crm:M2"],
        ["pdd:~x"],
        ["tmall:a", "youzan:b", "youzan:c"],
    ]
    assert acc.loc["pdd:~x", "link_method"] == "unlinked"
    assert acc.loc["tmall:a", "link_method"] == "deterministic"
    assert acc.loc["tmall:a", "match_probability"] == 1.0
    assert acc["person_id"].str.fullmatch(r"P[0-9a-f]{15}").all()


def test_pairwise_scores_by_hand() -> None:
    predicted = pd.Series({"a": 1, "b": 1, "c": 1, "d": 2, "e": 3})
    truth = pd.Series({"a": "x", "b": "x", "c": "y", "d": "y", "e": "y"})
    s = pairwise_scores(predicted, truth)
    # predicted pairs: ab ac bc = 3, correct: ab = 1; true pairs: ab, cd ce de = 4
    assert (s["predicted_pairs"], s["correct_pairs"], s["true_pairs"]) == (3, 1, 4)
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == pytest.approx(1 / 4)


@pytest.mark.slow
def test_deterministic_links_are_never_wrong_on_synthetic_data(
    small_synth: SynthResult, tmp_path: Path
) -> None:
    s = load_settings(root=tmp_path, env={})
    result = ingest(small_synth.raw_dir, s, progress=False)
    assert result.identity["persons"] < result.identity["accounts"]
    con = connect(s, read_only=True)
    acc = con.table("accounts").to_pandas().set_index("account_key")
    truth = true_person_of_accounts(con, small_synth.truth_dir)
    scores = pairwise_scores(acc["person_id"], truth)
    assert scores["precision"] >= 0.999
    persons = con.table("persons").to_pandas()
    assert persons["person_id"].is_unique and len(persons) == acc["person_id"].nunique()
    orders = con.table("orders").count().execute()
    linked = con.table("orders").filter(ibis._.account_key.notnull()).count().execute()
    assert persons["orders"].sum() == linked <= orders
