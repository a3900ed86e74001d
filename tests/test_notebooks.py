"""The analyst notebooks: thin, committed without outputs, and they run end to end."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import papermill
import pytest

from workbench.config import Settings, load_settings
from workbench.report import run_notebook
from workbench.report.html import report_title
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_narrative_comes_in_both_languages(path: Path) -> None:
    """Each markdown cell is a Chinese cell followed by its English twin, heading for heading."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    md = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    tags = [tuple(c["metadata"].get("tags", [])) for c in md]
    assert tags == [("lang-zh",), ("lang-en",)] * (len(md) // 2), tags
    for zh, en in zip(md[::2], md[1::2], strict=True):
        zh_text, en_text = "".join(zh["source"]), "".join(en["source"])
        levels = [re.findall(r"^(#+) ", t, flags=re.M) for t in (zh_text, en_text)]
        assert levels[0] == levels[1], (zh_text[:40], en_text[:40])
        assert re.search(r"[\u4e00-\u9fff]", zh_text) and not re.search(r"[\u4e00-\u9fff]", en_text)


CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff01-\uff5e]")
ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?:[ ,'-]+[A-Za-z]{2,}){2,}")
PHONE = re.compile(r"(?<![0-9a-fA-F])1\d{10}(?![0-9a-fA-F])")


def chart_specs(page: str) -> list[str]:
    return re.findall(r"<script[^>]*application/json[^>]*>(.*?)</script>", page, flags=re.S)


def words_of(page: str) -> str:
    """What a reader sees as the report's own words: headings, prose, labels, header,
    table of contents, with data cells, code and scripts left out."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    # Table data cells: values from the exports (their own column names, file names),
    # and text from the data in a headline (a CRM's benefit names).
    body = re.sub(r'<td[^>]*class="data[^"]*"[^>]*>.*?</td>', " ", body, flags=re.S)
    body = re.sub(r'<span class="data">.*?</span>', " ", body, flags=re.S)
    body = re.sub(r"<code[^>]*>.*?</code>", " ", body, flags=re.S)
    body = re.sub(r'<div class="jp-InputArea.*?</div>\s*</div>\s*</div>', " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.fixture(scope="module")
def unify_project(tmp_path_factory: pytest.TempPathFactory, small_synth: SynthResult) -> Settings:
    """A project as `make demo` leaves it: workbench.toml at the root, the exports and
    truth under data/, an ingested warehouse, the notebooks under notebooks/."""
    root = tmp_path_factory.mktemp("project")
    (root / "workbench.toml").write_text("[workbench]\n", encoding="utf-8")
    (root / "data").mkdir()
    (root / "data" / "raw").symlink_to(small_synth.raw_dir, target_is_directory=True)
    (root / "data" / "truth").symlink_to(small_synth.truth_dir, target_is_directory=True)
    (root / "notebooks").mkdir()
    for nb in NOTEBOOKS:
        shutil.copy(nb, root / "notebooks" / nb.name)
    settings = load_settings(root=root, env={})
    ingest(settings.raw_dir, settings, progress=False)
    return settings


@pytest.fixture(scope="module")
def reports(unify_project: Settings) -> dict[tuple[str, str], Path]:
    """Every notebook rendered in Chinese and in English by the runner."""
    pages = {}
    for path in NOTEBOOKS:
        for lang in ("zh", "en"):
            nb = unify_project.root / "notebooks" / path.name
            r = run_notebook(nb, {"lang": lang}, unify_project, progress=False)
            assert r.ok, r.error
            pages[(path.stem, lang)] = r.html
    return pages


@pytest.fixture(scope="module")
def unify_reports(reports: dict[tuple[str, str], Path]) -> dict[str, Path]:
    return {lang: reports[("01_unify", lang)] for lang in ("zh", "en")}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_report_is_in_one_language(path: Path, reports: dict[tuple[str, str], Path]) -> None:
    """No Chinese word in an English report, no English sentence in a Chinese one: in
    headings, prose, labels, header, contents and charts (data cells aside)."""
    en = reports[(path.stem, "en")].read_text(encoding="utf-8")
    assert '<html lang="en">' in en
    assert f"<title>{html.escape(report_title(path, 'en'))}</title>" in en
    assert not CJK.search(words_of(en)), CJK.findall(words_of(en))[:20]
    for spec in chart_specs(en):
        assert not CJK.search(spec), CJK.findall(spec)[:20]
    zh = reports[(path.stem, "zh")].read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in zh
    assert f"<title>{html.escape(report_title(path, 'zh'))}</title>" in zh
    assert not ENGLISH_RUN.search(words_of(zh)), ENGLISH_RUN.findall(words_of(zh))[:20]
    for spec in chart_specs(zh):
        titles = re.findall(r'"(?:title|text|subtitle)":\s*"([^"]*)"', spec)
        assert titles and all(not ENGLISH_RUN.search(t) for t in titles), titles
    assert "wb-strip" in zh and "wb-strip" in en


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_from_the_notebooks_folder_as_in_jupyterlab(
    path: Path, unify_project: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `make lab` runs it: the kernel starts in notebooks/, with no WORKBENCH_* set
    and every parameter left at its default; settings are found from the project root."""
    for var in [v for v in os.environ if v.startswith("WORKBENCH_")]:
        monkeypatch.delenv(var)
    folder = unify_project.root / "notebooks"
    out = folder / f"{path.stem}.out.ipynb"
    papermill.execute_notebook(
        str(folder / path.name),
        str(out),
        cwd=str(folder),
        progress_bar=False,
        kernel_name="python3",
    )
    executed = json.loads(out.read_text(encoding="utf-8"))
    shown = json.dumps([c.get("outputs", []) for c in executed["cells"]], ensure_ascii=False)
    assert "wb-strip" in shown  # the summary strip rendered
    assert not (folder / "data").exists()  # nothing created beside the notebook
    out.unlink()


@pytest.mark.slow
def test_english_report_has_no_chinese_words(unify_reports: dict[str, Path]) -> None:
    page = unify_reports["en"].read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    assert "<title>01 Unify: one view of every customer across channels</title>" in page
    words = words_of(page)
    assert not CJK.search(words), CJK.findall(words)[:20]
    for spec in chart_specs(page):  # titles, axes, legends, tooltips and the data they show
        assert not CJK.search(spec), CJK.findall(spec)[:20]
    for section in ("What arrived", "How the channels overlap", "Accuracy against the truth"):
        assert f">{section}<" in page
    assert "Evidence ceiling" in page and "Planted share (synthetic)" in page
    assert "test order (paid 0.01)" in page and "cancelled order" in page
    assert "Save as PNG" in page


@pytest.mark.slow
def test_chinese_report_has_no_english_sentences(unify_reports: dict[str, Path]) -> None:
    page = unify_reports["zh"].read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    assert "<title>01 数据整合：跨渠道的统一客户视图</title>" in page
    words = words_of(page)
    assert not ENGLISH_RUN.search(words), ENGLISH_RUN.findall(words)[:20]
    for spec in chart_specs(page):
        titles = re.findall(r'"(?:title|text|subtitle)":\s*"([^"]*)"', spec)
        assert titles and all(not ENGLISH_RUN.search(t) for t in titles), titles
    for section in ("收到了什么", "渠道重叠", "与真值对比的准确率"):
        assert f">{section}<" in page
    assert "测试订单（实付 0.01）" in page and "已取消订单" in page
    assert "证据上限" in page and "保存为 PNG" in page
    assert "￥" in page and "万" in page  # money in yuan, large figures in 万


@pytest.mark.slow
def test_reports_show_no_phone_number(unify_reports: dict[str, Path]) -> None:
    for path in unify_reports.values():
        page = path.read_text(encoding="utf-8")
        # Eleven digits from 1, not inside a hash, anywhere in an output or on the page
        # (chart specs included), leaving out the inlined Vega library.
        executed = json.loads(path.with_suffix(".ipynb").read_text(encoding="utf-8"))
        outputs = json.dumps([c.get("outputs", []) for c in executed["cells"]], ensure_ascii=False)
        assert not PHONE.search(outputs)
        own = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
        own += "".join(chart_specs(page))
        assert chart_specs(page)
        assert not PHONE.search(own), PHONE.search(own)


@pytest.mark.slow
def test_report_header_shows_every_effective_parameter(unify_reports: dict[str, Path]) -> None:
    meta = json.loads((unify_reports["en"].parent / "parameters.json").read_text("utf-8"))
    assert meta["fingerprint"]["tables"]["orders"] > 0
    page = unify_reports["en"].read_text(encoding="utf-8")
    header = page[page.index('<section class="wb-header">') :]
    header = header[: header.index("</section>")]
    for name in ("As of", "Link threshold", "Language", "Data date range"):
        assert f"<td>{name}</td>" in header, name


@pytest.mark.slow
def test_the_notebook_the_cli_and_the_job_store_the_same_rows(
    unify_project: Settings, reports: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    """02_segment stores its as-of snapshot; `workbench segment` and the job's own
    run and write, each on a copy of the same warehouse, store the same rows."""
    from typer.testing import CliRunner

    from workbench import segment
    from workbench.cli import app
    from workbench.engine import connect
    from workbench.report.params import as_date, order_dates

    by_notebook = connect(unify_project, read_only=True)
    as_of = as_date(order_dates(by_notebook)[1])
    key = ["person_id"]
    notebook_rows = segment.stored(by_notebook, as_of).to_pandas().sort_values(key)
    by_notebook.disconnect()
    assert notebook_rows["propensity_7d"].notna().sum() > 0
    assert notebook_rows["cluster"].notna().sum() > 0
    buyers = notebook_rows["purchases"] > 0
    assert notebook_rows.loc[buyers, "cluster"].notna().all()
    assert notebook_rows.loc[~buyers, ["propensity_7d", "cluster"]].isna().all().all()

    rows = {}
    for way in ("cli", "job"):
        copy = unify_project.with_(warehouse=tmp_path / f"{way}.duckdb")
        shutil.copy(unify_project.warehouse, copy.warehouse)
        con = connect(copy)
        con.drop_table("segments")
        if way == "job":
            segment.write(con, segment.run(con, as_of, copy.segment, copy.link_threshold))
            con.disconnect()
        else:
            con.disconnect()
            env = {k: v for k, v in copy.to_env().items() if v is not None}
            out = CliRunner().invoke(app, ["segment", "--as-of", as_of.isoformat()], env=env)
            assert out.exit_code == 0, out.output
        reader = connect(copy, read_only=True)
        rows[way] = segment.stored(reader, as_of).to_pandas().sort_values(key)
        reader.disconnect()
    for way, got in rows.items():
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True), notebook_rows.reset_index(drop=True), obj=way
        )


CSV_LINK = re.compile(r'href="data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]+)"')
LONG_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d{5,}(?![\w.])")


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_download_or_chart_carries_float_noise(
    reports: dict[tuple[str, str], Path], lang: str
) -> None:
    """Money reaches a chart to the fen, and a CSV download rounds every number as its
    table shows it: no 232850.18999998964 and no 49.333333333333336."""
    import base64

    for path in NOTEBOOKS:
        page = reports[(path.stem, lang)].read_text(encoding="utf-8")
        downloads = [base64.b64decode(b).decode("utf-8-sig") for b in CSV_LINK.findall(page)]
        assert downloads, path.name
        for text in downloads:
            assert not LONG_DECIMAL.search(text), LONG_DECIMAL.findall(text)[:5]
        for spec in chart_specs(page):
            for name, value in re.findall(r'"(\w*amount\w*|aov)": (-?\d+\.\d+)', spec):
                assert len(value.split(".")[1]) <= 2, (path.name, name, value)
