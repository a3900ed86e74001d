"""The analyst notebooks: thin, committed without outputs, and they run end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench.config import Settings
from workbench.report import run_notebook
from workbench.synth import SynthResult
from workbench.unify import ingest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS][:1] == ["01_unify.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_first_then_a_title(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    first, second = nb["cells"][0], nb["cells"][1]
    assert first["cell_type"] == "code" and "parameters" in first["metadata"].get("tags", [])
    for line in "".join(first["source"]).splitlines():
        assert "#" in line, f"{path.name}: parameter without a comment: {line}"
    assert second["cell_type"] == "markdown" and "".join(second["source"]).startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_stay_thin(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"][1:]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        assert "def " not in src and "for " not in src and "class " not in src, src
        assert len([x for x in src.splitlines() if x.strip()]) <= 6, src


@pytest.mark.slow
def test_unify_notebook_runs_on_synthetic_data(project: Settings, small_synth: SynthResult) -> None:
    ingest(small_synth.raw_dir, project, progress=False)
    nb = Path(__file__).parents[1] / "notebooks" / "01_unify.ipynb"
    params = {
        "raw_dir": str(small_synth.raw_dir),
        "lang": "en",
        "truth_dir": str(small_synth.truth_dir),
    }
    r = run_notebook(nb, params, project, progress=False)
    assert r.ok, r.error
    page = r.html.read_text(encoding="utf-8")
    assert "What arrived" in page and "wb-chart-1" in page
    for section in ("How the channels overlap", "Which channels bring new customers"):
        assert section in page
    assert "Evidence ceiling" in page and "Planted share (synthetic)" in page
    # No phone number (eleven digits from 1, not inside a hash) in any output or on the page
    # (chart specs included), leaving out the inlined Vega library.
    phone = re.compile(r"(?<![0-9a-fA-F])1\d{10}(?![0-9a-fA-F])")
    executed = json.loads(r.html.with_suffix(".ipynb").read_text(encoding="utf-8"))
    outputs = json.dumps([c.get("outputs", []) for c in executed["cells"]], ensure_ascii=False)
    assert not phone.search(outputs)
    specs = re.findall(r'<script[^>]*"application/json"[^>]*>.*?</script>', page, flags=re.S)
    assert specs
    own = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S) + "".join(specs)
    assert not phone.search(own), phone.search(own)
    assert "Douyin" in page and "Tmall" in page
    assert "test order (paid 0.01)" in page and "cancelled order" in page
    # The header's fingerprint counts the warehouse tables the report read.
    meta = json.loads((r.out_dir / "parameters.json").read_text(encoding="utf-8"))
    assert meta["fingerprint"]["tables"]["orders"] > 0
