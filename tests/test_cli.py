"""The `workbench` command: help, examples, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app, parse_parameters

COMMANDS = ["config", "synth", "ingest", "run", "run-all", "demo", "bench"]
runner = CliRunner()
REPO = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
UNIFY = REPO / "notebooks" / "01_unify.ipynb"


def test_help_lists_every_command() -> None:
    out = runner.invoke(app, ["--help"]).output
    for cmd in ["synth", "ingest", "run", "run-all", "demo", "bench"]:
        assert f"  {cmd} " in out, cmd


@pytest.mark.parametrize("cmd", COMMANDS)
def test_each_command_has_help_with_an_example(cmd: str) -> None:
    result = runner.invoke(app, [cmd, "--help"])
    assert result.exit_code == 0
    assert "Example: workbench " in result.output


def test_version_prints_and_exits_0() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == version("retail-workbench") + "\n"


def test_config_shows_every_setting_with_its_source() -> None:
    result = runner.invoke(app, ["config"], env={"WORKBENCH_TIMEZONE": "Europe/Berlin"})
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()}
    assert rows["timezone"][1:] == ["Europe/Berlin", "env", "WORKBENCH_TIMEZONE"]
    for key in ("root", "warehouse", "lang", "threads", "memory_limit", "link_threshold", "salt"):
        assert key in rows, key


def test_parameters_stay_text_until_the_notebook_says_their_type() -> None:
    assert parse_parameters(
        ["-p", "lang", "en", "-p", "link_threshold", "0.9", "-p", "as_of", "2026-11-20"]
    ) == {"lang": "en", "link_threshold": "0.9", "as_of": "2026-11-20"}
    assert parse_parameters(["-p", "marker", ""]) == {"marker": ""}


def test_bad_parameters_are_refused() -> None:
    import typer

    with pytest.raises(typer.BadParameter, match="NAME and a VALUE"):
        parse_parameters(["-p", "lang"])
    with pytest.raises(typer.BadParameter, match="unexpected argument"):
        parse_parameters(["--shwo-code"])


def test_synth_command_writes_raw_and_truth(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["synth", "--customers", "1000", "--seed", "3", "--out", str(tmp_path / "raw")]
    )
    assert result.exit_code == 0, result.output
    assert "1,000 persons" in result.output
    assert (tmp_path / "truth" / "summary.json").is_file()
    summary = json.loads((tmp_path / "truth" / "summary.json").read_text(encoding="utf-8"))
    assert summary["customers"] == 1000 and summary["seed"] == 3


def _workbench(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_ROOT": str(cwd)}
    env.pop("WORKBENCH_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_missing_notebook_is_one_line_and_exit_2(tmp_path: Path) -> None:
    r = _workbench(["run", "notebooks/nope.ipynb"], tmp_path)
    assert r.returncode == 2
    assert r.stderr == "error: notebook notebooks/nope.ipynb not found\n"
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("no_such", "1", "01_unify.ipynb has no parameter no_such; it takes: raw_dir, as_of"),
        ("link_threshold", "abc", "parameter link_threshold takes a probability"),
        ("as_of", "2026-02-30", "parameter as_of takes a calendar date YYYY-MM-DD"),
        ("lang", "fr", "parameter lang takes zh or en; got 'fr'"),
    ],
)
def test_a_parameter_mistake_stops_the_run_at_once(
    tmp_path: Path, name: str, value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One line and exit 2, and the notebook is never started: the parameters are
    checked before a kernel is."""
    r = _workbench(["run", str(UNIFY), "-p", name, value], tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and says in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.endswith("\n")
    assert r.stdout == ""
    assert not (tmp_path / "reports").exists()

    import papermill

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the notebook was started")

    monkeypatch.setattr(papermill, "execute_notebook", started)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", str(UNIFY), "-p", name, value])
    assert result.exit_code == 2 and says in result.output, result.output


def test_papermill_shows_the_parameter_types() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "papermill"), "--help-notebook", str(UNIFY)],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "as_of: Optional[str] (default None)" in out
    assert "link_threshold: Optional[float] (default None)" in out
    assert "Unknown type" not in out


@pytest.mark.slow
def test_run_exit_codes_follow_the_notebook(tmp_path: Path) -> None:
    ok = _workbench(["run", str(FIXTURES / "marker.ipynb"), "-p", "marker", ""], tmp_path)
    assert ok.returncode == 0, ok.stderr
    # Off a terminal: no progress bar, and no kernel warning about its transport.
    assert ok.stderr == ""
    bad = _workbench(["run", str(FIXTURES / "fail.ipynb")], tmp_path)
    assert bad.returncode == 1
    assert "planted failure" in bad.stderr
    runs = sorted(p.name for p in (tmp_path / "reports").glob("2*/*.html"))
    assert runs == ["fail.html", "marker.html"]  # the failed run's HTML is written too


@pytest.mark.slow
def test_what_the_kernel_writes_outside_cells_goes_to_its_log(tmp_path: Path) -> None:
    nb = str(FIXTURES / "kernel_stderr.ipynb")
    ok = _workbench(["run", nb], tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    # After a good run the kernel's stderr is dropped with its log.
    assert not list((tmp_path / "reports").glob("2*/kernel.log"))
    bad = _workbench(["run", nb, "-p", "fail", "True"], tmp_path)
    assert bad.returncode == 1
    assert "planted failure" in bad.stderr and "the kernel's own line" not in bad.stderr
    # After a failed one it is kept (shutdown noise may come with the line).
    (log,) = (tmp_path / "reports").glob("2*/kernel.log")
    assert "the kernel's own line\n" in log.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.mark.slow
def test_run_all_goes_on_past_a_missing_notebook(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(
        f"- notebook: {FIXTURES / 'fail.ipynb'}\n"
        "- notebook: notebooks/missing.ipynb\n"
        f"- notebook: {FIXTURES / 'marker.ipynb'}\n"
        "  parameters: {no_such: 1}\n"
        f"- notebook: {FIXTURES / 'marker.ipynb'}\n",
        encoding="utf-8",
    )
    r = _workbench(["run-all", str(schedule)], tmp_path)
    assert r.returncode == 1
    assert "1 ok, 3 failed" in r.stdout
    # One line for each entry that could not start, and nothing else on stderr.
    errors = r.stderr.splitlines()
    assert len(errors) == 2, r.stderr
    assert errors[0] == f"error: notebook {tmp_path / 'notebooks' / 'missing.ipynb'} not found"
    assert errors[1].startswith("error: marker.ipynb has no parameter no_such")
    assert [line.split()[0] for line in r.stdout.splitlines()[:2]] == ["failed", "ok"]
    # The two runs that started each left a report; the two that could not, nothing.
    runs = sorted(p.name for p in (tmp_path / "reports").glob("2*/*.html"))
    assert runs == ["fail.html", "marker.html"]


def test_segment_says_it_uses_the_duckdb_warehouse_when_the_engine_is_spark(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "WORKBENCH_ROOT": str(tmp_path), "WORKBENCH_ENGINE": "spark"}
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "segment"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # No warehouse yet: the command stops, after saying which engine it would have used.
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("note: `workbench segment` reads and writes the DuckDB warehouse")
    assert "engine = spark" in lines[0]
    assert "does not exist yet" in lines[1]
