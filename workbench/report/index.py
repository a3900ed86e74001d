"""``reports/index.html``: every run, newest first, and the latest good report of each.

Each row shows the report's title (linked), the notebook, its effective
parameters, the local time it started and, for runs, how long it took and
how it ended. On a phone the tables scroll sideways inside their box.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from workbench.config import DEFAULT_TIMEZONE
from workbench.report.html import HTML_LANG, local_time
from workbench.report.labels import label

_CSS = """
body { font-family: system-ui, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif;
  margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 22px 0 6px; }
.note { color: #666; font-size: 12px; margin: 0; }
.box { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; font-size: 13px; }
th { background: #f3f5f8; text-align: left; padding: 4px 10px; white-space: nowrap; }
td { padding: 3px 10px; border-bottom: 1px solid #eee; vertical-align: top; white-space: nowrap; }
td.params { white-space: normal; min-width: 18em; }
td.params span { white-space: nowrap; }
.failed { color: #b00020; font-weight: 600; } .ok { color: #2e7d32; }
a { color: #1f5f8b; }
code { font-size: 12px; }
"""


def read_runs(reports_dir: Path) -> list[dict[str, Any]]:
    """Metadata of every run under ``reports_dir``, newest first."""
    runs = []
    for meta_path in reports_dir.glob("*/parameters.json"):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(meta, dict):
            continue
        meta["_dir"] = meta_path.parent.name
        runs.append(meta)
    runs.sort(key=lambda m: (_instant(m.get("started")), m["_dir"]), reverse=True)
    return runs


def _instant(iso: Any) -> float:
    """Seconds since the epoch of an ISO time with its offset (times in different zones
    compare by the moment they name); 0 when it cannot be read."""
    try:
        return datetime.fromisoformat(str(iso)).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _text(value: Any) -> str:
    """A parameter value as a reader writes it: text bare, lists comma-separated."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def compact_parameters(
    parameters: Mapping[str, Any] | None, sources: Mapping[str, str] | None = None
) -> str:
    """The parameters of a run that set something, as escaped ``name=value`` spans.

    Left out: parameters without a value, and those at the notebook's own default
    (``sources[name] == "notebook"``), which are the same for every run.

    Example:
        >>> compact_parameters({"as_of": "2026-11-20", "lang": "zh", "raw_dir": "data/raw"},
        ...                    {"as_of": "last order date", "lang": "given", "raw_dir": "notebook"})
        '<span>as_of=2026-11-20</span> · <span>lang=zh</span>'
    """
    sources = sources or {}
    parts = [
        f"<span>{html.escape(str(k))}={html.escape(_text(v))}</span>"
        for k, v in (parameters or {}).items()
        if v is not None and sources.get(k) != "notebook"
    ]
    return " · ".join(parts) or "–"


def _params_cell(m: Mapping[str, Any]) -> str:
    """The compact parameters, with all of them in the cell's tooltip."""
    every = ", ".join(f"{k}={_text(v)}" for k, v in (m.get("parameters") or {}).items())
    shown = compact_parameters(m.get("parameters"), m.get("parameter_sources"))
    return f'<td class="params" title="{html.escape(every)}">{shown}</td>'


def _href(*parts: str) -> str:
    return html.escape("/".join(quote(p) for p in parts))


def _title(m: Mapping[str, Any]) -> str:
    return html.escape(str(m.get("title") or Path(str(m.get("notebook", "report"))).stem))


def _latest_rows(runs: list[dict[str, Any]], tz: str) -> list[str]:
    rows = []
    seen: set[str] = set()
    for m in runs:
        key = str(m.get("key", ""))
        if m.get("status") != "ok" or not key or key in seen:
            continue
        seen.add(key)
        rows.append(
            f'<tr><td><a href="{_href("latest", key + ".html")}">{_title(m)}</a></td>'
            f"<td><code>{html.escape(str(m.get('notebook', '')))}</code></td>"
            f"{_params_cell(m)}"
            f"<td>{html.escape(local_time(str(m.get('started', '')), tz))}</td></tr>"
        )
    return rows


def _run_rows(runs: list[dict[str, Any]], tz: str, lang: str) -> list[str]:
    rows = []
    for m in runs:
        status = str(m.get("status", ""))
        err = m.get("error") or {}
        detail = f" ({html.escape(str(err.get('ename', '')))})" if status == "failed" else ""
        try:
            took = f"{float(m.get('duration_s') or 0):.1f} s"
        except (TypeError, ValueError):
            took = "–"
        rows.append(
            f'<tr><td><a href="{_href(m["_dir"], str(m.get("html", "")))}">{_title(m)}</a></td>'
            f"<td><code>{html.escape(str(m.get('notebook', '')))}</code></td>"
            f"{_params_cell(m)}"
            f"<td>{html.escape(local_time(str(m.get('started', '')), tz))}</td>"
            f"<td>{took}</td>"
            f'<td class="{html.escape(status)}">{html.escape(label(status, lang))}{detail}</td>'
            "</tr>"
        )
    return rows


def _table(heads: tuple[str, ...], rows: list[str], lang: str) -> str:
    if not rows:
        return f'<p class="note">{label("no_runs", lang)}</p>'
    head = "".join(f"<th>{label(k, lang)}</th>" for k in heads)
    return f'<div class="box"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def write_index(reports_dir: Path, lang: str = "zh", timezone: str = DEFAULT_TIMEZONE) -> Path:
    """Rebuild ``index.html`` from the runs' ``parameters.json``; return its path.

    Parameters:
        reports_dir: the folder holding one folder per run and ``latest/``.
        lang: language of the page (``zh`` or ``en``).
        timezone: the IANA time zone the start times are shown in.

    Example:
        >>> write_index(Path("reports"), lang="en")  # doctest: +SKIP
        PosixPath('reports/index.html')
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    runs = read_runs(reports_dir)
    page_title = html.escape(label("index_title", lang))
    latest = _table(
        ("report", "notebook", "parameters", "started"), _latest_rows(runs, timezone), lang
    )
    every = _table(
        ("report", "notebook", "parameters", "started", "duration", "status"),
        _run_rows(runs, timezone, lang),
        lang,
    )
    page = (
        f'<!DOCTYPE html><html lang="{HTML_LANG.get(lang, lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{page_title}</title><style>{_CSS}</style></head><body>"
        f"<h1>{page_title}</h1>"
        f'<p class="note">{html.escape(label("times_in", lang).format(tz=timezone))}</p>'
        f"<h2>{label('latest_good', lang)}</h2>{latest}"
        f"<h2>{label('runs', lang)}</h2>{every}"
        "</body></html>"
    )
    path = reports_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
