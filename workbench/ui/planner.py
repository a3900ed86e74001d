"""The planner for JupyterLab: change rates and order values per cell, see the total and the
gap at once, and save the plan.

Every change recomputes from the plan's small planning table (one row per
cell), never from the warehouse. Run headlessly, the cell shows a note: the
report already shows the plan with the levers it was given.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.plan import LEVER_COLUMNS, Plan, with_levers, write
from workbench.plan.history import OUTSIDE
from workbench.report.format import money
from workbench.report.labels import label
from workbench.report.views.common import Note
from workbench.ui.explorer import headless


def levers_of(plan: Plan, edits: dict[tuple[str, str], dict[str, Any]]) -> pd.DataFrame:
    """The lever table from the planner's edits: a row for each cell whose rate or order
    value differs from its baseline, or that has a measure or owner."""
    base = plan.cells.set_index(["segment", "member_tier"])
    rows = []
    for key, e in edits.items():
        rate, aov = e.get("rate"), e.get("aov")
        b = base.loc[key]
        changed_rate = rate is not None and not _same(rate, b["rate"])
        changed_aov = aov is not None and not _same(aov, b["aov"])
        if changed_rate or changed_aov or e.get("measure") or e.get("owner"):
            rows.append(
                {
                    "segment": key[0],
                    "member_tier": key[1],
                    "rate": rate if changed_rate else None,
                    "aov": aov if changed_aov else None,
                    "measure": e.get("measure", ""),
                    "owner": e.get("owner", ""),
                    "note": e.get("note", ""),
                }
            )
    return pd.DataFrame(rows, columns=LEVER_COLUMNS)


def _same(a: Any, b: Any) -> bool:
    return bool(pd.isna(b)) or abs(float(a) - float(b)) < 1e-9


def planner(plan: Plan, con: Any, lang: str = "zh") -> Any:
    """Per cell, the repurchase rate and GMV per buyer as inputs with the measure and owner;
    the planned total and the remaining gap update as they change; a button saves the
    plan with these levers as a new version.

    Parameters:
        plan: a plan (:func:`workbench.plan.run`); the inputs start at its levers.
        con: the warehouse, for saving.
        lang: the report's language.
    """
    if headless():
        return Note(label("planner_in_lab", lang))
    import ipywidgets as widgets

    cells = plan.cells[plan.cells["segment"] != OUTSIDE]
    cells = cells[cells["population"].fillna(0) > 0]
    edits: dict[tuple[str, str], dict[str, Any]] = {}
    rows = []
    status = widgets.HTML()
    result = widgets.HTML()
    current = {"plan": plan}

    def update(_: Any = None) -> None:
        try:
            p = with_levers(plan, levers_of(plan, edits))
        except ValueError as exc:
            status.value = f"<span style='color:#8a1c1c'>{exc}</span>"
            return
        current["plan"] = p
        gap = (
            ""
            if p.target is None
            else f" · {label('plan_remaining', lang)} {money(p.remaining_gap, lang, short=False)}"
        )
        status.value = (
            f"<b>{label('plan_planned', lang)} {money(p.planned, lang, short=False)}</b>{gap}"
        )

    width = widgets.Layout(width="8em")
    for r in cells.itertuples():
        key = (str(r.segment), str(r.member_tier))
        edits[key] = {}
        rate = widgets.BoundedFloatText(
            value=round(float(r.planned_rate) * 100, 2), min=0, max=100, step=0.5, layout=width
        )
        aov = widgets.BoundedFloatText(
            value=round(float(r.planned_aov), 2), min=0, max=1e9, step=1, layout=width
        )
        measure = widgets.Text(value=str(r.measure), layout=widgets.Layout(width="14em"))
        owner = widgets.Text(value=str(r.owner), layout=widgets.Layout(width="8em"))

        def on(change: Any, key: tuple[str, str] = key, field: str = "") -> None:
            value = change["new"]
            edits[key][field] = value / 100 if field == "rate" else value
            update()

        for w, field in ((rate, "rate"), (aov, "aov"), (measure, "measure"), (owner, "owner")):
            w.observe(lambda c, key=key, field=field: on(c, key, field), names="value")
        name = f"{label(key[0], lang)} · {label(key[1], lang)}"
        rows.append(
            widgets.HBox(
                [
                    widgets.Label(name, layout=widgets.Layout(width="18em")),
                    rate,
                    aov,
                    measure,
                    owner,
                ]
            )
        )
    head = widgets.HBox(
        [
            widgets.Label(label(k, lang), layout=widgets.Layout(width=w))
            for k, w in (
                ("plan_segment", "18em"),
                ("plan_rate_planned", "8em"),
                ("plan_aov_planned", "8em"),
                ("plan_measure", "14em"),
                ("plan_owner", "8em"),
            )
        ]
    )
    save = widgets.Button(description=label("save", lang), button_style="primary")

    def on_save(_: Any) -> None:
        p = current["plan"]
        version = write(con, p)
        result.value = label("plan_saved", lang).format(name=p.name, version=version)

    save.on_click(on_save)
    update()
    return widgets.VBox([head, *rows, status, widgets.HBox([save, result])])
