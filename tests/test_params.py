"""Notebook parameters: declared typed, checked before a run, defaulted from settings and data."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import ibis
import pandas as pd
import pytest

from workbench.config import SegmentSettings, load_settings
from workbench.engine import duckdb_connect
from workbench.errors import ParameterError
from workbench.report.params import (
    check_parameters,
    check_value,
    declared_parameters,
    resolve_parameters,
)

UNIFY = Path(__file__).parents[1] / "notebooks" / "01_unify.ipynb"


def test_the_notebook_declares_typed_parameters() -> None:
    declared = declared_parameters(UNIFY)
    assert list(declared)[:4] == ["raw_dir", "as_of", "link_threshold", "lang"]
    assert declared["as_of"].type == "Optional[str]" and declared["as_of"].default is None
    assert declared["link_threshold"].base == "float" and declared["link_threshold"].nullable
    assert declared["new_lookback_days"].type == "int"
    assert declared["new_lookback_days"].default == 365
    assert all(d.help for d in declared.values())


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("as_of", "2024-02-29", "2024-02-29"),
        ("link_threshold", "0.95", 0.95),
        ("link_threshold", 0.5, 0.5),
        ("lang", "EN", "en"),
        ("new_lookback_days", "30", 30),
        ("as_of", None, None),
    ],
)
def test_values_are_read_by_what_the_parameter_takes(
    name: str, given: object, expected: object
) -> None:
    declared = declared_parameters(UNIFY)
    assert check_value(name, given, declared[name]) == expected


@pytest.mark.parametrize(
    ("name", "given", "says"),
    [
        (
            "as_of",
            "2026-02-30",
            "parameter as_of takes a calendar date YYYY-MM-DD; got '2026-02-30'",
        ),
        ("as_of", "20261120", "parameter as_of takes a calendar date"),
        (
            "link_threshold",
            "abc",
            "parameter link_threshold takes a probability strictly between 0 and 1",
        ),
        ("link_threshold", "1.5", "got '1.5'"),
        ("link_threshold", True, "got True"),
        ("lang", "fr", "parameter lang takes zh or en; got 'fr'"),
        ("new_lookback_days", "-1", "a whole number of days, 0 or more"),
        ("new_lookback_days", "2.5", "a whole number of days"),
    ],
)
def test_bad_values_are_refused_in_one_line(name: str, given: object, says: str) -> None:
    with pytest.raises(ParameterError) as err:
        check_parameters(UNIFY, {name: given})
    assert says in str(err.value)
    assert "\n" not in str(err.value)


def test_an_unknown_parameter_names_those_the_notebook_takes() -> None:
    with pytest.raises(
        ParameterError, match=r"01_unify\.ipynb has no parameter no_such; it takes: raw_dir, as_of"
    ):
        check_parameters(UNIFY, {"no_such": "1"})


def test_defaults_come_from_settings_and_data(tmp_path: Path) -> None:
    con = duckdb_connect(":memory:")
    orders = pd.DataFrame(
        {"ordered_at": pd.to_datetime(["2024-03-01 09:00", "2025-06-30 23:59", "2024-12-31 08:00"])}
    )
    con.create_table("orders", ibis.memtable(orders))
    settings = load_settings(
        root=tmp_path, env={"WORKBENCH_LANG": "en", "WORKBENCH_LINK_THRESHOLD": "0.99"}
    )
    values = {"raw_dir": "data/raw", "as_of": None, "link_threshold": None, "lang": None}
    r = resolve_parameters(values, settings, con)
    assert r.values == {
        "raw_dir": "data/raw",
        "as_of": "2025-06-30",
        "link_threshold": 0.99,
        "lang": "en",
    }
    assert r.sources["as_of"] == "last order date"
    assert r.sources["lang"] == "setting (env WORKBENCH_LANG)"
    assert r.sources["raw_dir"] == "notebook"
    assert r.data_range == ("2024-03-01", "2025-06-30")
    given = resolve_parameters(
        {**values, "as_of": "2024-12-31", "lang": "zh"}, settings, con, {"as_of", "lang"}
    )
    assert (given.values["as_of"], given.values["lang"]) == ("2024-12-31", "zh")
    assert given.sources["as_of"] == given.sources["lang"] == "given"
    # Without a warehouse there is no last order date: as_of stays unset.
    assert resolve_parameters({"as_of": None}, settings, None).values == {"as_of": None}
    # A review of an experiment file reads no orders: the warehouse's span is not shown.
    table = {"experiment_file": "hillstrom.csv", "lang": None}
    assert resolve_parameters(table, settings, con).data_range is None
    assert resolve_parameters({**table, "experiment_file": None}, settings, con).data_range


def test_segment_bounds_default_to_the_settings_and_are_checked_together(tmp_path: Path) -> None:
    settings = load_settings(root=tmp_path, env={"WORKBENCH_SEGMENT_LOST_RC": "3.5"})
    r = resolve_parameters({"active_rc": None, "lost_rc": None, "rc_method": "usage"}, settings)
    assert r.values == {"active_rc": 2.0, "lost_rc": 3.5, "rc_method": "usage"}
    assert r.sources["lost_rc"] == "setting (env WORKBENCH_SEGMENT_LOST_RC)"
    with pytest.raises(ParameterError, match="active_rc <= light_sleep_rc"):
        resolve_parameters({"active_rc": 2.8, "lost_rc": None}, settings)
    assert check_value("rc_method", "Inductive") == "inductive"
    with pytest.raises(ParameterError, match="usage, inductive or auto"):
        check_value("rc_method", "both")


def test_a_job_settings_parameter_takes_the_rule_its_declaration_gives() -> None:
    assert check_value("rc_quantile", "0.95") == 0.95
    assert check_value("rfm_reference", "Median") == "median"
    assert check_value("alert_min_persons", "30") == 30
    with pytest.raises(ParameterError, match="alert_min_persons takes a whole number at least 1"):
        check_value("alert_min_persons", "0")
    with pytest.raises(ParameterError, match="lost_rc takes a number above 0 and at most 20"):
        check_value("lost_rc", "25")


def test_a_report_records_the_settings_of_its_job_and_they_key_its_latest_copy(
    tmp_path: Path,
) -> None:
    """The RFM reference is not a parameter of 02, yet it changes the report: it is in
    the run's settings, and two runs that differ only in it keep apart in latest/."""
    from workbench.report.runner import params_key, prepare_parameters

    notebook = Path(__file__).parents[1] / "notebooks" / "02_segment.ipynb"
    plain = load_settings(root=tmp_path, env={})
    median = load_settings(root=tmp_path, env={"WORKBENCH_SEGMENT_RFM_REFERENCE": "median"})
    a = prepare_parameters(notebook, {"active_rc": "2.2"}, plain)
    b = prepare_parameters(notebook, {"active_rc": "2.2"}, median)
    assert a.settings["segment.rfm_reference"] == "mean"
    assert b.settings["segment.rfm_reference"] == "median"
    assert b.setting_sources["segment.rfm_reference"] == (
        "setting (env WORKBENCH_SEGMENT_RFM_REFERENCE)"
    )
    # A parameter overrides its setting, and says so.
    assert a.settings["segment.active_rc"] == 2.2
    assert a.setting_sources["segment.active_rc"] == "given"
    assert len(a.settings) == len(fields(SegmentSettings))
    assert params_key(notebook, a.values, plain, a.settings) != params_key(
        notebook, b.values, median, b.settings
    )
    unify = Path(__file__).parents[1] / "notebooks" / "01_unify.ipynb"
    assert prepare_parameters(unify, {}, plain).settings == {}
