"""The report runner: papermill into reports/<run-id>/, HTML that works offline, the index."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from tests.conftest import chromium, dom_at
from workbench.config import Settings, load_settings
from workbench.errors import ParameterError
from workbench.report import run_notebook, write_index
from workbench.report.runner import data_fingerprint, params_key, read_schedule, run_all
from workbench.synth import SynthResult


def visible_text(page: str) -> str:
    """The page's text with tags removed (code is split into highlighting spans)."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


RESOURCE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


@pytest.mark.slow
def test_passing_run_writes_ipynb_html_parameters(project: Settings, fixture_notebook) -> None:
    nb = fixture_notebook("marker.ipynb")
    r = run_notebook(nb, {}, project, progress=False)
    assert r.ok
    assert r.out_dir.parent == project.reports_dir
    assert {p.name for p in r.out_dir.iterdir()} == {
        "marker.ipynb",
        "marker.html",
        "parameters.json",
    }
    meta = json.loads((r.out_dir / "parameters.json").read_text(encoding="utf-8"))
    assert meta["status"] == "ok"
    assert meta["parameters"] == {"marker": ""}  # the notebook's own default
    assert meta["parameter_sources"] == {"marker": "notebook"}
    assert meta["notebook"] == "notebooks/marker.ipynb"
    assert meta["title"] == "Fixture: passes"
    assert meta["lang"] == "zh"
    assert set(meta["fingerprint"]) == {"digest", "tables", "raw_files", "raw_bytes"}
    # Started in the time zone of the settings, with its offset: Shanghai is UTC+8.
    assert meta["timezone"] == "Asia/Shanghai"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", meta["started"])
    assert r.run_id.startswith(datetime.fromisoformat(meta["started"]).strftime("%Y%m%dT%H%M%S"))
    executed = json.loads(r.executed.read_text(encoding="utf-8"))
    printed = [
        "".join(o.get("text", ""))
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    ]
    assert "marker: ok\n" in printed
    assert (project.reports_dir / "index.html").is_file()


@pytest.mark.slow
def test_failed_run_still_renders_and_points_at_the_cell(
    project: Settings, fixture_notebook
) -> None:
    nb = fixture_notebook("fail.ipynb")
    r = run_notebook(nb, {"x0": 5}, project, progress=False)
    assert not r.ok
    assert r.error == {"ename": "ValueError", "evalue": "planted failure with x=2"}
    page = r.html.read_text(encoding="utf-8")
    body = page.split("</head>", 1)[1]
    # The failure banner comes right under the title, before any section, and links to
    # the failing cell, whose code is shown although inputs are hidden.
    assert (
        body.index("Fixture: fails") < body.index('class="wb-failed"') < body.index('id="Before"')
    )
    assert 'href="#wb-failed-cell"' in page and 'id="wb-failed-cell"' in page
    text = visible_text(page)
    assert "raise ValueError(f" in text and "planted failure with x={x}" in text
    assert "print(" not in text  # other inputs stay hidden
    assert "before 2" in text  # their outputs do not
    meta = json.loads((r.out_dir / "parameters.json").read_text(encoding="utf-8"))
    assert meta["status"] == "failed"
    assert meta["parameters"] == {"x0": 5}
    assert meta["parameter_sources"] == {"x0": "given"}


@pytest.mark.slow
def test_failed_run_never_replaces_the_last_good_report(
    project: Settings, fixture_notebook, tmp_path: Path
) -> None:
    nb = fixture_notebook("marker.ipynb")
    marker = tmp_path / "marker.txt"
    marker.write_text("ok", encoding="utf-8")
    params = {"marker": str(marker)}
    good = run_notebook(nb, params, project, progress=False)
    latest = project.reports_dir / "latest" / f"{params_key(nb, params, project)}.html"
    assert good.ok and latest.read_bytes() == good.html.read_bytes()

    marker.write_text("fail", encoding="utf-8")
    bad = run_notebook(nb, params, project, progress=False)
    assert not bad.ok
    assert bad.out_dir != good.out_dir
    assert good.html.is_file()
    assert latest.read_bytes() == good.html.read_bytes()
    index = (project.reports_dir / "index.html").read_text(encoding="utf-8")
    assert f"{good.out_dir.name}/marker.html" in index
    assert f"{bad.out_dir.name}/marker.html" in index
    assert index.count('class="failed"') == 1


@pytest.mark.slow
def test_report_html_is_self_contained(project: Settings, fixture_notebook) -> None:
    nb = fixture_notebook("charts.ipynb")
    r = run_notebook(nb, {}, project, progress=False)
    assert r.ok, r.error
    page = r.html.read_text(encoding="utf-8")
    # No resource from the network.
    assert not RESOURCE.search(page), RESOURCE.search(page)
    # Three charts, each an inline Vega-Lite spec with its data, and the Vega library inlined.
    specs = re.findall(r'<script[^>]*id="wb-chart-\d+-spec"[^>]*>(.*?)</script>', page, re.S)
    assert len(specs) == 3
    marks = sorted(json.loads(s.replace("<\\/", "</"))["mark"]["type"] for s in specs)
    assert marks == ["bar", "line", "point"]
    assert page.count("vegaEmbed(") >= 3
    assert "vegaLite" in page and len(page) > 500_000
    # Text from data is escaped, in the table and in the caption parameter.
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Names &lt;from data&gt;" in page
    # Header and table of contents under the title, before the first section.
    body = page.split("</head>", 1)[1]
    assert (
        body.index("Fixture: three")
        < body.index('class="wb-header"')
        < body.index('class="wb-toc"')
        < body.index('id="Bars"')
    )
    toc = page[page.index('class="wb-toc"') :]
    assert toc.index("Bars") < toc.index("Points") < toc.index("Lines")
    # Code hidden by default.
    assert "mark_bar()" not in visible_text(page)


@pytest.mark.slow
def test_show_code_keeps_inputs(project: Settings, fixture_notebook) -> None:
    nb = fixture_notebook("marker.ipynb")
    r = run_notebook(nb, {}, project, show_code=True, progress=False)
    assert "Path(marker).read_text()" in visible_text(r.html.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed")
def test_charts_render_in_a_browser_offline(project: Settings, fixture_notebook) -> None:
    nb = fixture_notebook("charts.ipynb")
    r = run_notebook(nb, {}, project, progress=False)
    dom = dom_at(r.html, project.root / "chrome-profile")
    # vega-embed wraps each rendered chart in a .vega-embed container with a canvas or svg.
    assert dom.count('class="marks"') == 3, dom[:2000]


@pytest.mark.slow
def test_schedule_runs_every_entry_past_failures(project: Settings, fixture_notebook) -> None:
    fixture_notebook("marker.ipynb")
    fixture_notebook("fail.ipynb")
    schedule = project.root / "schedule.yaml"
    schedule.write_text(
        "runs:\n"
        "  - notebook: notebooks/fail.ipynb\n"
        "  - notebook: notebooks/marker.ipynb\n"
        "    parameters: {marker: ''}\n",
        encoding="utf-8",
    )
    results = run_all(schedule, project, progress=False)
    assert [r.status for r in results] == ["failed", "ok"]


def test_schedule_errors_name_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("runs:\n  - notebook: a.ipynb\n  - parameters: {x: 1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="run #2 has no `notebook`"):
        read_schedule(bad)


def _warehouse(settings: Settings, orders: list[tuple[str, float]]) -> None:
    """A small warehouse: two data tables, the three bookkeeping tables and a scratch table."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("CREATE TABLE orders (order_id VARCHAR, amount DOUBLE)")
    con.executemany("INSERT INTO orders VALUES (?, ?)", orders)
    con.execute("CREATE TABLE persons AS SELECT * FROM (VALUES ('P1'), ('P2')) t(person_id)")
    con.execute("CREATE TABLE ingest_log (source_file VARCHAR, ingested_at TIMESTAMP)")
    con.execute("INSERT INTO ingest_log VALUES ('a.csv', TIMESTAMP '2026-11-20 10:00:00')")
    con.execute("CREATE TABLE identity_runs (resolved_at TIMESTAMP, persons BIGINT)")
    con.execute("INSERT INTO identity_runs VALUES (TIMESTAMP '2026-11-20 10:01:00', 2)")
    con.execute("CREATE TABLE warehouse_meta (key VARCHAR, value VARCHAR)")
    con.execute("CREATE TABLE _next_persons (person_id VARCHAR)")
    con.close()


def _execute(settings: Settings, sql: str) -> None:
    con = duckdb.connect(str(settings.warehouse))
    con.execute(sql)
    con.close()


ORDERS = [("o1", 10.0), ("o2", 25.5), ("o3", 7.25)]


def test_fingerprint_covers_the_data_tables_only(project: Settings) -> None:
    _warehouse(project, ORDERS)
    first = data_fingerprint(project)
    assert first["tables"] == {"orders": 3, "persons": 2}
    assert re.fullmatch(r"[0-9a-f]{12}", first["digest"])
    assert (first["raw_files"], first["raw_bytes"]) == (0, 0)
    # Another ingestion and identity run on the same data: bookkeeping only.
    _execute(
        project,
        "INSERT INTO ingest_log VALUES ('a.csv', TIMESTAMP '2026-11-21 09:00:00');"
        "INSERT INTO identity_runs VALUES (TIMESTAMP '2026-11-21 09:01:00', 2);"
        "INSERT INTO warehouse_meta VALUES ('state', 'complete');"
        "INSERT INTO _next_persons VALUES ('P9');",
    )
    assert data_fingerprint(project) == first
    # One amount changes: same row counts, another digest.
    _execute(project, "UPDATE orders SET amount = 26.5 WHERE order_id = 'o2'")
    changed = data_fingerprint(project)
    assert changed["tables"] == first["tables"]
    assert changed["digest"] != first["digest"]
    # One row more.
    _execute(project, "INSERT INTO orders VALUES ('o4', 1.0)")
    assert data_fingerprint(project)["tables"]["orders"] == 4


def test_fingerprint_covers_the_files_a_run_reads(project: Settings) -> None:
    """An experiment table read beside the warehouse: its content is in the digest, and
    the parameters find it relative to the project root."""
    import hashlib

    from workbench.report.runner import input_files

    _warehouse(project, ORDERS)
    table = project.root / "exp.csv"
    table.write_text("arm,bought\ncontrol,0\nA,1\n", encoding="utf-8")
    files = input_files(
        {"experiment_file": "exp.csv", "levers_file": None, "lang": "en"}, project.root
    )
    assert files == {"experiment_file": table}
    alone = data_fingerprint(project)
    first = data_fingerprint(project, files)
    want = hashlib.sha256(table.read_bytes()).hexdigest()[:12]
    assert first["files"] == {"experiment_file": want} and "files" not in alone
    assert first["digest"] != alone["digest"] and first["tables"] == alone["tables"]
    table.write_text("arm,bought\ncontrol,1\nA,1\n", encoding="utf-8")
    assert data_fingerprint(project, files)["digest"] != first["digest"]


def test_fingerprint_ignores_row_order_and_the_last_bits_of_floats(tmp_path: Path) -> None:
    a = load_settings(root=tmp_path / "a", env={})
    b = load_settings(root=tmp_path / "b", env={})
    _warehouse(a, ORDERS)
    _warehouse(b, [("o3", 7.25 + 1e-12), ("o1", 10.0), ("o2", 25.5)])
    assert data_fingerprint(a)["digest"] == data_fingerprint(b)["digest"]


def test_fingerprint_without_a_warehouse_counts_the_raw_files(project: Settings) -> None:
    project.raw_dir.mkdir(parents=True)
    (project.raw_dir / "a.csv").write_bytes(b"x" * 10)
    (project.raw_dir / "b.csv").write_bytes(b"y" * 5)
    fp = data_fingerprint(project)
    assert (fp["tables"], fp["raw_files"], fp["raw_bytes"]) == ({}, 2, 15)
    assert not project.warehouse.exists()


@pytest.mark.slow
def test_fingerprint_survives_resolving_identities_again(
    tmp_path: Path, small_synth: SynthResult
) -> None:
    from workbench.engine import connect
    from workbench.unify import ingest, resolve_identities

    s = load_settings(root=tmp_path, env={})
    ingest(small_synth.raw_dir, s, progress=False)
    before = data_fingerprint(s)
    assert before["tables"]["orders"] > 0 and "identity_runs" not in before["tables"]
    con = connect(s)
    resolve_identities(con, s.link_threshold)
    con.disconnect()
    assert data_fingerprint(s) == before


def test_latest_key_follows_parameters_engine_and_warehouse(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, env={})
    nb = "notebooks/01_unify.ipynb"
    p = {"as_of": "2026-11-20", "lang": "zh", "link_threshold": 0.9}
    key = params_key(nb, p, s)
    assert re.fullmatch(r"01_unify-[0-9a-f]{6}", key)
    assert params_key(nb, dict(reversed(p.items())), s) == key
    assert params_key(nb, {**p, "link_threshold": 0.95}, s) != key
    assert params_key(nb, p, s.with_(engine="spark")) != key
    assert params_key(nb, p, s.with_(warehouse="other.duckdb")) != key


def test_a_refused_parameter_writes_nothing(project: Settings, fixture_notebook) -> None:
    nb = fixture_notebook("settings.ipynb")
    with pytest.raises(ParameterError, match="parameter link_threshold takes a probability"):
        run_notebook(nb, {"link_threshold": "1.5"}, project, progress=False)
    with pytest.raises(ParameterError, match=r"settings\.ipynb has no parameter colour"):
        run_notebook(nb, {"colour": "red"}, project, progress=False)
    with pytest.raises(FileNotFoundError, match=r"notebook .*nope\.ipynb not found"):
        run_notebook(nb.parent / "nope.ipynb", {}, project, progress=False)
    assert not project.reports_dir.exists()


def _seen(executed: Path) -> dict:
    """What the settings fixture printed in its kernel."""
    nb = json.loads(executed.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", ""))
            if text.startswith("seen: "):
                return json.loads(text[len("seen: ") :])
    raise AssertionError("the fixture printed nothing")


@pytest.mark.slow
def test_kernel_gets_every_setting_and_latest_follows_them(
    tmp_path: Path, fixture_notebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import fields

    monkeypatch.delenv("WORKBENCH_CONFIG", raising=False)
    monkeypatch.setenv("WORKBENCH_THREADS", "7")  # the caller's own: the run leaves it unset
    nb = fixture_notebook("settings.ipynb")
    s = load_settings(
        root=tmp_path,
        env={
            "WORKBENCH_SALT": "pepper",
            "WORKBENCH_LANG": "en",
            "WORKBENCH_MEMORY_LIMIT": "1GB",
            "WORKBENCH_LINK_THRESHOLD": "0.8",
            "WORKBENCH_TIMEZONE": "Europe/Berlin",
            "WORKBENCH_SPARK_MASTER": "local[3]",
            "WORKBENCH_REPORTS_DIR": "out",
        },
    )
    a = run_notebook(nb, {"lang": "zh"}, s, progress=False)
    assert a.ok, a.error
    seen = _seen(a.executed)
    # Every setting, and the mark that nobody will move an explorer's controls.
    expected = {k: v for k, v in s.to_env().items() if v is not None}
    assert seen["env"] == {**expected, "WORKBENCH_HEADLESS": "1"}
    assert "WORKBENCH_THREADS" not in seen["env"] and seen["env"]["WORKBENCH_SALT"] == "pepper"
    assert seen["settings"] == {
        f.name: str(getattr(s, f.name)) for f in fields(s) if f.name != "source"
    }
    # The given lang wins over the setting, for the notebook and for the page;
    # link_threshold comes from the setting.
    assert seen["parameters"] == {"lang": "zh", "link_threshold": 0.8}
    meta_a = json.loads((a.out_dir / "parameters.json").read_text(encoding="utf-8"))
    assert meta_a["lang"] == "zh" and '<html lang="zh-CN">' in a.html.read_text("utf-8")
    assert meta_a["parameter_sources"] == {
        "lang": "given",
        "link_threshold": "setting (env WORKBENCH_LINK_THRESHOLD)",
    }
    started = datetime.fromisoformat(meta_a["started"])
    assert meta_a["timezone"] == "Europe/Berlin"
    assert started.utcoffset() == started.astimezone(ZoneInfo("Europe/Berlin")).utcoffset()

    # Only the setting differs: another latest/ file, and the first one stays.
    b = run_notebook(nb, {"lang": "zh"}, s.with_(link_threshold=0.95), progress=False)
    meta_b = json.loads((b.out_dir / "parameters.json").read_text(encoding="utf-8"))
    assert meta_b["parameters"] == {"lang": "zh", "link_threshold": 0.95}
    assert meta_b["key"] != meta_a["key"]
    latest = sorted(p.name for p in (s.reports_dir / "latest").iterdir())
    assert latest == sorted([f"{meta_a['key']}.html", f"{meta_b['key']}.html"])


def _run_meta(reports: Path, run_dir: str, **meta: object) -> None:
    (reports / run_dir).mkdir(parents=True)
    (reports / run_dir / "parameters.json").write_text(json.dumps(meta), encoding="utf-8")


def test_index_shows_title_local_time_parameters_and_status(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    common = {"notebook": "notebooks/01_unify.ipynb", "html": "01_unify.html"}
    _run_meta(
        reports,
        "r1",
        key="01_unify-aaaaaa",
        title="01 数据整合",
        parameters={
            "raw_dir": "data/raw",
            "as_of": "2026-11-20",
            "lang": "zh",
            "link_threshold": 0.9,
            "x": None,
        },
        parameter_sources={
            "raw_dir": "notebook",
            "as_of": "last order date",
            "lang": "given",
            "link_threshold": "setting (default)",
            "x": "not set",
        },
        started="2026-11-23T07:48:30+00:00",
        duration_s=31.4,
        status="ok",
        **common,
    )
    _run_meta(
        reports,
        "r2",
        key="01_unify-bbbbbb",
        title="<script>alert(1)</script>",
        parameters={"lang": "<b>en</b>"},
        started="2026-11-23T09:00:00+08:00",  # 01:00 UTC: older than r1
        duration_s=2.0,
        status="failed",
        error={"ename": "ValueError", "evalue": "planted"},
        **common,
    )
    page = write_index(reports, lang="zh", timezone="Asia/Shanghai").read_text("utf-8")
    assert page.startswith('<!DOCTYPE html><html lang="zh-CN">')
    assert "<title>retail-workbench 报告</title>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    # Tables scroll sideways in their box; cells do not wrap.
    assert page.count('<div class="box"><table>') == 2
    assert re.search(r"\.box \{[^}]*overflow-x: auto", page)
    assert re.search(r"td \{[^}]*white-space: nowrap", page)
    # 07:48 UTC is 15:48 in Shanghai; r2 is shown in its own local time.
    assert "<td>2026-11-23 15:48</td>" in page and "<td>2026-11-23 09:00</td>" in page
    assert '<a href="latest/01_unify-aaaaaa.html">01 数据整合</a>' in page
    assert "latest/01_unify-bbbbbb.html" not in page  # a failed run is not a latest report
    assert (
        "<span>as_of=2026-11-20</span> · <span>lang=zh</span> · <span>link_threshold=0.9</span>"
        in page
    )
    # At the notebook's default or without a value: in the tooltip only.
    assert "<span>raw_dir=" not in page and "<span>x=" not in page
    assert 'title="raw_dir=data/raw, as_of=2026-11-20, lang=zh, link_threshold=0.9, x=–"' in page
    assert '<a href="r1/01_unify.html">' in page and '<a href="r2/01_unify.html">' in page
    assert '<td class="failed">失败 (ValueError)</td>' in page
    assert '<td class="ok">成功</td>' in page
    # Text from the runs is escaped.
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "lang=&lt;b&gt;en&lt;/b&gt;" in page
    # Newest first, by the moment each started, whatever its offset.
    runs = page[page.index("运行记录") :]
    assert runs.index("r1/01_unify.html") < runs.index("r2/01_unify.html")


def test_index_in_english_and_another_time_zone(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    _run_meta(
        reports,
        "r1",
        key="k",
        notebook="notebooks/marker.ipynb",
        parameters={},
        started="2026-11-23T15:48:30+08:00",
        duration_s=1.0,
        status="ok",
        html="marker.html",
    )
    page = write_index(reports, lang="en", timezone="UTC").read_text("utf-8")
    assert page.startswith('<!DOCTYPE html><html lang="en">')
    assert "<title>retail-workbench reports</title>" in page
    assert "<td>2026-11-23 07:48</td>" in page
    assert "Times are local to UTC." in page
    assert '<a href="latest/k.html">marker</a>' in page  # no title: the notebook's name
    empty = write_index(tmp_path / "none", lang="en").read_text("utf-8")
    assert empty.count("No runs yet.") == 2
