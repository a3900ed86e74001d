"""Persons per channel, overlap and new-to-brand shares, on a warehouse worked out by hand."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from workbench.engine import duckdb_connect
from workbench.unify import channels


def _warehouse() -> Any:
    # A buys on Tmall, later on Douyin; B only on Douyin; C on Pinduoduo and Douyin the
    # same day; D only after the as-of date; one walk-in order has no account.
    orders = pd.DataFrame(
        {
            "order_key": ["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
            "platform": ["tmall", "douyin", "douyin", "pdd", "douyin", "douyin", "pos"],
            "account_key": [
                "tmall:a",
                "douyin:~ra",
                "douyin:~rb",
                "pdd:~rc",
                "douyin:~rc",
                "douyin:~rd",
                None,
            ],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-01 10:00",
                    "2024-10-01 10:00",
                    "2024-10-02 10:00",
                    "2024-10-05 09:00",
                    "2024-10-05 21:00",
                    "2026-12-01 10:00",
                    "2024-10-05 10:00",
                ]
            ),
            "net_amount": [100.0, 50.0, 60.0, 70.0, 80.0, 90.0, 10.0],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_key": [
                "tmall:a",
                "douyin:~ra",
                "douyin:~rb",
                "pdd:~rc",
                "douyin:~rc",
                "douyin:~rd",
            ],
            "platform": ["tmall", "douyin", "douyin", "pdd", "douyin", "douyin"],
            "person_id": ["A", "A", "B", "C", "C", "D"],
            "link_method": ["probabilistic"] * 2
            + ["unlinked"]
            + ["probabilistic"] * 2
            + ["unlinked"],
            "match_probability": [0.99, 0.99, None, 0.95, 0.95, None],
            "key_group": ["k1", "k2", "k3", "k4", "k5", "k6"],
        }
    )
    con = duckdb_connect(":memory:")
    con.create_table("orders", ibis.memtable(orders))
    con.create_table("accounts", ibis.memtable(accounts))
    return con


def test_channel_summary_by_hand() -> None:
    got = channels.channel_summary(_warehouse(), None, "2026-11-20").set_index("platform")
    assert got.loc["douyin", "buyers"] == 3  # A, B, C; D bought after the as-of date
    assert got.loc["douyin", "orders"] == 3
    assert got.loc["douyin", "net_amount"] == 50.0 + 60.0 + 80.0
    assert got.loc["douyin", "also_elsewhere_share"] == 2 / 3  # A on Tmall, C on Pinduoduo
    assert got.loc["tmall", "also_elsewhere_share"] == 1.0
    assert list(got.index) == ["douyin", "pdd", "tmall"]  # most buyers first, then by name


def test_new_to_brand_per_channel_by_hand() -> None:
    con = _warehouse()
    found = channels.new_to_brand(con, None, "2026-11-20", lookback_days=0)
    got = found.shares.set_index("platform")
    assert (found.start, found.end) == ("2024-01-01", "2026-11-20")
    assert got.loc["douyin", "entrants"] == 3  # A, B, C; D bought after the as-of date
    assert got.loc["douyin", "new_to_brand"] == 2  # B, and C (same day as Pinduoduo)
    assert got.loc[["tmall", "pdd"], "new_to_brand"].tolist() == [1, 1]


def test_new_to_brand_window_starts_after_the_look_back() -> None:
    con = _warehouse()
    # 275 days after 2024-01-01 is 2024-10-02: A's first Tmall and Douyin orders fall
    # before the window, so neither channel counts A; B and C enter Douyin in it, new.
    found = channels.new_to_brand(con, None, "2026-11-20", lookback_days=275)
    got = found.shares.set_index("platform")
    assert found.start == "2024-10-02"
    assert "tmall" not in got.index
    assert got.loc["douyin", ["entrants", "new_to_brand"]].tolist() == [2, 2]
    assert got.loc["pdd", ["entrants", "new_to_brand"]].tolist() == [1, 1]
    # A look-back longer than the history leaves no window.
    assert channels.new_to_brand(con, None, "2024-11-01", lookback_days=400).shares.empty


def test_channel_combinations_by_hand() -> None:
    con = _warehouse()
    combos = channels.combinations(con, None, "2026-11-20").set_index("channels")["persons"]
    assert combos.to_dict() == {"tmall+douyin": 1, "douyin": 1, "pdd+douyin": 1}
    everything = channels.combinations(con, None, None).set_index("channels")["persons"]
    assert everything["douyin"] == 2  # D counts when no as-of date cuts it off
