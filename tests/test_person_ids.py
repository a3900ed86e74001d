"""Person ids that survive re-ingestion: joins, merges, splits and chains worked out by hand.

Each tiny warehouse holds one order per account; an order's contact shows a hashed
phone, a strong key, so accounts showing one phone are one person and no
probabilistic linking runs. An id issued to a wholly new person is derived from its
accounts: its key group is ``K`` + md5 of the smallest node of the strong-key
graph (here the phone node ``phone:<hash>``), and the person ``P`` + md5 of that.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from hashlib import md5
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from workbench.config import load_settings
from workbench.engine import connect, duckdb_connect
from workbench.evaluation.identity import account_people
from workbench.synth import SynthResult
from workbench.unify import current_person_ids, ingest, resolve_identities
from workbench.unify.identity import latest_run
from workbench.unify.warehouse import ensure_tables


def _h(text: str) -> str:
    return md5(text.encode()).hexdigest()[:15]


def derived(phone: str) -> str:
    """The id a new person showing only ``phone`` gets (see the module docstring)."""
    return "P" + _h("K" + _h(f"phone:{phone}"))


def rehashed(person_id: str) -> str:
    """The id a new person gets when its derived id was issued before."""
    return "P" + _h(person_id)


class Warehouse:
    """A tiny in-memory warehouse: one order per account, resolved on demand."""

    def __init__(self) -> None:
        self.con = duckdb_connect(":memory:")
        ensure_tables(self.con.con)

    def order(self, account: str, phone: str, n: int = 1) -> None:
        """Order ``n`` of ``tmall:<account>``, whose contact shows ``phone``; the same order
        again replaces it (a re-exported order with its phone corrected)."""
        raw = self.con.con
        key = f"tmall:o-{account}-{n}"
        raw.execute("DELETE FROM contacts WHERE source_key = ?", [key])
        raw.execute("DELETE FROM orders WHERE order_key = ?", [key])
        raw.execute(
            "INSERT INTO contacts (source_key, account_key, platform, phone_hash) "
            "VALUES (?, ?, 'tmall', ?)",
            [key, f"tmall:{account}", phone],
        )
        raw.execute(
            "INSERT INTO orders (order_key, platform, account_key, ordered_at, net_amount) "
            "VALUES (?, 'tmall', ?, TIMESTAMP '2026-06-01 10:00:00', 100.0)",
            [key, f"tmall:{account}"],
        )

    def resolve(self, **kwargs: Any) -> dict[str, str]:
        """Resolve identities; the person id of each account (without ``tmall:``)."""
        resolve_identities(self.con, **kwargs)
        acc = self.con.table("accounts").to_pandas()
        return dict(
            zip(acc["account_key"].str.removeprefix("tmall:"), acc["person_id"], strict=True)
        )

    def changes(self) -> list[tuple[str, str, str, int]]:
        """The change log, in the order of the resolutions, then by old and new id."""
        ch = self.con.table("person_id_changes").to_pandas()
        ch = ch.sort_values(["resolved_at", "old_id", "new_id"])
        return list(
            zip(ch["old_id"], ch["new_id"], ch["reason"], ch["accounts"].astype(int), strict=True)
        )

    def current(self, ids: list[str], since: Any = None) -> dict[str, tuple[str | None, str]]:
        t = ibis.memtable(pd.DataFrame({"member": ids}))
        out = current_person_ids(self.con, t, column="member", since=since).to_pandas()
        cur = out["current_person_id"].astype(object).where(out["current_person_id"].notna(), None)
        return dict(zip(out["member"], zip(cur, out["id_status"], strict=True), strict=True))


def test_a_person_keeps_its_id_when_accounts_join_it() -> None:
    w = Warehouse()
    w.order("a1", "h1")
    w.order("b1", "h2")
    first = w.resolve()
    assert first == {"a1": derived("h1"), "b1": derived("h2")}
    # a2 shows a1's phone; a3 shows it on one order and h0 on another, so the
    # person's smallest node is now phone:h0, which derives another id; c1 is new.
    w.order("a2", "h1")
    w.order("a3", "h0")
    w.order("a3", "h1", n=2)
    w.order("c1", "h3")
    second = w.resolve()
    assert derived("h0") != derived("h1")
    assert second == {
        "a1": derived("h1"),
        "a2": derived("h1"),
        "a3": derived("h1"),
        "b1": derived("h2"),
        "c1": derived("h3"),
    }
    assert w.changes() == []
    reg = w.con.table("person_ids").to_pandas().set_index("person_id")
    assert reg["issued_run"].to_dict() == {derived("h1"): 1, derived("h2"): 1, derived("h3"): 2}
    assert (reg.index == reg["current_id"]).all()


def test_a_merge_keeps_the_id_issued_first() -> None:
    w = Warehouse()
    w.order("x1", "h3")
    w.resolve()
    w.order("w1", "h1")
    w.resolve()
    # w1's person was issued its id one resolution later, though that id sorts first
    # and phone:h1 is the merged person's smallest node.
    older, newer = derived("h3"), derived("h1")
    assert newer < older
    w.order("w2", "h1")
    w.order("w2", "h3", n=2)
    ids = w.resolve()
    assert ids == {"x1": older, "w1": older, "w2": older}
    # w2 was not yet an account of w1's person: one account of `newer` went.
    assert w.changes() == [(newer, older, "merged", 1)]
    assert w.current([older, newer]) == {older: (older, "current"), newer: (older, "merged")}
    persons = w.con.table("persons").to_pandas()
    assert persons[["person_id", "accounts", "orders"]].values.tolist() == [[older, 3, 4]]


def test_a_merge_of_ids_issued_together_keeps_the_smaller() -> None:
    w = Warehouse()
    w.order("a1", "h4")
    w.order("b1", "h2")
    w.resolve()
    small, large = sorted([derived("h4"), derived("h2")])
    assert small == derived("h4")  # though phone:h2 is the merged person's smallest node
    w.order("b1", "h4", n=2)
    assert w.resolve() == {"a1": small, "b1": small}
    assert w.changes() == [(large, small, "merged", 1)]


def test_a_split_leaves_the_id_with_the_part_holding_most_accounts() -> None:
    w = Warehouse()
    for account in ("c1", "c2", "c3"):
        w.order(account, "h5")
    # A tie: d1 and d2 end apart, one account each.
    w.order("d1", "h8")
    w.order("d2", "h8")
    first = w.resolve()
    z, y = derived("h5"), derived("h8")
    assert first == {"c1": z, "c2": z, "c3": z, "d1": y, "d2": y}
    before = latest_run(w.con)["resolved_at"]
    # Phones corrected on re-export: c2 and c3 show h7, c1 keeps h5; d1 shows h9.
    w.order("c2", "h7")
    w.order("c3", "h7")
    w.order("d1", "h9")
    ids = w.resolve()
    # c1's part would derive z again (phone:h5 is its smallest node), but z is taken,
    # so it is hashed again. d1 sorts before d2, so d1's part keeps y; d2's part
    # would derive y (phone:h8), taken too.
    assert ids == {"c1": rehashed(z), "c2": z, "c3": z, "d1": y, "d2": rehashed(y)}
    assert w.changes() == sorted([(z, rehashed(z), "split", 1), (y, rehashed(y), "split", 1)])
    after = latest_run(w.con)["resolved_at"]
    assert w.current([z, y, rehashed(z)], since=before) == {
        z: (z, "split"),
        y: (y, "split"),
        rehashed(z): (rehashed(z), "current"),
    }
    assert w.current([z, y], since=after) == {z: (z, "current"), y: (y, "current")}
    assert w.current([z]) == {z: (z, "split")}


def test_merges_resolve_along_chains() -> None:
    w = Warehouse()
    w.order("c1", "hc")
    w.resolve()
    w.order("b1", "hb")
    w.resolve()
    w.order("a1", "ha")
    w.resolve()
    a, b, c = derived("ha"), derived("hb"), derived("hc")
    # A merges into B (issued before A), then B into C (issued before B).
    w.order("a1", "hb", n=2)
    assert w.resolve() == {"a1": b, "b1": b, "c1": c}
    w.order("b1", "hc", n=2)
    assert w.resolve() == {"a1": c, "b1": c, "c1": c}
    assert [(old, new, why) for old, new, why, _ in w.changes()] == [
        (a, b, "merged"),
        (b, c, "merged"),
    ]
    assert w.current([a, b, c, "Pnot-an-id"]) == {
        a: (c, "merged"),
        b: (c, "merged"),
        c: (c, "current"),
        "Pnot-an-id": (None, "unknown"),
    }


def test_an_id_merged_away_is_never_issued_again() -> None:
    w = Warehouse()
    w.order("a1", "h3")
    w.resolve()
    w.order("b1", "h1")
    w.resolve()
    older, newer = derived("h3"), derived("h1")
    w.order("a1", "h1")  # a1's order shows b1's phone: one person, `older`
    assert set(w.resolve().values()) == {older}
    split_from = latest_run(w.con)["resolved_at"]
    w.order("a1", "h3")  # corrected again: the two are apart once more
    ids = w.resolve()
    # Both parts hold one of older's accounts: a1 sorts first and keeps it; b1's part
    # would derive `newer`, retired in the merge, so it gets a new id.
    assert ids == {"a1": older, "b1": rehashed(newer)}
    assert w.changes() == [(newer, older, "merged", 1), (older, rehashed(newer), "split", 1)]
    # A pack that recorded `newer` before the merge: its person went into `older`,
    # which has split since, so the member may be in the other part.
    assert w.current([newer], since=split_from) == {newer: (older, "split")}


def test_a_fresh_build_gives_the_same_ids_and_a_rerun_changes_nothing() -> None:
    def build() -> Warehouse:
        w = Warehouse()
        for account, phone in [("a1", "h1"), ("a2", "h1"), ("b1", "h2"), ("c1", "h3")]:
            w.order(account, phone)
        return w

    one, two = build(), build()
    ids = one.resolve()
    assert ids == two.resolve()
    assert ids == {
        "a1": derived("h1"),
        "a2": derived("h1"),
        "b1": derived("h2"),
        "c1": derived("h3"),
    }
    reg = one.con.table("person_ids").to_pandas().sort_values("person_id")
    assert one.resolve() == ids
    assert one.changes() == []
    again = one.con.table("person_ids").to_pandas().sort_values("person_id")
    pd.testing.assert_frame_equal(again.reset_index(drop=True), reg.reset_index(drop=True))


def test_a_failed_swap_leaves_the_previous_ids_whole() -> None:
    w = Warehouse()
    w.order("a1", "h1")
    w.order("b1", "h2")
    before = w.resolve()
    reg = w.con.table("person_ids").to_pandas()
    w.order("b1", "h1")  # a merge that is never committed

    def killed(raw: Any) -> None:
        raise RuntimeError("killed")

    with contextlib.suppress(RuntimeError):
        resolve_identities(w.con, on_commit=killed)
    acc = w.con.table("accounts").to_pandas()
    assert (
        dict(zip(acc["account_key"].str.removeprefix("tmall:"), acc["person_id"], strict=True))
        == before
    )
    assert w.changes() == []
    pd.testing.assert_frame_equal(w.con.table("person_ids").to_pandas(), reg)
    assert int(w.con.table("identity_runs").count().execute()) == 1
    assert set(w.resolve().values()) == {min(derived("h1"), derived("h2"))}


def test_current_person_ids_names_a_missing_column() -> None:
    w = Warehouse()
    w.order("a1", "h1")
    w.resolve()
    with pytest.raises(ValueError, match="no column 'person_id'; columns found: member"):
        current_person_ids(w.con, ibis.memtable({"member": ["P1"]}))


def _withheld(raw: Path, early: Path, later: Path, last_year: int) -> None:
    """Copy the exports of periods up to ``last_year`` (and the product master) to
    ``early``; the later orders, the member CRM and the campaigns to ``later``."""
    for f in sorted(raw.rglob("*")):
        if not f.is_file() or f.name.startswith("."):
            continue
        year = re.search(r"20\d\d", f.name)
        first = f.parent.name == "catalog" or (year is not None and int(year[0]) <= last_year)
        dst = (early if first else later) / f.relative_to(raw)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dst)


@pytest.mark.slow
def test_recorded_ids_find_their_persons_after_the_rest_is_ingested(
    small_synth: SynthResult, tmp_path: Path
) -> None:
    early, later = tmp_path / "early", tmp_path / "later"
    _withheld(small_synth.raw_dir, early, later, 2024)
    s = load_settings(root=tmp_path / "project", env={})
    ingest(early, s, progress=False)
    con = connect(s)
    # A pack records every person of the day, with when their ids were resolved.
    then = con.table("accounts").select("account_key", "person_id").to_pandas()
    pack = pd.DataFrame({"person_id": sorted(then["person_id"].unique())})
    since = latest_run(con)["resolved_at"]
    con.disconnect()

    ingest(later, s, progress=False)  # joins and merges: the CRM binds accounts together
    con = connect(s)
    resolve_identities(con, threshold=0.99)  # a stricter threshold splits some persons
    now = con.table("accounts").select("account_key", "person_id").to_pandas()
    found = current_person_ids(con, ibis.memtable(pack), since=since).to_pandas()
    changes = con.table("person_id_changes").to_pandas()
    people = account_people(con, small_synth.truth_dir)
    con.disconnect()

    assert len(found) == len(pack) and set(found["person_id"]) == set(pack["person_id"])
    status = found.set_index("person_id")["id_status"]
    assert status.isin(["current", "merged", "split"]).all(), status.value_counts()
    assert (status == "merged").sum() > 0 and set(changes["reason"]) == {"merged", "split"}
    # An id that was not merged away still names a person; a merged one does not.
    live = set(now["person_id"])
    assert {p for p, st in status.items() if st != "merged"} <= live
    assert not {p for p, st in status.items() if st == "merged"} & live

    # The true person behind each recorded id: the owner of most of its accounts then.
    then = then.join(people["owner"], on="account_key")
    assert then["owner"].notna().all()
    counts = then.groupby(["person_id", "owner"]).size().reset_index(name="n")
    counts = counts.sort_values(["person_id", "n", "owner"], ascending=[True, False, True])
    true_person = counts.drop_duplicates("person_id").set_index("person_id")["owner"]
    # Where that person's recorded accounts are now, against where the id leads.
    mine = then[then["owner"] == then["person_id"].map(true_person)]
    mine = mine.assign(
        now=mine["account_key"].map(now.set_index("account_key")["person_id"]),
        led_to=mine["person_id"].map(found.set_index("person_id")["current_person_id"]),
    )
    astray = set(mine.loc[mine["now"] != mine["led_to"], "person_id"])
    # Every recorded id leads to the person holding its true person's accounts,
    # unless it is flagged: a split left some of them in a smaller part.
    assert astray <= {p for p, st in status.items() if st == "split"}
    assert len(astray) < 0.01 * len(pack)


def test_the_id_history_counts_each_resolutions_new_merged_and_split_ids() -> None:
    """The 01 report's table of person ids per resolution, on the two stories above:
    a person joined by a later one (a merge), and two persons split on re-export."""
    from workbench.unify.resolution import id_history

    def counts(w: Warehouse) -> list[tuple[int, int, int, int]]:
        h = id_history(w.con)
        cols = ["persons", "ids_new", "ids_merged", "ids_split"]
        return [tuple(int(x) for x in row) for row in h[cols].to_numpy()]

    w = Warehouse()
    w.order("x1", "h3")
    w.resolve()
    w.order("w1", "h1")
    w.resolve()
    w.order("w2", "h1")
    w.order("w2", "h3", n=2)
    w.resolve()
    # one person with one id; a second person, a new id; the two merged, no new id
    assert counts(w) == [(1, 1, 0, 0), (2, 1, 0, 0), (1, 0, 1, 0)]

    w = Warehouse()
    for account in ("c1", "c2", "c3"):
        w.order(account, "h5")
    w.order("d1", "h8")
    w.order("d2", "h8")
    w.resolve()
    w.order("c2", "h7")
    w.order("c3", "h7")
    w.order("d1", "h9")
    w.resolve()
    # two persons split in two each: two new ids, both old ids split
    assert counts(w) == [(2, 2, 0, 0), (4, 2, 0, 2)]
    assert id_history(duckdb_connect(":memory:")).empty
