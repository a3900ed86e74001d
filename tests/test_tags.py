"""Audiences: the analyst's filter is read into an Ibis expression, never run as SQL text.

The tag table is five persons written out below; each filter's persons are
worked out by hand from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from workbench.config import load_settings
from workbench.engine import connect, duckdb_connect
from workbench.segment.tags import audience, audience_filter, save_audience

TAGS = pd.DataFrame(
    [
        # person, city, register channel, tier, orders ever, visits 90d, other brand 7d, laundry 90d
        ("P1", "北京市", "天猫", "active", 3, 4, 0, True),
        ("P2", "北京市", "京东", "sleeping", 1, 0, 1, False),
        ("P3", "上海市", "天猫", "active", 0, 2, 0, False),
        ("P4", None, None, "lost", 5, 3, 0, True),
        ("P5", "天津市", "门店", "potential", 2, 1, 2, False),
    ],
    columns=[
        "person_id",
        "city",
        "register_channel",
        "tier_l1",
        "orders_ever",
        "visits_90d",
        "other_brand_orders_7d",
        "bought_laundry_90d",
    ],
)

# (filter, the persons it selects, read off TAGS by hand)
SELECTS = [
    # the notebook's audience: P2 has no visit
    (
        "city = '北京市' AND visits_90d >= 3 AND orders_ever >= 1 AND other_brand_orders_7d = 0",
        ["P1"],
    ),
    ("city = '北京市' OR city = '天津市'", ["P1", "P2", "P5"]),
    # a missing city is neither equal nor unequal to Beijing
    ("city != '北京市'", ["P3", "P5"]),
    ("city <> '北京市' OR city IS NULL", ["P3", "P4", "P5"]),
    ("city IS NOT NULL AND NOT bought_laundry_90d", ["P2", "P3", "P5"]),
    ("orders_ever BETWEEN 1 AND 3", ["P1", "P2", "P5"]),
    ("orders_ever NOT BETWEEN 1 AND 3", ["P3", "P4"]),
    ("tier_l1 IN ('active', 'potential')", ["P1", "P3", "P5"]),
    ("tier_l1 NOT IN ('active', 'potential')", ["P2", "P4"]),
    ("register_channel LIKE '天%'", ["P1", "P3"]),
    ("register_channel NOT LIKE '天%'", ["P2", "P5"]),
    # at most two orders and at least one visit
    ("NOT (orders_ever > 2 OR visits_90d < 1)", ["P3", "P5"]),
    # AND binds before OR: Beijing, or Shanghai with an order (P3 has none)
    ("city = '北京市' OR city = '上海市' AND orders_ever > 0", ["P1", "P2"]),
    ("(city = '北京市' OR city = '上海市') AND orders_ever > 0", ["P1", "P2"]),
    # two tags compared: P2 1 > 0, P4 5 > 3, P5 2 > 1
    ("orders_ever > visits_90d", ["P2", "P4", "P5"]),
    ("bought_laundry_90d = TRUE AND orders_ever <= 3", ["P1"]),
    ("bought_laundry_90d", ["P1", "P4"]),
    ("orders_ever >= 2.5 AND visits_90d > -1", ["P1", "P4"]),
    ("City = '上海市'", ["P3"]),  # SQL names are not case-sensitive
    ("city = 'O''Brien'", []),
]

# (filter, what the one-line error must say)
REFUSALS = [
    (
        "cty = '北京市'",
        r"unknown tag 'cty' \(did you mean 'city'\?\); known tags: person_id, city,",
    ),
    ('city = "北京市"', r"unknown tag '北京市' \(text takes single quotes: '北京市'\)"),
    ("persons.city = 'x'", r"the qualified name `persons.city` is not allowed"),
    ("city", r"`city` is text, not a condition"),
    ("orders_ever", r"`orders_ever` is a number, not a condition"),
    ("NOT city", r"`city` is text, not a condition"),
    ("city = 1", r"`city = 1` compares city \(text\) with 1 \(a number\)$"),
    (
        "bought_laundry_90d = 1",
        r"`bought_laundry_90d = 1` compares bought_laundry_90d \(true/false\) with 1 \(a number\)",
    ),
    ("city = NULL", r"`city = NULL` compares with NULL, which selects nobody; write `tag IS NULL`"),
    ("1=1; DROP TABLE persons", r"';' \(a filter is one condition\) is not allowed"),
    ("city = 'x';", r"';' .* is not allowed"),
    ("city = 'x' OR (SELECT 1)", r"a subquery `\(SELECT 1\)` is not allowed"),
    ("city IN (SELECT city FROM persons)", r"a subquery .* is not allowed"),
    ("EXISTS (SELECT 1)", r"a subquery .* is not allowed"),
    ("city = 'x' UNION SELECT person_id FROM persons", r"a subquery .* is not allowed"),
    ("lower(city) = 'x'", r"the function lower\(\) `LOWER\(city\)` is not allowed"),
    ("read_csv('/etc/passwd') IS NULL", r"the function read_csv\(\) .* is not allowed"),
    ("orders_ever = 1 + 1", r"arithmetic `1 \+ 1` is not allowed"),
    ("orders_ever = ?", r"a parameter placeholder `\?` is not allowed"),
    ("city = DATE '2024-01-01'", r"a cast or typed literal .* is not allowed"),
    ("city = 'x' -- AND orders_ever > 0", r"a comment \(-- or /\* \*/\) is not allowed"),
    ("city = 'x' /* */ OR TRUE", r"a comment .* is not allowed"),
    ("city = 'x' extra", r"the word 'extra' after a complete condition is not allowed"),
    ("city IS TRUE", r"IS TRUE/FALSE .* is not allowed"),
    ("city IS DISTINCT FROM 'x'", r"IS \[NOT\] DISTINCT FROM .* is not allowed"),
    ("city ILIKE 'x'", r"ILIKE .* is not allowed"),
    ("city LIKE city", r"LIKE with a pattern that is not text in quotes"),
    ("city LIKE 'a\\_b'", r"a backslash in a LIKE pattern"),
    ("city = 'x", r"cannot read .*: is a quote not closed\?"),
    ("city = 'x' AND", r"cannot read .* near 'AND' \(line 1, column 14\)"),
    ("  ", r"the filter is empty"),
]


def tag_con() -> Any:
    """A DuckDB warehouse with TAGS and a ``persons`` table a filter might try to reach."""
    con = duckdb_connect(":memory:")
    con.create_table("tags", TAGS)
    con.create_table("persons", TAGS[["person_id"]])
    return con


@pytest.mark.parametrize(("where", "expected"), SELECTS, ids=[w for w, _ in SELECTS])
def test_a_filter_selects_the_persons_worked_out_by_hand(where: str, expected: list[str]) -> None:
    con = tag_con()
    found = audience(con, con.table("tags"), "test", where)
    assert sorted(found.persons.to_pandas()["person_id"]) == expected
    assert found.size == len(expected) and found.where == where


@pytest.mark.parametrize(("where", "message"), REFUSALS, ids=[w for w, _ in REFUSALS])
def test_a_filter_outside_the_allowed_conditions_is_refused_in_one_line(
    where: str, message: str
) -> None:
    con = tag_con()
    with pytest.raises(ValueError, match=r"^audience filter: " + message) as caught:
        audience(con, con.table("tags"), "bad", where)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "where",
    [
        "1=1; DROP TABLE persons",
        "city = 'x' OR (SELECT 1)",
        "city = 'x'); DROP TABLE persons; --",
        "city = 'x' OR (SELECT count(*) FROM persons) > 0",
        "person_id IN (SELECT person_id FROM persons); DELETE FROM persons",
    ],
)
def test_an_injection_is_refused_before_anything_runs(where: str) -> None:
    con = tag_con()
    before = sorted(con.list_tables())
    with pytest.raises(ValueError, match=r"^audience filter: "):
        audience(con, con.table("tags"), "sneaky", where)
    assert sorted(con.list_tables()) == before == ["persons", "tags"]  # no scratch table either
    assert sorted(con.table("persons").to_pandas()["person_id"]) == ["P1", "P2", "P3", "P4", "P5"]


def test_the_filter_is_an_expression_over_any_table_with_the_tag_columns() -> None:
    t = ibis.memtable(TAGS)
    picked = t.filter(audience_filter(t, "tier_l1 = 'active' AND orders_ever > 0"))
    assert picked.person_id.to_list() == ["P1"]


def test_a_saved_audience_keeps_its_filter_as_written_and_its_persons() -> None:
    con = tag_con()
    where = "tier_l1 IN ('active', 'potential')"
    found = audience(con, con.table("tags"), "keep", where)
    assert save_audience(con, found, "2024-12-31") == 3
    stored = con.table("audiences").to_pandas()
    assert stored[["audience", "where_sql", "persons"]].values.tolist() == [["keep", where, 3]]
    members = con.table("audience_members").to_pandas()
    assert sorted(members["person_id"]) == ["P1", "P3", "P5"]


@pytest.mark.spark
@pytest.mark.slow
def test_the_same_filters_select_the_same_persons_on_spark(tmp_path: Path) -> None:
    spark = connect(load_settings(root=tmp_path, env={"WORKBENCH_ENGINE": "spark"}))
    # Through Parquet: a pandas frame handed to Spark directly turns P4's missing
    # city into the text 'NaN'.
    TAGS.to_parquet(tmp_path / "tags.parquet")
    table = spark.create_table(
        "tags_filter_parity", spark.read_parquet(tmp_path / "tags.parquet"), overwrite=True
    )
    assert table.filter(table.city.isnull()).count().execute() == 1
    for i, (where, expected) in enumerate(SELECTS):
        found = audience(spark, table, f"parity_{i}", where)
        assert sorted(found.persons.to_pandas()["person_id"]) == expected, where
