"""The `workbench` command: help, examples, honest 'not built yet', exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app, parse_parameters

COMMANDS = ["config", "synth", "ingest", "run", "run-all", "demo", "bench"]
runner = CliRunner()


def test_help_lists_every_command() -> None:
    out = runner.invoke(app, ["--help"]).output
    for cmd in ["synth", "ingest", "run", "run-all", "demo", "bench"]:
        assert f"  {cmd} " in out, cmd


@pytest.mark.parametrize("cmd", COMMANDS)
def test_each_command_has_help_with_an_example(cmd: str) -> None:
    result = runner.invoke(app, [cmd, "--help"])
    assert result.exit_code == 0
    assert "Example: workbench " in result.output


@pytest.mark.parametrize("cmd", ["bench"])
def test_unbuilt_commands_say_so_and_fail(cmd: str) -> None:
    result = runner.invoke(app, [cmd])
    assert result.exit_code == 2
    assert "not built yet" in result.output


def test_parameters_are_read_as_yaml() -> None:
    assert parse_parameters(
        ["-p", "lang", "en", "-p", "link_threshold", "0.9", "-p", "tiers", "[a, b]"]
    ) == {
        "lang": "en",
        "link_threshold": 0.9,
        "tiers": ["a", "b"],
    }
    # Dates and empty values stay text: notebooks take ISO date strings.
    assert parse_parameters(["-p", "as_of", "2026-11-20", "-p", "marker", ""]) == {
        "as_of": "2026-11-20",
        "marker": "",
    }


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


@pytest.mark.slow
def test_run_exit_codes_follow_the_notebook(tmp_path: Path) -> None:
    fixtures = Path(__file__).parent / "fixtures"
    ok = _workbench(["run", str(fixtures / "marker.ipynb"), "-p", "marker", ""], tmp_path)
    assert ok.returncode == 0, ok.stderr
    bad = _workbench(["run", str(fixtures / "fail.ipynb")], tmp_path)
    assert bad.returncode == 1
    assert "planted failure" in bad.stderr
    runs = sorted(p.name for p in (tmp_path / "reports").glob("2*/*.html"))
    assert runs == ["fail.html", "marker.html"]  # the failed run's HTML is written too
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(
        f"- notebook: {fixtures / 'fail.ipynb'}\n- notebook: {fixtures / 'marker.ipynb'}\n",
        encoding="utf-8",
    )
    both = _workbench(["run-all", str(schedule)], tmp_path)
    assert both.returncode == 1
    assert "1 ok, 1 failed" in both.stdout
