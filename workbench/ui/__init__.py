"""ipywidgets explorers for notebooks run in JupyterLab; run headlessly, each shows the
static table at the notebook's parameters instead.

Modules:
    explorer: ``tier_explorer``, sliders for the lifecycle bounds over the tier table.
    planner: ``planner``, per-cell rates and order values of a plan, its total and gap,
        and saving it.
"""

from workbench.ui import explorer, planner

__all__ = ["explorer", "planner"]
