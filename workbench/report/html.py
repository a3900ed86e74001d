"""Self-contained HTML from an executed notebook.

nbconvert's lab template, with three changes so the file works offline and
reads as a report: Vega-Lite outputs become inline ``vegaEmbed`` calls backed
by the Vega JavaScript inlined once (from ``vl-convert-python``); every
external ``<script src>`` / ``<link href>`` is dropped; a header (notebook,
parameters, run time, version, data fingerprint) and a table of contents
are added. Input cells are hidden unless ``show_code``.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from workbench.report.labels import label

VEGALITE_MIME = re.compile(r"application/vnd\.vegalite\.v\d+(\.\d+)*[+.]json")

REPORT_CSS = """
body { max-width: 1100px; margin: 0 auto; }
.wb-header { font-family: system-ui, sans-serif; border-bottom: 2px solid #1f5f8b;
  padding: 16px 20px 8px; margin-bottom: 8px; }
.wb-header h1 { font-size: 20px; margin: 0 0 6px; }
.wb-header table { font-size: 12px; border-collapse: collapse; }
.wb-header td { padding: 1px 12px 1px 0; vertical-align: top; }
.wb-header code { font-size: 12px; }
.wb-failed { background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0;
  padding: 10px 14px; margin: 8px 20px; font-family: system-ui, sans-serif; }
.wb-failed a { color: #8a1c1c; font-weight: 600; }
.wb-toc { font-family: system-ui, sans-serif; font-size: 13px; padding: 4px 20px 12px; }
.wb-toc ol { margin: 4px 0; padding-left: 20px; }
.wb-toc .lvl3 { margin-left: 18px; }
.wb-chart { margin: 6px 0; }
"""


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, assigned to ``window``."""
    import vl_convert

    # "</" inside a JS string means the same and cannot close the inline <script>.
    # The type stub marks the optional snippet argument as required.
    bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    return str(bundle).replace("</script", "<\\/script")


def _vega_outputs_to_html(nb: Any) -> int:
    """Replace each Vega-Lite output by an inline div + ``vegaEmbed`` call; count charts."""
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
                    f"vegaEmbed('#{div}', s, {{actions: {{export: true, source: false, "
                    "compiled: false, editor: false}}).catch(console.error);})();</script>"
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
    return f'<nav class="wb-toc"><strong>{label("contents", lang)}</strong><ul style="list-style: none; padding-left: 4px">{"".join(items)}</ul></nav>'


def _header(meta: Mapping[str, Any], lang: str) -> str:
    esc = html.escape
    params = meta.get("parameters", {})
    param_text = ", ".join(
        f"{esc(str(k))}={esc(json.dumps(v, ensure_ascii=False))}" for k, v in params.items()
    )
    fp = meta.get("fingerprint", {})
    parts = [esc(fp.get("digest", ""))]
    if fp.get("tables"):
        parts.append(", ".join(f"{esc(str(k))}: {v:,}" for k, v in fp["tables"].items()))
    if fp.get("raw_files"):
        parts.append(f"raw: {fp['raw_files']:,} files, {fp.get('raw_bytes', 0) / 1e6:,.1f} MB")
    fp_text = " · ".join(parts)
    rows = [
        (label("notebook", lang), f"<code>{esc(str(meta.get('notebook', '')))}</code>"),
        (label("parameters", lang), param_text or "–"),
        (label("started", lang), esc(str(meta.get("started", "")))),
        (label("duration", lang), esc(f"{meta.get('duration_s', 0):.1f} s")),
        (label("status", lang), esc(label(str(meta.get("status", "")), lang))),
        (label("version", lang), esc(f"retail-workbench {meta.get('version', '')}")),
        (label("fingerprint", lang), fp_text or "–"),
    ]
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    title = esc(str(meta.get("title") or meta.get("notebook", "")))
    return f'<header class="wb-header"><h1>{title}</h1><table>{body}</table></header>'


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
            ``started``, ``duration_s``, ``status``, ``version``, ``fingerprint``
            and, for a failed run, ``error``).
        show_code: keep input cells (hidden by default).
        lang: language of the header labels.
    """
    nb = nbformat.read(str(notebook), as_version=4)
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
    n_charts = _vega_outputs_to_html(nb)
    exporter = HTMLExporter(
        template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_input_tags={HIDE_TAG}, enabled=True), enabled=True
    )
    page, _ = exporter.from_notebook_node(nb)
    page = strip_external(page)
    head_extra = f"<style>{REPORT_CSS}</style>"
    if n_charts:
        head_extra += f"<script>{vega_bundle()}</script>"
    head, sep, body = page.partition("</head>")
    top = _header(meta, lang) + _failure_banner(meta, lang) + _toc(body, lang)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + top, body, count=1)
    page = head + head_extra + sep + body
    Path(html_path).write_text(page, encoding="utf-8")
    return len(page.encode("utf-8"))
