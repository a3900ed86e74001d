"""The report on a phone: a box that scrolls sideways says so, and a wide chart takes the
screen's width, checked in headless Chromium (the layout is the browser's to judge)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import chromium, dom_at
from workbench.config import Settings
from workbench.report import run_notebook
from workbench.report.html import REPORT_CSS

needs_chromium = pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed")


# Three boxes: a table wider than the box, one that fits, and the wide one scrolled to
# its end. Each box writes the fade its style gives it into the DOM.
CUE_PAGE = """<!DOCTYPE html><html><head><style>{css}</style></head><body>
<div style="width: 300px">
  <div class="wb-table-box" id="wide"><table><tr><td style="white-space: nowrap">{wide}</td></tr></table></div>
  <div class="wb-table-box" id="narrow"><table><tr><td>fits</td></tr></table></div>
  <div class="wb-table-box" id="end"><table><tr><td style="white-space: nowrap">{wide}</td></tr></table></div>
</div>
<script>
document.getElementById("end").scrollLeft = 100000;
function fade(b) {{
  var s = getComputedStyle(b);
  return s.getPropertyValue("--wb-fade-left").trim() + " "
    + s.getPropertyValue("--wb-fade-right").trim();
}}
// The browser applies a scroll-driven animation at a frame, which a loaded machine may
// draw late: read the fades once the wide box shows one, or after five seconds.
var tries = 0;
function read() {{
  tries += 1;
  if (fade(document.getElementById("wide")) === "0px 0px" && tries < 50) {{
    setTimeout(read, 100);
    return;
  }}
  document.querySelectorAll(".wb-table-box").forEach(function (b) {{
    b.setAttribute("data-fade", fade(b));
  }});
}}
read();
</script></body></html>"""


@pytest.mark.slow
@needs_chromium
def test_a_box_that_scrolls_sideways_fades_at_the_edge_it_can_scroll_to(tmp_path: Path) -> None:
    page = tmp_path / "cue.html"
    page.write_text(CUE_PAGE.format(css=REPORT_CSS, wide="x" * 400), encoding="utf-8")
    dom = dom_at(page, tmp_path / "profile", 800)
    fades = dict(re.findall(r'id="(\w+)" data-fade="([^"]*)"', dom))
    assert fades == {
        "wide": "0px 48px",  # more to the right: the right edge fades
        "narrow": "0px 0px",  # it all fits: no fade
        "end": "32px 0px",  # scrolled to the end: only the left edge fades
    }


@pytest.mark.slow
@needs_chromium
def test_a_wide_chart_takes_a_narrow_screens_width(project: Settings, fixture_notebook) -> None:
    """The fixture's three charts are 560 px wide (the theme's width): on a wide screen
    they are drawn so; on a narrow one (500 px, headless Chromium's least) each takes the
    width there is, instead of being drawn at 560 and shrunk by the page's style."""
    run = run_notebook(fixture_notebook("charts.ipynb"), {}, project, progress=False)
    widths = {}
    for width in (1400, 500):
        dom = dom_at(run.html, project.root / f"profile-{width}", width)
        charts = re.findall(r'<div class="wb-chart[^"]*"[^>]*>.*?<svg[^>]*\swidth="([\d.]+)"', dom)
        assert len(charts) == 3, dom[:2000]
        widths[width] = [float(w) for w in charts]
    assert all(w > 560 for w in widths[1400]), widths
    assert all(w <= 500 - 16 for w in widths[500]), widths
