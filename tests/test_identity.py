"""Identity resolution: components worked out by hand, pairwise scores, synthetic truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ibis
import pandas as pd
import pytest

from workbench.config import load_settings
from workbench.engine import connect, duckdb_connect
from workbench.evaluation.identity import account_people, evidence_ceiling, pairwise_scores
from workbench.schema import CONTACTS, MEMBERS
from workbench.synth import SynthResult
from workbench.unify import current_person_ids, ingest
from workbench.unify.identity import accounts_at, cluster, key_groups, resolve_identities
from workbench.unify.person_ids import carry_person_ids


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
    groups = key_groups(con).cache()
    no_links = ibis.memtable(_links([]))
    acc = cluster(groups, no_links, 0.9).to_pandas().set_index("account_key")
    persons = acc.groupby("person_id").apply(lambda d: sorted(d.index), include_groups=False)
    assert sorted(persons.tolist()) == [
        ["crm:M1", "jd:j", "pos:M1"],
        ["crm:M2"],
        ["pdd:~x"],
        ["tmall:a", "youzan:b", "youzan:c"],
    ]
    assert acc.loc["pdd:~x", "link_method"] == "unlinked"
    assert acc.loc["tmall:a", "link_method"] == "deterministic"
    assert acc.loc["tmall:a", "match_probability"] == 1.0
    assert acc["person_id"].str.fullmatch(r"P[0-9a-f]{15}").all()

    # pdd:~x links to jd:j at 0.95 and to crm:M2 at 0.7, but the pair with
    # youzan:c is held apart (the two sides show different phones).
    links = ibis.memtable(
        _links(
            [
                ("pdd:~x", "jd:j", 0.95, False),
                ("crm:M2", "pdd:~x", 0.7, False),
                ("pdd:~x", "youzan:c", 0.99, True),
            ]
        )
    )
    at_09 = cluster(groups, links, 0.9).to_pandas().set_index("account_key")
    assert at_09.loc["pdd:~x", "person_id"] == at_09.loc["pos:M1", "person_id"]
    assert at_09.loc["pdd:~x", "link_method"] == "probabilistic"
    assert at_09.loc["pdd:~x", "match_probability"] == pytest.approx(0.95)
    assert at_09.loc["jd:j", "link_method"] == "deterministic"
    assert at_09.loc["crm:M2", "link_method"] == "unlinked"
    assert at_09["person_id"].nunique() == 3
    at_06 = cluster(groups, links, 0.6).to_pandas().set_index("account_key")
    assert at_06.loc["crm:M2", "person_id"] == at_06.loc["jd:j", "person_id"]
    assert at_06.loc["crm:M2", "match_probability"] == pytest.approx(0.7)
    assert at_06["person_id"].nunique() == 2


def _links(rows: list[tuple[str, str, float, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_key_l": pd.Series([r[0] for r in rows], dtype="string"),
            "account_key_r": pd.Series([r[1] for r in rows], dtype="string"),
            "match_probability": pd.Series([r[2] for r in rows], dtype="float64"),
            "match_weight": pd.Series([0.0] * len(rows), dtype="float64"),
            "held_apart": pd.Series([r[3] for r in rows], dtype="bool"),
        }
    )


def test_pairwise_scores_by_hand() -> None:
    predicted = pd.Series({"a": 1, "b": 1, "c": 1, "d": 2, "e": 3})
    truth = pd.Series({"a": "x", "b": "x", "c": "y", "d": "y", "e": "y"})
    s = pairwise_scores(predicted, truth)
    # predicted pairs: ab ac bc = 3, correct: ab = 1; true pairs: ab, cd ce de = 4
    assert (s["predicted_pairs"], s["correct_pairs"], s["true_pairs"]) == (3, 1, 4)
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == pytest.approx(1 / 4)


def test_evidence_ceiling_breaks_ties_the_same_way_whatever_the_row_order() -> None:
    # Group g joins one account of x and one of y: a tie, which goes to x (the smaller).
    # Unjoined accounts go to whoever their details show: c shows x, d shows z.
    groups = pd.Series({"a": "g", "b": "g", "c": "h", "d": "i"})
    people = pd.DataFrame(
        {"owner": ["x", "y", "x", "y"], "shown": ["x", "y", "x", "z"]},
        index=pd.Index(["a", "b", "c", "d"], name="account_key"),
    )
    # Best clustering: a, b, c as x; d as z. Pairs: ab, ac, bc predicted; true: ac, bd.
    first = evidence_ceiling(groups, people)
    assert (first["predicted_pairs"], first["correct_pairs"], first["true_pairs"]) == (3, 1, 2)
    for order in (["d", "c", "b", "a"], ["b", "a", "d", "c"]):
        again = evidence_ceiling(groups[order], people.loc[order])
        assert again == first


def test_account_people_settle_ties_on_the_smallest_person(tmp_path: Path) -> None:
    # Account tmall:a has four orders: bought by p1 twice and p2 twice (a tie), each
    # shown to receivers r2, r1, r2, r1 (a tie too). Ties go to the smallest id.
    truth = tmp_path / "truth"
    (truth / "orders").mkdir(parents=True)
    pd.DataFrame(
        {
            "platform": ["tmall"] * 4,
            "order_id": ["1", "2", "3", "4"],
            "person_id": ["p2", "p1", "p2", "p1"],
            "receiver_person_id": ["r2", "r1", "r2", "r1"],
        }
    ).to_parquet(truth / "orders" / "part-0.parquet")
    pd.DataFrame({"platform": ["tmall"], "account_key": ["a"], "person_id": ["p1"]}).to_parquet(
        truth / "accounts"
    )
    con = duckdb_connect(":memory:")
    contacts = pd.DataFrame(
        {"source_key": [f"tmall:{i}" for i in "4321"], "account_key": ["tmall:a"] * 4}
    )
    con.create_table("contacts", ibis.memtable(contacts))
    people = account_people(con, truth)
    assert people.loc["tmall:a"].tolist() == ["p1", "r1"]


@pytest.mark.slow
def test_identities_on_synthetic_data_reach_the_evidence_ceiling(
    small_synth: SynthResult, tmp_path: Path
) -> None:
    s = load_settings(root=tmp_path, env={})
    result = ingest(small_synth.raw_dir, s, progress=False)
    assert result.identity["persons"] < result.identity["accounts"]
    assert result.identity["accounts_probabilistic"] > 0
    con = connect(s, read_only=True)
    acc = con.table("accounts").to_pandas().set_index("account_key")
    people = account_people(con, small_synth.truth_dir)
    # Strong keys alone never join two persons.
    assert pairwise_scores(acc["key_group"], people["owner"])["precision"] == 1.0
    scores = pairwise_scores(acc["person_id"], people["owner"])
    ceiling = evidence_ceiling(acc["key_group"], people)
    assert scores["recall"] >= 0.98
    assert scores["precision"] >= ceiling["precision"] - 0.01
    # Re-clustering at a stricter threshold never adds pairs.
    strict = accounts_at(con, 0.999).to_pandas().set_index("account_key")
    assert (
        pairwise_scores(strict["person_id"], people["owner"])["predicted_pairs"]
        <= scores["predicted_pairs"]
    )
    persons = con.table("persons").to_pandas()
    assert persons["person_id"].is_unique and len(persons) == acc["person_id"].nunique()
    # The first resolution issues every id, each naming its own person, and changes none.
    reg = con.table("person_ids").to_pandas()
    assert sorted(reg["person_id"]) == sorted(persons["person_id"])
    assert (reg["current_id"] == reg["person_id"]).all() and (reg["issued_run"] == 1).all()
    assert con.table("person_id_changes").count().execute() == 0
    orders = con.table("orders").count().execute()
    linked = con.table("orders").filter(ibis._.account_key.notnull()).count().execute()
    assert persons["orders"].sum() == linked <= orders


@pytest.mark.slow
@pytest.mark.spark
def test_identities_on_spark_match_duckdb(small_synth: SynthResult, tmp_path: Path) -> None:
    duck = load_settings(root=tmp_path / "duck", env={})
    ingest(small_synth.raw_dir, duck, progress=False)
    dcon = connect(duck)
    spark = connect(load_settings(root=tmp_path / "spark", env={"WORKBENCH_ENGINE": "spark"}))
    for name in ("contacts", "members", "orders"):
        path = tmp_path / f"{name}.parquet"
        dcon.table(name).to_parquet(path)
        spark.create_table(name, spark.read_parquet(path), overwrite=True)
    counts = resolve_identities(spark, threshold=0.9)
    assert counts["accounts_probabilistic"] > 0
    on_spark = spark.table("accounts").to_pandas().set_index("account_key")
    on_duck = dcon.table("accounts").to_pandas().set_index("account_key")
    assert len(on_spark) == len(on_duck)
    same = pairwise_scores(on_spark["person_id"], on_duck["person_id"])
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    assert (on_spark["link_method"] == on_duck.loc[on_spark.index, "link_method"]).all()
    # A fresh build derives the same ids on both engines; resolving again carries them over.
    assert (on_spark["person_id"] == on_duck.loc[on_spark.index, "person_id"]).all()
    fresh = spark.table("accounts").mutate(person_id="P" + ibis._.person_id.hexdigest("md5"))
    again = carry_person_ids(
        fresh, spark.table("accounts"), spark.table("person_ids"), 2, datetime(2026, 12, 1), spark
    )
    assert again.counts == {
        "ids_kept": counts["persons"],
        "ids_merged": 0,
        "ids_split": 0,
        "ids_new": 0,
    }
    kept = again.accounts.to_pandas().set_index("account_key")["person_id"]
    assert (kept == on_spark.loc[kept.index, "person_id"]).all()
    found = current_person_ids(spark, spark.table("persons").select("person_id")).to_pandas()
    assert len(found) == counts["persons"] and (found["id_status"] == "current").all()
