from pathlib import Path

import pytest

from workbench.config import DEV_SALT, load_settings


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
