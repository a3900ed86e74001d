"""Jobs return tables and never depend on the report layer; only evaluation reads the truth."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "workbench"
JOBS = ("unify", "sources", "segment", "plan", "review")
REPORT_LIBRARIES = {"altair", "IPython", "papermill", "nbconvert", "nbformat", "ipywidgets"}


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def job_modules() -> list[Path]:
    return sorted(p for job in JOBS for p in (PACKAGE / job).rglob("*.py"))


@pytest.mark.parametrize("path", job_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_job_module_imports_the_report_layer(path: Path) -> None:
    for name in imported(path):
        top = name.split(".")[0]
        assert top not in REPORT_LIBRARIES, f"{path.name} imports {name}"
        assert not name.startswith("workbench.report"), f"{path.name} imports {name}"


@pytest.mark.parametrize("path", job_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_job_module_reads_the_truth(path: Path) -> None:
    assert "truth" not in path.read_text(encoding="utf-8"), path


def test_importing_the_jobs_loads_no_report_library() -> None:
    code = (
        "import sys, workbench.unify.identity, workbench.unify.channels, "
        "workbench.unify.quality, workbench.unify.resolution, workbench.unify.ingest; "
        f"print(sorted(m for m in {sorted(REPORT_LIBRARIES)!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
