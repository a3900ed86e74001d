"""Self-contained HTML from an executed notebook.

nbconvert's lab template, with three changes so the file works offline and
reads as a report: Vega-Lite outputs become inline ``vegaEmbed`` calls backed
by the Vega JavaScript inlined once (from ``vl-convert-python``); every
external ``<script src>`` / ``<link href>`` is dropped; a header (notebook,
parameters, run time, version, data fingerprint) and a table of contents
are added. Input cells are hidden unless ``show_code``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from workbench.report.format import size
from workbench.report.labels import label

VEGALITE_MIME = re.compile(r"application/vnd\.vegalite\.v\d+(\.\d+)*[+.]json")

REPORT_CSS = """
body { max-width: 1100px; margin: 0 auto; }
.wb-header { font-family: system-ui, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC',
  sans-serif; border-top: 3px solid #1f5f8b; background: #f8fafc; padding: 10px 16px;
  margin: 6px 0 10px; font-size: 12px; color: #333; }
.wb-header table { border-collapse: collapse; margin: 0; }
.wb-header tr, .wb-header tr:nth-child(odd) { background: none; }
.wb-header td { padding: 2px 14px 2px 0; vertical-align: top; white-space: normal !important;
  text-align: left; border: none; }
.wb-header td:first-child { white-space: nowrap !important; color: #555; }
.wb-header .wb-src { color: #888; }
.wb-header code { font-size: 12px; }
.wb-header details { display: inline; }
.wb-header summary { cursor: pointer; color: #1f5f8b; display: inline; }
.wb-failed { background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0;
  padding: 10px 14px; margin: 8px 0; font-family: system-ui, sans-serif; }
.wb-failed a { color: #8a1c1c; font-weight: 600; }
.wb-toc { font-family: system-ui, 'PingFang SC', 'Microsoft YaHei', sans-serif; font-size: 13px;
  margin: 0 0 10px; }
.wb-toc summary { cursor: pointer; color: #1f5f8b; font-weight: 600; }
.wb-toc ul { list-style: none; margin: 4px 0; padding-left: 4px; }
.wb-toc .lvl3 { margin-left: 18px; }
.wb-table-box { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
.wb-table-tools { font-size: 12px; margin: 2px 0 10px; }
.wb-table-tools a { color: #1f5f8b; }
.wb-chart { margin: 6px 0; max-width: 100%; overflow-x: auto; }
.wb-chart svg { max-width: none; }  /* drawn at its width, not shrunk: see FIT_NARROW */
.wb-chart.wb-fit { display: block; width: 100%; }  /* a chart as wide as the screen */
/* A box that scrolls sideways fades out at the edge it can scroll towards: its own
   scroll position drives the fade, so a box that fits shows none, and the fade at
   the right goes once the end is reached. */
@property --wb-fade-left { syntax: "<length>"; inherits: false; initial-value: 0px; }
@property --wb-fade-right { syntax: "<length>"; inherits: false; initial-value: 0px; }
@keyframes wb-scroll-cue {
  0% { --wb-fade-left: 0px; --wb-fade-right: 48px; }
  8%, 92% { --wb-fade-left: 32px; --wb-fade-right: 48px; }
  100% { --wb-fade-left: 32px; --wb-fade-right: 0px; }
}
.wb-table-box, .wb-chart {
  --wb-fade: linear-gradient(to right, transparent 0, #000 var(--wb-fade-left),
    #000 calc(100% - var(--wb-fade-right)), rgba(0, 0, 0, 0.15) 100%);
  -webkit-mask-image: var(--wb-fade); mask-image: var(--wb-fade);
  animation: wb-scroll-cue linear both; animation-timeline: scroll(self inline);
}
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { white-space: nowrap; }
@media (max-width: 640px) {
  .jp-Cell, .jp-Notebook { padding-left: 4px !important; padding-right: 4px !important; }
  .jp-RenderedHTMLCommon { font-size: 14px; }
  .wb-header { padding: 8px 10px; }
}
"""

VEGA_I18N = {
    "zh": {
        "CLICK_TO_VIEW_ACTIONS": "点击查看操作",
        "COMPILED_ACTION": "查看 Vega 规格",
        "EDITOR_ACTION": "在 Vega 编辑器中打开",
        "PNG_ACTION": "保存为 PNG",
        "SOURCE_ACTION": "查看源代码",
        "SVG_ACTION": "保存为 SVG",
    },
    "en": {
        "CLICK_TO_VIEW_ACTIONS": "Click to view actions",
        "COMPILED_ACTION": "View Compiled Vega",
        "EDITOR_ACTION": "Open in Vega Editor",
        "PNG_ACTION": "Save as PNG",
        "SOURCE_ACTION": "View Source",
        "SVG_ACTION": "Save as SVG",
    },
}


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, assigned to ``window``."""
    import vl_convert

    # "</" inside a JS string means the same and cannot close the inline <script>.
    # The type stub marks the optional snippet argument as required.
    bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    return str(bundle).replace("</script", "<\\/script")


FIT_NARROW = r"""
function wbFitNarrow(spec, box) {
  // On a narrow screen a wide single chart takes the width there is instead of
  // being drawn at its desktop width and shrunk (or cut off). A small chart (a 2 x 2
  // grid of labelled cells) and side-by-side charts keep their width and scroll
  // sideways, with the fade that says so.
  var parts = ["hconcat", "vconcat", "concat", "facet", "repeat"];
  var single = parts.every(function (k) { return !(k in spec); });
  var natural = typeof spec.width === "number" ? spec.width : 560;
  var room = Math.min(box.clientWidth, window.innerWidth);
  if (single && (spec.width === undefined || typeof spec.width === "number")
      && natural >= 480 && room < natural + 120) {
    spec.width = "container";
    spec.autosize = {type: "fit-x", contains: "padding"};
    box.classList.add("wb-fit");
    [spec].concat(spec.layer || []).forEach(function (view) {
      var title = view.title, text = typeof title === "string" ? title : title && title.text;
      if (typeof text === "string") {
        var lines = wbWrap(text, room - 64);
        view.title = typeof title === "string" ? lines : Object.assign({}, title, {text: lines});
      }
    });
  }
}
function wbWrap(text, width) {
  // Lines of a title that fit ``width`` pixels at the theme's 14 px: a CJK character
  // about 14 px, any other about 8; broken at spaces where there are any.
  var lines = [], line = "", w = 0;
  var parts = text.indexOf(" ") >= 0 ? text.split(/( )/) : Array.from(text);
  parts.forEach(function (part) {
    var pw = Array.from(part).reduce(function (a, c) {
      return a + (/[\u2e80-\uffef]/.test(c) ? 14 : 8);
    }, 0);
    if (w + pw > width && line.trim()) { lines.push(line.trim()); line = ""; w = 0; }
    line += part; w += pw;
  });
  if (line.trim()) lines.push(line.trim());
  return lines.length > 1 ? lines : text;
}
"""
"""Before a chart is drawn: a single view at least 480 px wide on a screen narrower than
it takes the container's width (Vega-Lite's ``width: "container"``), its title wrapped
to fit; 560 is the theme's width."""


def _vega_outputs_to_html(nb: Any, lang: str = "zh") -> int:
    """Replace each Vega-Lite output by an inline div + ``vegaEmbed`` call; count charts.

    Charts render as SVG at the width they were drawn for; on a screen narrower than
    that, a single chart takes the screen's width (:data:`FIT_NARROW`) and a row of
    charts scrolls sideways. The chart menu speaks the report's language.
    """
    i18n = json.dumps(VEGA_I18N.get(lang, VEGA_I18N["en"]), ensure_ascii=False)
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = (
                out.get("data")
                if out.get("output_type") in ("display_data", "execute_result")
                else None
            )
            if not data:
                continue
            key = next((k for k in data if VEGALITE_MIME.fullmatch(k)), None)
            if key is None:
                continue
            spec = data[key]
            n += 1
            div = f"wb-chart-{n}"
            payload = json.dumps(spec, ensure_ascii=False).replace("</", "<\\/")
            out["data"] = {
                "text/html": (
                    f'<div class="wb-chart" id="{div}"></div>'
                    f'<script type="application/json" id="{div}-spec">{payload}</script>'
                    "<script>(function(){var s=JSON.parse(document.getElementById("
                    f"'{div}-spec').textContent);"
                    f"wbFitNarrow(s, document.getElementById('{div}'));"
                    f"vegaEmbed('#{div}', s, {{renderer: 'svg', i18n: {i18n}, "
                    "actions: {export: true, source: false, compiled: false, editor: false}})"
                    ".catch(console.error);})();</script>"
                ),
                "text/plain": out["data"].get("text/plain", "<chart>"),
            }
            out.get("metadata", {}).pop(key, None)
    return n


_EXTERNAL = re.compile(
    r"<script[^>]*\ssrc=[\"']https?://[^\"']*[\"'][^>]*>\s*</script>"
    r"|<link[^>]*\shref=[\"']https?://[^\"']*[\"'][^>]*/?>",
    re.IGNORECASE,
)
_MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_HEADING = re.compile(
    r'<h([23]) id="([^"]+)"[^>]*>(.*?)(?:<a class="anchor-link"[^>]*>.*?</a>)?</h\1>', re.S
)


def strip_external(page: str) -> str:
    """Drop every script or stylesheet loaded from the network (CDN MathJax, require.js...)."""
    page = _MATHJAX_BLOCK.sub("", page)
    return _EXTERNAL.sub("", page)


def _toc(page: str, lang: str) -> str:
    items = []
    for level, anchor, text in _HEADING.findall(page):
        plain = re.sub(r"<[^>]+>", "", text).strip()
        items.append(f'<li class="lvl{level}"><a href="#{anchor}">{plain}</a></li>')
    if not items:
        return ""
    return (
        f'<details class="wb-toc"><summary>{label("contents", lang)}</summary>'
        f"<ul>{''.join(items)}</ul></details>"
    )


def local_time(iso: str, tz: str | None = None) -> str:
    """``2026-11-23T15:48:30+08:00`` as ``2026-11-23 15:48`` in ``tz`` (its own offset if none).

    Example:
        >>> local_time("2026-11-23T07:48:30+00:00", "Asia/Shanghai")
        '2026-11-23 15:48'
    """
    try:
        when = dt.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso or "")
    if tz:
        with contextlib.suppress(KeyError, ValueError):
            when = when.astimezone(ZoneInfo(tz))
    return f"{when:%Y-%m-%d %H:%M}"


def _source(text: str, lang: str) -> str:
    """Where a parameter's value came from, in words."""
    if text.startswith("setting ("):
        detail = text[len("setting") :].strip(" ()")
        if detail in ("", "default"):
            return label("setting_default", lang)
        if detail.startswith("env "):
            return label("setting_env", lang).format(var=detail[4:])
        return label("setting_file", lang).format(file=Path(detail).name)
    before = re.fullmatch(r"(\d+) days before as_of", text)
    if before:
        return label("days_before_as_of", lang).format(days=before.group(1))
    keys = {
        "given": "given",
        "notebook": "notebook_default",
        "last order date": "last_order_date",
        "not set": "not_set",
    }
    return label(keys[text], lang) if text in keys else text


def _value(v: Any) -> str:
    if v is None:
        return "–"
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _header(meta: Mapping[str, Any], lang: str) -> str:
    """The block under the title: every effective parameter and where it came from, the
    data's date range, when and how long it ran, the version and the data fingerprint."""
    esc = html.escape
    params = meta.get("parameters", {}) or {}
    sources = meta.get("parameter_sources", {}) or {}
    rows = [(label("notebook", lang), f"<code>{esc(str(meta.get('notebook', '')))}</code>")]
    for name, value in params.items():
        src = sources.get(name)
        note = f' <span class="wb-src">({esc(_source(src, lang))})</span>' if src else ""
        rows.append((esc(label(name, lang)), f"<code>{esc(_value(value))}</code>{note}"))
    used = meta.get("settings") or {}
    if used:
        used_sources = meta.get("setting_sources", {}) or {}
        changed = [k for k, src in used_sources.items() if src != "setting (default)"]
        items = "".join(
            f"<li>{esc(label(k.split('.', 1)[1], lang))} <code>{esc(_value(v))}</code>"
            f' <span class="wb-src">({esc(_source(used_sources.get(k, ""), lang))})</span></li>'
            for k, v in used.items()
        )
        summary = label("settings_summary", lang).format(n=len(used), changed=len(changed))
        rows.append(
            (
                label("setting", lang),
                f"<details><summary>{esc(summary)}</summary><ul>{items}</ul></details>",
            )
        )
    span = meta.get("data_range")
    if span:
        rows.append((label("data_range", lang), esc(f"{span[0]} – {span[1]}")))
    tz = meta.get("timezone")
    when = local_time(str(meta.get("started", "")), tz) + (f" ({tz})" if tz else "")
    status = label(str(meta.get("status", "")), lang)
    rows.append(
        (
            label("run_time", lang),
            esc(f"{when} · {meta.get('duration_s', 0):.1f} s · {status}"),
        )
    )
    rows.append((label("version", lang), esc(f"retail-workbench {meta.get('version', '')}")))
    fp = meta.get("fingerprint", {}) or {}
    if fp.get("digest"):
        detail = ", ".join(f"{esc(str(k))} {v:,}" for k, v in (fp.get("tables") or {}).items())
        for name, digest in (fp.get("files") or {}).items():
            detail += f"; {esc(label(name, lang))} <code>{esc(str(digest))}</code>"
        if fp.get("raw_files"):
            detail += f"; {label('raw_files', lang)} {fp['raw_files']:,} · "
            detail += esc(size(fp.get("raw_bytes", 0)))
        folded = (
            f" <details><summary>{label('details', lang)}</summary> {detail}</details>"
            if detail
            else ""
        )
        rows.append((label("fingerprint", lang), f"<code>{esc(fp['digest'])}</code>{folded}"))
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f'<section class="wb-header"><table>{body}</table></section>'


def _failure_banner(meta: Mapping[str, Any], lang: str) -> str:
    err = meta.get("error")
    if not err:
        return ""
    where = err.get("cell_anchor")
    link = f' <a href="#{where}">→ {html.escape(err.get("cell_label", ""))}</a>' if where else ""
    return (
        f'<div class="wb-failed"><strong>{label("run_failed", lang)}</strong>: '
        f"{html.escape(err.get('ename', ''))}: {html.escape(err.get('evalue', ''))}{link}</div>"
    )


LANG_TAGS: dict[str, str] = {"zh": "lang-zh", "en": "lang-en"}


def keep_language(nb: Any, lang: str) -> Any:
    """Drop the markdown cells written for another language; untagged cells stay.

    The notebooks keep both languages side by side: a markdown cell tagged
    ``lang-zh`` is shown only in a Chinese report, one tagged ``lang-en`` only in
    an English one.
    """
    other = {tag for code, tag in LANG_TAGS.items() if code != lang}
    nb.cells = [c for c in nb.cells if not other & set(c.get("metadata", {}).get("tags", []))]
    return nb


def report_title(notebook: str | Path | Any, lang: str) -> str:
    """The first level-one heading of the notebook in ``lang`` (its file name if none)."""
    nb = notebook
    if isinstance(notebook, (str, Path)):
        nb = nbformat.read(str(notebook), as_version=4)
    for cell in keep_language(nbformat.from_dict(nb), lang).cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return Path(
        str(getattr(nb, "metadata", {}).get("papermill", {}).get("input_path", "report"))
    ).stem


FAILED_ANCHOR = "wb-failed-cell"
HIDE_TAG = "wb-hide-input"


def _mark_cells(nb: Any, show_code: bool) -> str | None:
    """Tag inputs to hide; anchor the first failing cell, whose code stays visible.

    Returns a label of the failing cell (``"cell 7"``), or ``None`` when none failed.
    """
    failed: int | None = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if errored and failed is None:
            failed = i
        elif not show_code:
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            tags.append(HIDE_TAG)
    if failed is None:
        return None
    nb.cells.insert(failed, nbformat.v4.new_markdown_cell(f'<div id="{FAILED_ANCHOR}"></div>'))
    return f"cell {failed + 1}"


def export_html(
    notebook: str | Path,
    html_path: str | Path,
    meta: Mapping[str, Any],
    show_code: bool = False,
    lang: str = "zh",
) -> int:
    """Write the report HTML for an executed notebook; return its size in bytes.

    Parameters:
        notebook: the executed ``.ipynb``.
        html_path: where to write the ``.html``.
        meta: run metadata shown in the header (``notebook``, ``parameters``,
            ``parameter_sources``, ``data_range``, ``started``, ``timezone``,
            ``duration_s``, ``status``, ``version``, ``fingerprint`` and, for a
            failed run, ``error``).
        show_code: keep input cells (hidden by default).
        lang: the report's language: markdown cells tagged for the other one are
            dropped, and the page's ``lang``, title, header and chart menus follow it.
    """
    nb = keep_language(nbformat.read(str(notebook), as_version=4), lang)
    meta = dict(meta)
    # Papermill's own error banner links to a cell id; ours replaces it.
    nb.cells = [
        c
        for c in nb.cells
        if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
    ]
    failed = _mark_cells(nb, show_code)
    if failed and meta.get("error") is not None:
        meta["error"] = {**meta["error"], "cell_anchor": FAILED_ANCHOR, "cell_label": failed}
    n_charts = _vega_outputs_to_html(nb, lang)
    exporter = HTMLExporter(
        template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_input_tags={HIDE_TAG}, enabled=True), enabled=True
    )
    page, _ = exporter.from_notebook_node(nb)
    page = strip_external(page)
    title = str(meta.get("title") or report_title(nb, lang))
    page = re.sub(r"<html[^>]*>", f'<html lang="{HTML_LANG.get(lang, lang)}">', page, count=1)
    page = re.sub(
        r"<title>.*?</title>", lambda _: f"<title>{html.escape(title)}</title>", page, count=1
    )
    head_extra = f"<style>{REPORT_CSS}</style>"
    if n_charts:
        head_extra += f"<script>{vega_bundle()}</script><script>{FIT_NARROW}</script>"
    head, sep, body = page.partition("</head>")
    top = _failure_banner(meta, lang) + _header(meta, lang) + _toc(body, lang)
    if re.search(r"</h1>", body):
        body = re.sub(r"</h1>", lambda m: m.group(0) + top, body, count=1)
    else:
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + top, body, count=1)
    page = head + head_extra + sep + body
    Path(html_path).write_text(page, encoding="utf-8")
    return len(page.encode("utf-8"))


HTML_LANG = {"zh": "zh-CN", "en": "en"}
