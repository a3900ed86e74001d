"""``python -m workbench.bench STEP ...``: one step in a process of its own."""

import sys

from workbench.bench.steps import main

sys.exit(main(sys.argv[1:]))
