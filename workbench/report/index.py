"""``reports/index.html``: every run, newest first, and the latest good report of each."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from workbench.report.labels import label

_CSS = """
body { font-family: system-ui, 'PingFang SC', 'Microsoft YaHei', sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 24px; }
table { border-collapse: collapse; font-size: 13px; }
th { background: #f3f5f8; text-align: left; padding: 4px 10px; }
td { padding: 3px 10px; border-bottom: 1px solid #eee; vertical-align: top; }
.failed { color: #b00020; font-weight: 600; } .ok { color: #2e7d32; }
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
        meta["_dir"] = meta_path.parent.name
        runs.append(meta)
    runs.sort(key=lambda m: (m.get("started", ""), m["_dir"]), reverse=True)
    return runs


def write_index(reports_dir: Path, lang: str = "zh") -> Path:
    """Rebuild ``index.html`` from the runs' ``parameters.json``; return its path."""
    esc = html.escape
    reports_dir.mkdir(parents=True, exist_ok=True)
    runs = read_runs(reports_dir)

    def params(m: dict[str, Any]) -> str:
        p = m.get("parameters") or {}
        return (
            esc(", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in p.items())) or "–"
        )

    latest_rows = []
    seen: set[str] = set()
    for m in runs:
        key = m.get("key", "")
        if m.get("status") != "ok" or key in seen:
            continue
        seen.add(key)
        latest_rows.append(
            f"<tr><td><code>{esc(m.get('notebook', ''))}</code></td><td>{params(m)}</td>"
            f"<td>{esc(m.get('started', ''))}</td>"
            f'<td><a href="latest/{esc(key)}.html">{label("report", lang)}</a></td></tr>'
        )
    run_rows = []
    for m in runs:
        status = m.get("status", "")
        err = m.get("error") or {}
        detail = f" ({esc(err.get('ename', ''))})" if status == "failed" else ""
        run_rows.append(
            f"<tr><td><code>{esc(m.get('notebook', ''))}</code></td><td>{params(m)}</td>"
            f"<td>{esc(m.get('started', ''))}</td><td>{m.get('duration_s', 0):.1f} s</td>"
            f'<td class="{esc(status)}">{esc(label(status, lang))}{detail}</td>'
            f'<td><a href="{esc(m["_dir"])}/{esc(m.get("html", ""))}">{label("report", lang)}</a></td></tr>'
        )
    head = "".join(
        f"<th>{label(k, lang)}</th>" for k in ("notebook", "parameters", "started", "report")
    )
    head_runs = "".join(
        f"<th>{label(k, lang)}</th>"
        for k in ("notebook", "parameters", "started", "duration", "status", "report")
    )
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>retail-workbench reports</title><style>{_CSS}</style></head><body>"
        "<h1>retail-workbench</h1>"
        f"<h2>{label('latest_good', lang)}</h2><table><tr>{head}</tr>{''.join(latest_rows)}</table>"
        f"<h2>{label('runs', lang)}</h2><table><tr>{head_runs}</tr>{''.join(run_rows)}</table>"
        "</body></html>"
    )
    path = reports_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
