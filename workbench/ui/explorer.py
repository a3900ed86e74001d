"""Explorers for JupyterLab: move a bound, see the segments change at once.

Each explorer recomputes from a small in-memory table (one row per person,
a few columns), never from the warehouse. Run headlessly (papermill, the
report runner sets ``WORKBENCH_HEADLESS``), the same cell shows the static
table at the notebook's bounds, since nobody will move the controls.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pandas as pd

from workbench.report.labels import label
from workbench.report.views.common import Note
from workbench.report.views.segment import tier_table
from workbench.segment.lifecycle import Bounds
from workbench.segment.summary import retier

RC_BOUNDS: tuple[str, ...] = ("awake_rc", "active_rc", "light_sleep_rc", "lost_rc")


def headless() -> bool:
    """Whether the notebook runs without anyone to move the controls (a scheduled report)."""
    return os.environ.get("WORKBENCH_HEADLESS") == "1"


def tier_explorer(frame: pd.DataFrame, loyal_aov: float, bounds: Bounds, lang: str = "zh") -> Any:
    """Sliders for the lifecycle bounds (in RC) over the tier table.

    Parameters:
        frame: :func:`workbench.segment.summary.recency_frame` of a snapshot.
        loyal_aov: the snapshot's loyal-fan threshold (``Snapshot.loyal_aov``), kept
            fixed so only the bounds move.
        bounds: where the sliders start (the snapshot's bounds).
    """
    if headless():
        return tier_table(retier(frame, bounds, loyal_aov), lang)
    import ipywidgets as widgets

    sliders = {
        name: widgets.FloatSlider(
            value=getattr(bounds, name),
            min=0.25,
            max=6.0,
            step=0.05,
            description=label(name, lang),
            continuous_update=False,
            style={"description_width": "initial"},
        )
        for name in RC_BOUNDS
    }
    out = widgets.Output()

    def redraw(_: Any = None) -> None:
        chosen = replace(bounds, **{k: s.value for k, s in sliders.items()})
        try:
            shown: Any = tier_table(retier(frame, chosen, loyal_aov), lang)
        except ValueError as exc:  # bounds out of order
            shown = Note(str(exc), warning=True)
        # Set the output's content directly: capturing with ``with out:`` waits on a
        # front end, which a kernel run without one never answers.
        out.outputs = (
            {
                "output_type": "display_data",
                "data": {"text/html": shown._repr_html_()},
                "metadata": {},
            },
        )

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(sliders.values())), out])
