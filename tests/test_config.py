"""Settings: precedence, validation, the project root, and what the kernel is handed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from workbench.config import _KEYS, DEV_SALT, JOB_SETTINGS, find_root, job_keys, load_settings


def test_defaults_are_under_the_root(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, env={})
    assert s.data_dir == tmp_path / "data"
    assert s.warehouse == tmp_path / "data" / "warehouse.duckdb"
    assert s.reports_dir == tmp_path / "reports"
    assert s.raw_dir == tmp_path / "data" / "raw"
    assert s.truth_dir == tmp_path / "data" / "truth"
    assert (s.engine, s.lang, s.salt) == ("duckdb", "zh", DEV_SALT)
    assert s.uses_dev_salt
    assert s.source == {}


def test_toml_then_env_precedence(tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text(
        '[workbench]\nengine = "spark"\nlang = "en"\nsalt = "from-file"\ndata_dir = "store"\nthreads = 3\n',
        encoding="utf-8",
    )
    s = load_settings(root=tmp_path, env={"WORKBENCH_SALT": "from-env"})
    assert s.engine == "spark"
    assert s.lang == "en"
    assert s.threads == 3
    assert s.salt == "from-env"
    assert s.source["salt"] == "env WORKBENCH_SALT"
    assert s.source["engine"] == str(tmp_path / "workbench.toml")
    # data_dir moves the default warehouse with it
    assert s.warehouse == tmp_path / "store" / "warehouse.duckdb"


def test_env_engine_and_absolute_paths(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "wh.duckdb"
    s = load_settings(
        root=tmp_path, env={"WORKBENCH_ENGINE": "SPARK", "WORKBENCH_WAREHOUSE": str(other)}
    )
    assert s.engine == "spark"
    assert s.warehouse == other


def test_memory_warehouse_is_not_a_path(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, env={"WORKBENCH_WAREHOUSE": ":memory:"})
    assert str(s.warehouse) == ":memory:"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKBENCH_ENGINE": "postgres"}, "engine 'postgres'"),
        ({"WORKBENCH_LANG": "fr"}, "lang 'fr'"),
        ({"WORKBENCH_THREADS": "many"}, "threads 'many'"),
        ({"WORKBENCH_TIMEZONE": "Mars/Olympus"}, "timezone 'Mars/Olympus'"),
        ({"WORKBENCH_TIMEZONE": "Asia"}, "timezone 'Asia'"),
        ({"WORKBENCH_TIMEZONE": "../etc/passwd"}, r"timezone '\.\./etc/passwd'"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(root=tmp_path, env=env)


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text("[workbench]\nengin = 'duckdb'\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown setting.*engin"):
        load_settings(root=tmp_path, env={})


def test_missing_config_file_named_by_env(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_settings(root=tmp_path, env={"WORKBENCH_CONFIG": str(tmp_path / "nope.toml")})


def test_with_resolves_relative_paths(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, env={}).with_(reports_dir="out", lang="en")
    assert s.reports_dir == tmp_path / "out"
    assert s.lang == "en"


def test_time_zone_defaults_to_shanghai_and_can_be_set(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, env={})
    assert s.timezone == "Asia/Shanghai"
    # Shanghai keeps UTC+8 all year.
    assert datetime(2026, 7, 1, tzinfo=s.tzinfo).utcoffset().total_seconds() == 8 * 3600
    (tmp_path / "workbench.toml").write_text('timezone = "Europe/Berlin"\n', encoding="utf-8")
    assert load_settings(root=tmp_path, env={}).timezone == "Europe/Berlin"
    s = load_settings(root=tmp_path, env={"WORKBENCH_TIMEZONE": "UTC"})
    assert (s.timezone, s.source["timezone"]) == ("UTC", "env WORKBENCH_TIMEZONE")


def test_a_bad_time_zone_in_the_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text('timezone = "Beijing"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"timezone 'Beijing' \(.*workbench\.toml\)"):
        load_settings(root=tmp_path, env={})


def _project(tmp_path: Path, marker: str = "pyproject.toml") -> Path:
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / marker).write_text("", encoding="utf-8")
    return root


def test_root_is_the_project_seen_from_its_notebooks_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path)
    monkeypatch.chdir(root / "notebooks")
    s = load_settings(env={})
    assert s.root == root.resolve()
    assert s.warehouse == root.resolve() / "data" / "warehouse.duckdb"
    assert s.reports_dir == root.resolve() / "reports"


def test_workbench_toml_marks_the_root_before_a_nearer_pyproject(tmp_path: Path) -> None:
    root = _project(tmp_path, "workbench.toml")
    inner = root / "tools" / "sub"
    inner.mkdir(parents=True)
    (root / "tools" / "pyproject.toml").write_text("", encoding="utf-8")
    assert find_root(inner) == root.resolve()
    assert find_root(root / "notebooks") == root.resolve()


def test_root_from_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(root / "notebooks")
    assert load_settings(env={"WORKBENCH_ROOT": str(elsewhere)}).root == elsewhere.resolve()


def test_without_a_marker_the_root_is_the_current_directory(tmp_path: Path) -> None:
    here = tmp_path.resolve()
    if any((d / m).exists() for d in here.parents for m in ("workbench.toml", "pyproject.toml")):
        pytest.skip("a folder above the temporary directory holds a project marker")
    assert find_root(here) == here


def test_reading_settings_and_a_missing_warehouse_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.engine import connect, open_duckdb
    from workbench.unify import warehouse_status

    root = _project(tmp_path)
    monkeypatch.chdir(root / "notebooks")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    s = load_settings(env={})
    assert warehouse_status(s) == "missing"
    with pytest.raises(FileNotFoundError, match="does not exist yet"):
        connect(s, read_only=True)
    with pytest.raises(FileNotFoundError, match="does not exist yet"):
        open_duckdb(s.warehouse, s, read_only=True)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_every_setting_goes_to_the_environment_and_comes_back(tmp_path: Path) -> None:
    env = {
        "WORKBENCH_DATA_DIR": "store",
        "WORKBENCH_WAREHOUSE": str(tmp_path / "w" / "wh.duckdb"),
        "WORKBENCH_REPORTS_DIR": "out",
        "WORKBENCH_ENGINE": "spark",
        "WORKBENCH_SPARK_MASTER": "local[3]",
        "WORKBENCH_SALT": "pepper",
        "WORKBENCH_LANG": "en",
        "WORKBENCH_THREADS": "3",
        "WORKBENCH_MEMORY_LIMIT": "1GB",
        "WORKBENCH_LINK_THRESHOLD": "0.85",
        "WORKBENCH_TIMEZONE": "Europe/Berlin",
    }
    assert set(env) == set(_KEYS.values())  # the test covers every setting there is
    s = load_settings(root=tmp_path, env=env)
    out = s.to_env()
    jobs = {var for job in JOB_SETTINGS for var in job_keys(job).values()}
    assert set(out) == {"WORKBENCH_ROOT", *_KEYS.values(), *jobs}
    assert out["WORKBENCH_ROOT"] == str(tmp_path.resolve())
    assert out["WORKBENCH_DATA_DIR"] == str(tmp_path.resolve() / "store")
    assert out["WORKBENCH_THREADS"] == "3" and out["WORKBENCH_LINK_THRESHOLD"] == "0.85"
    again = load_settings(env={k: v for k, v in out.items() if v is not None})
    assert again == s


def test_segment_bounds_come_from_env_or_file_and_are_checked(tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text(
        '[workbench.segment]\nactive_rc = 2.2\nrc_method = "usage"\n', encoding="utf-8"
    )
    s = load_settings(root=tmp_path, env={"WORKBENCH_SEGMENT_LOST_RC": "4"})
    assert (s.segment.active_rc, s.segment.rc_method, s.segment.lost_rc) == (2.2, "usage", 4.0)
    assert s.segment.awake_rc == 1.0  # untouched: the seed's default
    assert s.source["segment.lost_rc"] == "env WORKBENCH_SEGMENT_LOST_RC"
    again = load_settings(env={k: v for k, v in s.to_env().items() if v is not None})
    assert again.segment == s.segment
    with pytest.raises(ValueError, match="active_rc <= light_sleep_rc"):
        load_settings(root=tmp_path, env={"WORKBENCH_SEGMENT_ACTIVE_RC": "2.6"})
    with pytest.raises(ValueError, match="rc_method 'both'"):
        load_settings(root=tmp_path, env={"WORKBENCH_SEGMENT_RC_METHOD": "both"})
    with pytest.raises(ValueError, match="is not a number"):
        load_settings(root=tmp_path, env={"WORKBENCH_SEGMENT_AWAKE_RC": "one"})
    (tmp_path / "workbench.toml").write_text("[workbench.segment]\nactive = 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown segment setting"):
        load_settings(root=tmp_path, env={})


def test_settings_left_to_the_backend_go_as_none(tmp_path: Path) -> None:
    out = load_settings(root=tmp_path, env={}).to_env()
    assert out["WORKBENCH_THREADS"] is None and out["WORKBENCH_MEMORY_LIMIT"] is None
    assert out["WORKBENCH_TIMEZONE"] == "Asia/Shanghai"
    assert out["WORKBENCH_SALT"] == DEV_SALT


def test_the_example_file_loads_and_names_every_setting(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "workbench.toml.example"
    text = example.read_text(encoding="utf-8")
    (tmp_path / "workbench.toml").write_text(text, encoding="utf-8")
    s = load_settings(root=tmp_path, env={})
    assert (s.timezone, s.salt, s.engine) == ("Asia/Shanghai", "change-me", "duckdb")
    for key in _KEYS:
        assert f"{key} = " in text, key


def test_the_example_file_is_the_settings_declaration(tmp_path: Path) -> None:
    """Every job setting appears in workbench.toml.example with its declared default and
    range, so a setting is added in one place: its declaration."""
    from workbench.config import SegmentSettings, example_toml, specs

    example = Path(__file__).parents[1] / "workbench.toml.example"
    assert example.read_text(encoding="utf-8") == example_toml()
    text = example_toml()
    for name, spec in specs(SegmentSettings).items():
        assert f"\n{name} = " in text and spec.accepts in text, name
    assert "\nactive_rc = 2.0\n" in text and "a number above 0 and at most 20" in text


def test_a_declared_setting_is_read_and_refused_by_its_declaration(tmp_path: Path) -> None:
    env = {"WORKBENCH_SEGMENT_ALERT_MIN_PERSONS": "50", "WORKBENCH_SEGMENT_RC_QUANTILE": "0.8"}
    s = load_settings(root=tmp_path, env=env)
    assert (s.segment.alert_min_persons, s.segment.rc_quantile) == (50, 0.8)
    for var, bad, says in (
        ("WORKBENCH_SEGMENT_RC_QUANTILE", "1.0", "a number above 0 and below 1"),
        ("WORKBENCH_SEGMENT_COMPARE_DAYS", "0", "a whole number at least 1"),
        ("WORKBENCH_SEGMENT_ALERT_MIN_PERSONS", "2.5", "a whole number at least 1"),
        ("WORKBENCH_SEGMENT_RFM_BASIS", "both", "score or raw"),
    ):
        with pytest.raises(ValueError, match=f"{var.split('_SEGMENT_')[1].lower()} .*{says}"):
            load_settings(root=tmp_path, env={var: bad})


def test_plan_settings_come_from_env_or_file_and_are_checked(tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text(
        '[workbench.plan]\nestimator = "trend"\narms = "A,B"\n', encoding="utf-8"
    )
    s = load_settings(root=tmp_path, env={"WORKBENCH_PLAN_HOLDOUT_SHARE": "0.2"})
    assert (s.plan.estimator, s.plan.arm_names, s.plan.holdout_share) == ("trend", ("A", "B"), 0.2)
    assert s.source["plan.holdout_share"] == "env WORKBENCH_PLAN_HOLDOUT_SHARE"
    with pytest.raises(ValueError, match=r"plan holdout_share '0\.7'"):
        load_settings(root=tmp_path, env={"WORKBENCH_PLAN_HOLDOUT_SHARE": "0.7"})
    (tmp_path / "workbench.toml").write_text('[workbench.plan]\narms = "A,control"\n', "utf-8")
    with pytest.raises(ValueError, match="distinct and not 'control'"):
        load_settings(root=tmp_path, env={})
