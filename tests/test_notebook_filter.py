"""Notebooks reach git without outputs: `make venv` sets up the filter .gitattributes names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
NOTEBOOK = "notebooks/02_segment.ipynb"


def _project_copy(root: Path) -> None:
    """The files `make venv` reads, with the project's environment linked in.

    The lock and pyproject.toml are dated older than the environment's stamp, so
    make finds the environment up to date and runs only the venv target's own step.
    """
    root.mkdir()
    for name in ("Makefile", ".gitattributes", "requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
        os.utime(root / name, (0, 0))
    (root / ".venv").symlink_to(REPO / ".venv")
    (root / "notebooks").mkdir()
    shutil.copy(REPO / NOTEBOOK, root / NOTEBOOK)


def _run(args: list[str], cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_CEILING_DIRECTORIES": str(cwd.parent),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "analyst",
        "GIT_AUTHOR_EMAIL": "analyst@example.com",
        "GIT_COMMITTER_NAME": "analyst",
        "GIT_COMMITTER_EMAIL": "analyst@example.com",
    }
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (REPO / ".venv" / "bin" / "nbstripout").exists() or shutil.which("make") is None:
        pytest.skip("needs make and the project's .venv with the dev extra")
    root = tmp_path_factory.mktemp("repo") / "project"
    _project_copy(root)
    _run(["git", "init", "-q"], root)
    _run(["make", "venv"], root)
    return root


def test_make_venv_installs_the_filter_the_attributes_name(clone: Path) -> None:
    assert _run(["git", "check-attr", "filter", "diff", "--", NOTEBOOK], clone).splitlines() == [
        f"{NOTEBOOK}: filter: nbstripout",
        f"{NOTEBOOK}: diff: ipynb",
    ]
    assert _run(["git", "config", "filter.nbstripout.required"], clone).strip() == "true"


def test_a_notebook_saved_with_outputs_is_committed_without_them(clone: Path) -> None:
    path = clone / NOTEBOOK
    clean = path.read_bytes()
    nb = json.loads(clean)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(code, start=1):  # what Lab's autosave writes after Run All
        cell["execution_count"] = i
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["8,245 persons\n"]}]
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    _run(["git", "add", "."], clone)
    _run(["git", "commit", "-q", "-m", "notebook after a Lab session"], clone)
    blob = _run(["git", "show", f"HEAD:{NOTEBOOK}"], clone)
    committed = json.loads(blob)
    kept = [c for c in committed["cells"] if c["cell_type"] == "code"]
    assert len(kept) == len(code)
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in kept)
    assert "widgets" not in committed["metadata"]
    # Cell ids are kept: the blob is the repository's own output-free notebook, byte for byte.
    assert blob.encode("utf-8") == clean
    # The outputs stay in the file on disk, and git does not count that as a change.
    assert "8,245 persons" in path.read_text(encoding="utf-8")
    assert _run(["git", "status", "--porcelain", "--", NOTEBOOK], clone) == ""


def test_make_venv_outside_a_git_work_tree_sets_nothing_up(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project_copy(root)
    _run(["make", "venv"], root)
    assert not (root / ".git").exists()


def test_a_notebook_saved_by_lab_is_committed_unchanged(clone: Path) -> None:
    """JupyterLab rewrites the notebook's metadata on save: the kernelspec of the kernel it
    ran (the project's python3 kernel) and the kernel's language_info, Python version
    included. The filter drops language_info, and the committed kernelspec is the one the
    project's kernel writes, so the commit carries nothing of the session."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    path = clone / NOTEBOOK
    clean = (REPO / NOTEBOOK).read_bytes()
    spec = KernelSpecManager().get_kernel_spec("python3")
    nb = json.loads(clean)
    nb["metadata"] = {  # what Lab 4 writes after a kernel has started
        "kernelspec": {
            "display_name": spec.display_name,
            "language": spec.language,
            "name": "python3",
        },
        "language_info": dict(IPythonKernel.language_info, version="3.11.99"),
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
    }
    assert nb["metadata"]["language_info"]["pygments_lexer"] == "ipython3"
    path.write_text(json.dumps(nb, indent=2, ensure_ascii=False), encoding="utf-8")

    _run(["git", "add", "."], clone)
    _run(["git", "commit", "-q", "--allow-empty", "-m", "notebook saved in Lab"], clone)
    assert _run(["git", "show", f"HEAD:{NOTEBOOK}"], clone).encode("utf-8") == clean
    assert _run(["git", "status", "--porcelain", "--", NOTEBOOK], clone) == ""
    assert _run(["git", "diff", "HEAD~1", "--stat"], clone) == ""
