"""Labels, table style and HTML clean-up, on tiny inputs."""

from __future__ import annotations

import pandas as pd

from workbench.report import label, relabel, table
from workbench.report.html import strip_external


def test_labels_in_both_languages() -> None:
    assert label("douyin", "zh") == "抖店"
    assert label("douyin", "en") == "Douyin"
    assert label("no_such_key", "en") == "no_such_key"
    df = relabel(
        pd.DataFrame({"platform": ["jd", "pos"], "rows": [1, 2]}), "en", values=["platform"]
    )
    assert list(df.columns) == ["Platform", "Rows"]
    assert list(df["Platform"]) == ["JD", "Store POS"]


def test_table_escapes_and_formats() -> None:
    html = table(
        pd.DataFrame({"<name>": ["<img src=x onerror=alert(1)>"], "n": [1234567], "share": [0.25]}),
        caption="a <b>caption</b>",
        formats={"share": "{:.1%}"},
    ).to_html()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;name&gt;" in html
    assert "1,234,567" in html and "25.0%" in html
    assert "a &lt;b&gt;caption&lt;/b&gt;" in html


def test_strip_external_drops_network_resources_only() -> None:
    page = (
        '<head><script src="https://cdn.example/require.js"></script>'
        "<link rel=\"stylesheet\" href='http://fonts.example/x.css'>"
        "<script>var inline = 1;</script></head>"
    )
    out = strip_external(page)
    assert "cdn.example" not in out and "fonts.example" not in out
    assert "var inline = 1;" in out


def test_an_audience_filter_shows_one_condition_per_line() -> None:
    from workbench.report.views.segment import condition_lines

    where = "city = '北京市 AND 天津' AND (a = 1 OR b = 2) or visits_90d >= 3"
    assert condition_lines(where).split("\n") == [
        "city = '北京市 AND 天津'",
        "AND (a = 1 OR b = 2)",
        "or visits_90d >= 3",
    ]


def test_the_rc_table_writes_the_inductive_interval_with_its_known_bounds() -> None:
    from workbench.report.views.segment import rc_table

    rc = pd.DataFrame(
        {
            "category": ["laundry", "handwash", "dishwasher", None],
            "rc_usage": [60.0, 45.0, 100.0, 60.0],
            "rc_inductive": [67.94, 49.33, 93.0, 60.0],
            "rc_inductive_low": [65.44, 47.1, None, None],
            "rc_inductive_high": [70.83, None, None, None],
            "p90_interval": [203.84, 148.0, 279.0, 180.0],
            "repeaters": [5929, 310, 12, 0],
            "rc_days": [67.94, 45.0, 100.0, 60.0],
            "method": ["inductive", "usage", "usage", "usage"],
            "reason": ["enough_repeaters", "few_repeaters", "few_repeaters", "no_repeaters"],
        }
    )
    shown = rc_table(rc, "en").data
    assert shown["Inductive RC, 95% interval"].tolist() == ["65.4 – 70.8", "≥ 47.1", "–", "–"]
    html = rc_table(rc, "zh").to_html()
    assert "归纳法 RC 95% 区间" in html and "65.4 – 70.8" in html


def test_a_csv_download_rounds_numbers_as_its_table_shows_them() -> None:
    import base64
    import re

    from workbench.report.format import fixed, money, pct
    from workbench.report.theme import table

    frame = pd.DataFrame(
        {
            "net_amount": [232850.18999998964, 1234567.0],
            "rc_days": [49.333333333333336, 12.0],
            "share": [0.123456, 0.5],
        }
    )
    shown = table(
        frame, formats={"net_amount": money, "rc_days": fixed(1), "share": pct}, lang="en"
    )
    b64 = re.search(r"base64,([A-Za-z0-9+/=]+)", shown.csv_link()).group(1)
    rows = base64.b64decode(b64).decode("utf-8-sig").splitlines()
    # Money to the fen (the table shows ¥233K), days to one decimal, shares as 12.3%.
    assert rows[1:] == ["232850.19,49.3,0.123", "1234567.0,12.0,0.5"]


def test_the_member_tier_cross_table_downloads_numbers() -> None:
    """The table shows "3 (¥1.23K)" per cell; its CSV holds the count and the sales as
    numbers, one row per cell, so a spreadsheet can add them up."""
    import base64
    import io
    import re

    from workbench.report.labels import label
    from workbench.report.views.segment import member_cross_table

    cross = pd.DataFrame(
        {
            "tier_l1": ["active", "active", "lost"],
            "member_tier": ["VIP", "non_member", "non_member"],
            "persons": [3, 5, 2],
            "net_amount": [1234.5, 99.99, 20.0],
        }
    )
    shown = member_cross_table(cross, "en")
    page = shown.to_html()
    assert "3 (¥1.23K)" in page  # what the table shows
    b64 = re.search(r"base64,([A-Za-z0-9+/=]+)", shown.csv_link()).group(1)
    got = pd.read_csv(io.StringIO(base64.b64decode(b64).decode("utf-8-sig")))
    names = [label(c, "en") for c in ("tier_l1", "member_tier", "persons", "net_amount")]
    assert got.columns.tolist() == names
    assert got.dtypes.tolist()[2:] == ["int64", "float64"]
    # Active before lost; the member tiers in their order, non-members last.
    active, lost, none = (label(t, "en") for t in ("active", "lost", "non_member"))
    assert got.values.tolist() == [
        [active, "VIP", 3, 1234.5],
        [active, none, 5, 99.99],
        [lost, none, 2, 20.0],
    ]


def test_a_settings_table_lists_every_setting_in_order_with_worded_choices() -> None:
    from workbench.config import PlanSettings, specs
    from workbench.report.views.common import settings_table

    s = PlanSettings().updated({"estimator": "trend", "arms": ""})
    df = settings_table(
        s, "en", "plan_settings", worded={"estimator": "estimator_"}, shown={"promotion": "x"}
    ).data
    setting, value = df.columns
    assert list(df[setting]) == [label(k, "en") for k in specs(PlanSettings)]
    values = dict(zip(df[setting], df[value], strict=True))
    assert values[label("estimator", "en")] == label("estimator_trend", "en") != "estimator_trend"
    assert values[label("arms", "en")] == "–"
    assert values[label("promotion", "en")] == "x"
