"""Pack CSVs per channel: the treated persons' own account ids, never a phone or its hash."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from workbench.config import load_settings
from workbench.engine import connect
from workbench.errors import ParameterError
from workbench.plan.arms import assign, global_control
from workbench.plan.export import (
    CHANNELS,
    COUNT_COLUMNS,
    channel_accounts,
    export_packs,
    pack_file_name,
    safe_name,
)
from workbench.synth import SynthResult
from workbench.unify import ingest

BOM = "\ufeff"
PHONE_HASH = {
    "M001": hmac.new(b"k", b"13900000001", hashlib.sha256).hexdigest(),
    "M002": hmac.new(b"k", b"13900000002", hashlib.sha256).hexdigest(),
    "M006": hmac.new(b"k", b"13900000006", hashlib.sha256).hexdigest(),
}

# P1..P7 as the warehouse would hold them. P1's Youzan account had no buyer id, so
# ingestion keyed it on the phone's hash (~p); P3's Douyin one on the receiver (~r).
ACCOUNTS = [
    ("tmall:tb_alice", "tmall", "P1"),
    ("jd:jd_alice", "jd", "P1"),
    ("crm:M001", "crm", "P1"),
    ("pos:M001", "pos", "P1"),
    (f"youzan:~p{PHONE_HASH['M001'][:16]}", "youzan", "P1"),
    ("tmall:tb_bob", "tmall", "P2"),
    ("crm:M002", "crm", "P2"),
    ("tmall:=1+2", "tmall", "P3"),
    ("youzan:7001", "youzan", "P3"),
    ("douyin:~r0123456789abcdef", "douyin", "P3"),
    ("pdd:pdd_carol", "pdd", "P3"),
    ("tmall:13812345678", "tmall", "P4"),
    ("jd:jd,dave", "jd", "P4"),  # a comma: the field is quoted
    ("tmall:tb_eve", "tmall", "P5"),
    ("crm:M006", "crm", "P6"),
]
MEMBERS = [
    # member, phone hash, bound Tmall account, bound JD account
    ("M001", PHONE_HASH["M001"], "tmall:tb_alice", None),
    ("M002", PHONE_HASH["M002"], "tmall:tb_bob_bound", None),
    ("M006", PHONE_HASH["M006"], "tmall:tb_frank", "jd:jd_frank"),
]
# P2 is held out, P5 in the year's global control, P7 has no account anywhere.
PACKS = [
    ("P1", "爆发期", "active", "coupon"),
    ("P1", "蓄水期", "active", "coupon"),
    ("P2", "爆发期", "active", "control"),
    ("P3", "爆发期", "active", "points"),
    ("P4", "爆发期", "active", "coupon"),
    ("P5", "爆发期", "active", "global_control"),
    ("P6", "爆发期", "新客/new", "treatment"),
    ("P7", "爆发期", "active", "coupon"),
]


def tables() -> tuple[Any, Any, Any]:
    accounts = ibis.memtable(
        pd.DataFrame(ACCOUNTS, columns=["account_key", "platform", "person_id"])
    )
    members = ibis.memtable(
        pd.DataFrame(MEMBERS, columns=["member_id", "phone_hash", "tmall_account", "jd_account"]),
    )
    packs = ibis.memtable(pd.DataFrame(PACKS, columns=["person_id", "phase", "group", "arm"]))
    return packs, accounts, members


def files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text("utf-8") for p in sorted(folder.iterdir())}


def test_each_pack_and_channel_gets_exactly_its_treated_ids(tmp_path: Path) -> None:
    packs, accounts, members = tables()
    stale = tmp_path / "618-2027_爆发期_active_douyin.csv"
    stale.write_text("douyin_buyer_id\nold\n", "utf-8")
    (tmp_path / "notes.txt").write_text("kept", "utf-8")

    counts = export_packs(packs, accounts, members, "618-2027", tmp_path)

    assert files(tmp_path) == {
        # a nickname that is a formula gets a quote; the one that is a phone is withheld
        "618-2027_爆发期_active_tmall.csv": f"{BOM}buyer_nick\n'=1+2\ntb_alice\n",
        "618-2027_爆发期_active_jd.csv": f'{BOM}jd_account\n"jd,dave"\njd_alice\n',
        "618-2027_爆发期_active_youzan.csv": f"{BOM}youzan_buyer_id\n7001\n",
        "618-2027_爆发期_active_crm.csv": f"{BOM}member_id\nM001\n",
        "618-2027_爆发期_active_pdd.csv": f"{BOM}pdd_buyer_id\npdd_carol\n",
        "618-2027_蓄水期_active_tmall.csv": f"{BOM}buyer_nick\ntb_alice\n",
        "618-2027_蓄水期_active_jd.csv": f"{BOM}jd_account\njd_alice\n",
        "618-2027_蓄水期_active_crm.csv": f"{BOM}member_id\nM001\n",
        # P6's Tmall and JD accounts are known only from the member's bindings
        "618-2027_爆发期_新客_new_tmall.csv": f"{BOM}buyer_nick\ntb_frank\n",
        "618-2027_爆发期_新客_new_jd.csv": f"{BOM}jd_account\njd_frank\n",
        "618-2027_爆发期_新客_new_crm.csv": f"{BOM}member_id\nM006\n",
        "notes.txt": "kept",
    }
    assert list(counts.columns) == list(COUNT_COLUMNS)
    assert len(counts) == 3 * len(CHANNELS)
    c = counts.set_index(["phase", "group", "channel"])
    burst = c.loc[("爆发期", "active")]
    # P1, P3, P4 and P7 are treated in the burst's active pack
    assert burst["pack_persons"].tolist() == [4] * len(CHANNELS)
    assert burst.loc["tmall"].to_dict() == {
        "file": "618-2027_爆发期_active_tmall.csv",
        "pack_persons": 4,
        "persons": 2,
        "accounts": 2,
        "withheld_phone_like": 1,
        "quoted": 1,
    }
    assert burst.loc["jd", ["persons", "accounts"]].tolist() == [2, 2]
    # Douyin: P3's only key was made by the workbench, so no file, and the stale one is gone
    assert burst.loc["douyin", ["persons", "accounts"]].tolist() == [0, 0]
    assert pd.isna(burst.loc["douyin", "file"])
    assert c.loc[("蓄水期", "active"), "pack_persons"].tolist() == [1] * len(CHANNELS)


def test_held_out_persons_never_appear(tmp_path: Path) -> None:
    packs, accounts, members = tables()
    export_packs(packs, accounts, members, "618-2027", tmp_path)
    text = "".join(files(tmp_path).values())
    for held_out in ("tb_bob", "M002", "tb_bob_bound", "tb_eve"):  # P2 control, P5 global
        assert held_out not in text
    # the same when the global control is a flag on the packs rather than an arm
    flagged = packs.mutate(global_control=packs.person_id == "P3")
    counts = export_packs(flagged, accounts, members, "plan-b", tmp_path / "b")
    assert "7001" not in "".join(files(tmp_path / "b").values())
    assert (
        counts.set_index(["phase", "group", "channel"]).loc[
            ("爆发期", "active", "tmall"), "pack_persons"
        ]
        == 3
    )


def test_an_id_two_persons_share_is_listed_once(tmp_path: Path) -> None:
    packs, accounts, _ = tables()
    # P3's member record is bound to P1's Tmall account, and both are in one pack
    members = ibis.memtable(
        pd.DataFrame(
            [("M003", "h", "tmall:tb_alice", None)],
            columns=["member_id", "phone_hash", "tmall_account", "jd_account"],
        )
    )
    accounts = accounts.union(
        ibis.memtable(pd.DataFrame([("crm:M003", "crm", "P3")], columns=accounts.columns))
    )
    counts = export_packs(packs, accounts, members, "p", tmp_path)
    assert (tmp_path / "p_爆发期_active_tmall.csv").read_text("utf-8") == (
        f"{BOM}buyer_nick\n'=1+2\ntb_alice\n"
    )
    tmall = counts.set_index(["phase", "group", "channel"]).loc[("爆发期", "active", "tmall")]
    assert (tmall["persons"], tmall["accounts"]) == (2, 2)


def test_no_file_carries_a_phone_or_its_hash(tmp_path: Path) -> None:
    packs, accounts, members = tables()
    export_packs(packs, accounts, members, "618-2027", tmp_path)
    for name, text in files(tmp_path).items():
        header = text.lstrip(BOM).splitlines()[0]
        assert "phone" not in header.lower() and "," not in header, name
        for digest in PHONE_HASH.values():
            assert digest[:16] not in text, name
        assert "13812345678" not in text and "139000000" not in text, name


def test_account_ids_are_the_part_after_the_platform() -> None:
    _, accounts, members = tables()
    got = channel_accounts(accounts, members).to_pandas()
    mine = got[got["person_id"] == "P1"].sort_values("channel")
    assert mine[["channel", "account_id"]].values.tolist() == [
        ["crm", "M001"],
        ["jd", "jd_alice"],
        ["tmall", "tb_alice"],  # in accounts and bound to M001: listed once
    ]
    assert got.loc[got["account_id"] == "13812345678", "phone_like"].tolist() == [True]
    assert not got["account_id"].str.startswith("~").any()


def test_file_names_are_safe() -> None:
    assert safe_name("双11 / 2026") == "双11_2026"
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name(" .hidden") == "hidden"
    assert safe_name("///") == "_"
    assert pack_file_name("618:2027", "爆发期", 'a"b', "crm") == "618_2027_爆发期_a_b_crm.csv"


def test_packs_whose_names_collide_or_lack_a_phase_are_refused(tmp_path: Path) -> None:
    _, accounts, members = tables()
    clash = ibis.memtable(
        pd.DataFrame(
            [("P1", "a/b", "g", "x"), ("P3", "a:b", "g", "x")],
            columns=["person_id", "phase", "group", "arm"],
        )
    )
    with pytest.raises(ParameterError, match=r"would both be written as plan_a_b_g_tmall\.csv"):
        export_packs(clash, accounts, members, "plan", tmp_path)
    no_phase = ibis.memtable(
        pd.DataFrame({"person_id": ["P1"], "phase": [None], "group": ["g"], "arm": ["x"]}),
        schema={"person_id": "string", "phase": "string", "group": "string", "arm": "string"},
    )
    with pytest.raises(ParameterError, match="without a phase or group"):
        export_packs(no_phase, accounts, members, "plan", tmp_path)
    no_arm = ibis.memtable(pd.DataFrame({"person_id": ["P1"], "phase": ["p"], "group": ["g"]}))
    with pytest.raises(ParameterError, match="the packs table lacks the column"):
        export_packs(no_arm, accounts, members, "plan", tmp_path)
    assert list(tmp_path.iterdir()) == []


# On the 3,000-person fixture: the account keys as ingestion really makes them.


@pytest.fixture(scope="module")
def warehouse(small_synth: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = load_settings(root=tmp_path_factory.mktemp("plan_export"), env={})
    ingest(small_synth.raw_dir, s, progress=False)
    return connect(s, read_only=True)


@pytest.mark.slow
def test_synthetic_packs_list_only_own_ids_of_treated_persons(
    warehouse: Any, tmp_path: Path
) -> None:
    con = warehouse
    persons = con.table("persons").select("person_id")
    packs = assign(
        global_control(
            persons.mutate(phase=ibis.literal("burst"), group=ibis.literal("all")),
            "salt",
            0.05,
            2027,
        ),
        "618-2027",
        "salt",
        0.2,
    )
    counts = export_packs(packs, con.table("accounts"), con.table("members"), "618-2027", tmp_path)

    arms = packs.to_pandas().set_index("person_id")["arm"]
    accounts = con.table("accounts").to_pandas()
    accounts["id"] = accounts["account_key"].str.split(":", n=1).str[1]
    owner = accounts.set_index("account_key")["person_id"]
    phone_hashes = set(con.table("contacts").phone_hash.to_pandas().dropna())
    phone_hashes |= set(con.table("members").phone_hash.to_pandas().dropna())
    prefixes = {h[:16] for h in phone_hashes}
    members = con.table("members").to_pandas()
    for row in counts.itertuples():
        channel = row.channel
        written = set()
        if pd.notna(row.file):
            text = (tmp_path / row.file).read_text("utf-8-sig").splitlines()
            written = set(text[1:])
        # what the file should hold, worked out from the warehouse's tables in pandas
        mine = accounts[(accounts["platform"] == channel) & ~accounts["id"].str.startswith("~")]
        expected = set(mine.loc[mine["person_id"].map(arms) == "treatment", "id"])
        binding = {"tmall": "tmall_account", "jd": "jd_account"}.get(channel)
        if binding:
            bound = members.dropna(subset=[binding])
            person = ("crm:" + bound["member_id"]).map(owner)
            ids = bound[binding].str.split(":", n=1).str[1]
            expected |= set(ids[person.map(arms).eq("treatment").to_numpy()])
        assert written == expected, channel
        assert not {i for i in written if i[:16] in prefixes or i in phone_hashes}, channel
        assert row.accounts == len(written)
    # the synthetic Douyin and Pinduoduo exports carry no buyer id: nothing to upload
    by_channel = counts.set_index("channel")
    assert by_channel.loc[["douyin", "pdd"], "accounts"].tolist() == [0, 0]
    assert by_channel.loc[["tmall", "jd", "youzan", "crm"], "accounts"].min() > 0
