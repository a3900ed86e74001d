"""Explorers for JupyterLab: move a bound, see the segments change at once.

Each explorer recomputes from a small in-memory table (one row per person,
a few columns), never from the warehouse. Run headlessly (papermill, the
report runner sets ``WORKBENCH_HEADLESS``), the same cell shows the static
table at the notebook's bounds, since nobody will move the controls.
"""

from __future__ import annotations

import os
from typing import Any

from workbench.report.labels import label
from workbench.report.views.common import Note
from workbench.report.views.segment import tier_table
from workbench.segment import Snapshot, recency_frame, retier

RC_BOUNDS: tuple[str, ...] = ("awake_rc", "active_rc", "light_sleep_rc", "lost_rc")


def headless() -> bool:
    """Whether the notebook runs without anyone to move the controls (a scheduled report)."""
    return os.environ.get("WORKBENCH_HEADLESS") == "1"


def tier_explorer(s: Snapshot, lang: str = "zh") -> Any:
    """Sliders for the lifecycle bounds (in RC) over the tier table of a snapshot.

    One slider per row, each wide enough to set a bound to a twentieth of an RC
    with a mouse. The bounds cannot cross: moving one past its neighbour pushes
    the neighbour along, so the table always shows a valid tiering. The
    loyal-fan threshold stays the snapshot's, so only the bounds move.

    Parameters:
        s: a snapshot (:func:`workbench.segment.run`); the sliders start at its bounds.
        lang: the report's language.
    """
    if headless():  # the tier table at these bounds is already in the report
        return Note(label("explorer_in_lab", lang))
    import ipywidgets as widgets

    frame = recency_frame(s)
    loyal_aov = s.loyal_aov or 0.0
    bounds = s.settings

    sliders = [
        widgets.FloatSlider(
            value=getattr(bounds, name),
            min=0.25,
            max=6.0,
            step=0.05,
            description=label(name, lang),
            continuous_update=False,
            readout_format=".2f",
            style={"description_width": "13em"},
            layout=widgets.Layout(width="100%", max_width="56em"),
        )
        for name in RC_BOUNDS
    ]
    out = widgets.Output()
    moving = [False]

    def redraw(change: Any = None) -> None:
        if moving[0]:
            return
        moving[0] = True
        try:
            if change is not None:
                _keep_in_order(sliders, sliders.index(change["owner"]))
        finally:
            moving[0] = False
        chosen = bounds.updated({n: w.value for n, w in zip(RC_BOUNDS, sliders, strict=True)})
        shown = tier_table(retier(frame, chosen, loyal_aov), lang)
        # Set the output's content directly: capturing with ``with out:`` waits on a
        # front end, which a kernel run without one never answers.
        out.outputs = (
            {
                "output_type": "display_data",
                "data": {"text/html": shown._repr_html_()},
                "metadata": {},
            },
        )

    for slider in sliders:
        slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([*sliders, out])


def _keep_in_order(sliders: list[Any], moved: int) -> None:
    """Push the neighbours of slider ``moved`` so the values never decrease along the list."""
    value = sliders[moved].value
    for later in sliders[moved + 1 :]:
        later.value = max(later.value, value)
    for earlier in sliders[:moved]:
        earlier.value = min(earlier.value, value)
