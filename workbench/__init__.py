"""retail-workbench: unify, segment, plan and review multi-channel brand CRM data.

The package backs the notebooks in ``notebooks/``; each job is a sub-package
(``sources``, ``unify``, ``segment``, ``plan``, ``review``, ``report``) whose
``__init__`` lists its public functions.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("retail-workbench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
