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


def test_new_to_brand_per_channel_by_hand() -> None:
    con = _warehouse()
    pc = channels.person_channels(con, None, "2026-11-20")
    got = channels.new_to_brand(pc).to_pandas().set_index("platform")
    assert got.loc["douyin", "buyers"] == 3  # A, B, C; D bought after the as-of date
    assert got.loc["douyin", "new_to_brand"] == 2  # B, and C (same day as Pinduoduo)
    assert got.loc[["tmall", "pdd"], "new_to_brand"].tolist() == [1, 1]
    assert got.loc["douyin", "net_amount"] == 50.0 + 60.0 + 80.0


def test_channel_combinations_by_hand() -> None:
    con = _warehouse()
    combos = channels.combinations(con, None, "2026-11-20").set_index("channels")["persons"]
    assert combos.to_dict() == {"tmall+douyin": 1, "douyin": 1, "pdd+douyin": 1}
    everything = channels.combinations(con, None, None).set_index("channels")["persons"]
    assert everything["douyin"] == 2  # D counts when no as-of date cuts it off
