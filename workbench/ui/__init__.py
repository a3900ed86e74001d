"""ipywidgets explorers for notebooks run in JupyterLab; run headlessly, each shows the
static table at the notebook's parameters instead.

Modules:
    explorer: ``tier_explorer``, sliders for the lifecycle bounds over the tier table.
"""

from workbench.ui import explorer

__all__ = ["explorer"]
