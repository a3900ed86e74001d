"""The notebooks stay thin: one job call and one view call per cell, public names only,
no business logic or SQL in code, and no setting's value written into the narrative.

Each rule is checked on the real notebooks and, so it is known to bite, on a cell
that breaks it.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.config import specs
from workbench.report.params import (
    JOB_SETTINGS,
    SETTING_PARAMETERS,
    declared_parameters,
    notebook_jobs,
)
from workbench.segment.tags import WINDOWS

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
JOBS = ("sources", "unify", "segment", "plan", "review")
CONSTANT_PHRASES = (
    "/".join(str(n) for n in WINDOWS),  # the tag windows
    "/".join(str(n) for n in WINDOWS[1:]),  # the propensity model's look-back windows
    "1-5",  # RFM scores
)


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@dataclass
class Aliases:
    """What each name bound by a notebook's imports is: a job, a view, evaluation..."""

    kinds: dict[str, str]


def aliases(import_source: str) -> Aliases:
    kinds: dict[str, str] = {}
    for node in ast.walk(ast.parse(import_source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                kinds[a.asname or a.name] = kind_of(f"{node.module}.{a.name}")
        elif isinstance(node, ast.Import):
            for a in node.names:
                kinds[a.asname or a.name] = kind_of(a.name)
    return Aliases(kinds)


def kind_of(dotted: str) -> str:
    parts = dotted.split(".")
    if parts[:3] == ["workbench", "report", "views"] or parts[:2] == ["workbench", "ui"]:
        return "view"
    if parts[:2] == ["workbench", "report"]:
        return "session"
    if len(parts) > 1 and parts[1] in JOBS:
        return "job"
    if len(parts) > 1 and parts[1] == "evaluation":
        return "evaluation"
    return "other"


def calls_by_kind(source: str, names: Aliases) -> dict[str, int]:
    """How many calls of each kind a cell makes (by the imported name each call starts at)."""
    counts: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        root = node.func
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in names.kinds:
            kind = names.kinds[root.id]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def thin_cell_problems(source: str, names: Aliases) -> list[str]:
    """What makes a code cell more than one job call and one view call."""
    problems = []
    counts = calls_by_kind(source, names)
    for kind in ("job", "evaluation", "view", "session"):
        if counts.get(kind, 0) > 1:
            problems.append(f"{counts[kind]} {kind} calls")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda, ast.For, ast.While, ast.ClassDef)):
            problems.append(f"a {type(node).__name__}")
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and not re.fullmatch(r"[a-z_]*", text):
            problems.append(f"text {text!r} in code: make it a parameter")
    return problems


def import_problems(source: str) -> list[str]:
    """Imports of anything but a sub-package's public names."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            public = set(getattr(module, "__all__", ()))
            for a in node.names:
                target = f"{node.module}.{a.name}"
                if node.module == "workbench" or node.module == "workbench.report.views":
                    if target.count(".") > 2 and node.module != "workbench.report.views":
                        problems.append(f"{target} is not a sub-package")
                    continue
                if a.name not in public:
                    problems.append(f"{target} is not public (not in {node.module}.__all__)")
        elif isinstance(node, ast.Import):
            problems.extend(f"import {a.name}: import public names instead" for a in node.names)
    return problems


def stated_values(path: Path, jobs: tuple[str, ...]) -> dict[str, list[str]]:
    """The ways the narrative could write the value of a parameter or a setting the
    notebook runs with (those of ``jobs``): ``2`` for 2.0, ``90%`` and ``P90`` for 0.9."""
    values: dict[str, object] = {}
    for name, d in declared_parameters(path).items():
        if d.default is not None:
            values[name] = d.default
        job = SETTING_PARAMETERS.get(name, "").partition(".")[0]
        if job in JOB_SETTINGS:
            values[name] = getattr(JOB_SETTINGS[job](), name)
    for job in jobs:
        cls = JOB_SETTINGS[job]
        defaults = cls()
        values.update({n: getattr(defaults, n) for n in specs(cls)})
    forms: dict[str, list[str]] = {}
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        f = [f"{v:g}"]
        if 0 < v < 1:
            f += [f"{v * 100:g}%", f"P{v * 100:g}"]
        forms[name] = f
    return forms


def narrative_problems(text: str, forms: dict[str, list[str]]) -> list[str]:
    for phrase in CONSTANT_PHRASES:
        text = text.replace(phrase, " ")
    text = re.sub(r"\b[Ll]evel[- ]\d", " ", text)  # the tiers' levels are structure
    tokens = set(re.findall(r"P?\d+(?:\.\d+)?%?", text))
    return [
        f"{t!r} states the value of {name}: name the setting instead"
        for name, shown in forms.items()
        for t in sorted(tokens)
        if t in shown
    ]


def code_sources(path: Path) -> tuple[str, list[str]]:
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    body = ["".join(c["source"]) for c in code[1:]]
    imports = [s for s in body if s.lstrip().startswith(("from ", "import "))]
    return "\n".join(imports), [s for s in body if s not in imports]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_is_one_job_call_and_one_view_call(path: Path) -> None:
    imports, body = code_sources(path)
    names = aliases(imports)
    for source in body:
        assert thin_cell_problems(source, names) == [], source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_import_only_public_names(path: Path) -> None:
    imports, _ = code_sources(path)
    assert import_problems(imports) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_narrative_names_settings_instead_of_their_values(path: Path) -> None:
    forms = stated_values(path, notebook_jobs(path))
    for cell in cells(path):
        if cell["cell_type"] == "markdown":
            assert narrative_problems("".join(cell["source"]), forms) == []


NAMES = aliases(
    "from workbench import segment\nfrom workbench.report import start\n"
    "from workbench.report.views import segment as show\nfrom workbench.ui import explorer\n"
    "from workbench.evaluation import rc_recovery"
)


@pytest.mark.parametrize(
    "cell",
    [
        # two job calls
        "clusters = segment.tier_sizes(now.table)\nsegment.rc_table(now)",
        # a job call hidden in a view's argument, beside another
        "show.tier_table(segment.tier_sizes(segment.run(r.con, r.as_of).table), r.lang)",
        # two views
        "show.rc_table(x, r.lang)\nshow.tier_chart(y, r.lang)",
        # a business filter written as SQL text
        "segment.audience(r.con, now, 'bj', \"city = '北京市' AND orders_ever >= 1\")",
        # a loop and a lambda
        "for d in dates:\n    segment.run(r.con, d)",
        "show.rc_table(sorted(x, key=lambda v: v), r.lang)",
    ],
)
def test_the_thin_cell_check_catches(cell: str) -> None:
    assert thin_cell_problems(cell, NAMES) != []


@pytest.mark.parametrize(
    "imports",
    [
        "from workbench.segment import summary",
        "from workbench.segment.summary import tier_sizes",
        "from workbench.segment import cluster, propensity, tags",
        "import workbench.segment.rc",
    ],
)
def test_the_import_check_catches(imports: str) -> None:
    assert import_problems(imports) != []


def test_the_narrative_check_catches_written_values() -> None:
    path = next(p for p in NOTEBOOKS if p.name == "02_segment.ipynb")
    assert notebook_jobs(path) == ("segment",)
    forms = stated_values(path, ("segment",))
    for text in (
        "活跃（距上次购买不超过 2 个 RC）",
        "cells of fewer than 20 persons are left out",
        "90% of repeat customers buy again within 3 RC, so RC = P90 / 3",
        "light sleep up to 2.5 RC",
    ):
        assert narrative_problems(text, forms) != [], text
    assert narrative_problems("最近 7/30/90/365 天的订单数，1-5 分", forms) == []


def test_every_job_setting_has_a_label_in_both_languages() -> None:
    """The report's settings table and header name each setting in the report's language."""
    from workbench.report.labels import LABELS

    for cls in JOB_SETTINGS.values():
        for name in specs(cls):
            zh, en = LABELS[name]
            assert re.search(r"[\u4e00-\u9fff]", zh) and not re.search(r"[\u4e00-\u9fff]", en)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_parameter_has_a_label_in_both_languages(path: Path) -> None:
    """The report header names each parameter in the report's language."""
    from workbench.report.labels import LABELS

    for name in declared_parameters(path):
        zh, en = LABELS[name]
        assert re.search(r"[\u4e00-\u9fff]", zh) and not re.search(r"[\u4e00-\u9fff]", en)
