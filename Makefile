# retail-workbench. Quick start: `make demo`, `make test`.
# The virtual environment is built from requirements.lock when missing or stale.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

# Notebook kernels and the `workbench` command come from the project's environment.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv demo test lint format typecheck pytest lab bench lock clean

# Notebooks are committed without outputs: at the top of a git work tree, the
# nbstripout filter that .gitattributes names is set up for this clone (by a path
# relative to the work tree, so each work tree runs its own .venv; cell ids are
# kept, so a notebook without outputs is committed unchanged); elsewhere, nothing.
# The kernel's language_info (its Python version, lexer...) that JupyterLab writes on
# save is dropped too; the kernelspec is kept as the project's kernel writes it.
STRIP := $(BIN)/nbstripout --keep-id --extra-keys metadata.language_info
GIT_FILTER = if git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
	&& [ -z "$$(git rev-parse --show-cdup)" ]; then \
	git config filter.nbstripout.clean '$(STRIP)' \
	&& git config filter.nbstripout.smudge cat \
	&& git config filter.nbstripout.required true \
	&& git config diff.ipynb.textconv '$(STRIP) -t'; fi

venv: $(STAMP)
	@$(GIT_FILTER)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@$(GIT_FILTER)
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/workbench demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check workbench tests bench
	$(BIN)/ruff format --check workbench tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix workbench tests bench
	$(BIN)/ruff format workbench tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2

# The kernel starts in notebooks/; WORKBENCH_ROOT points its settings at the project.
lab: $(STAMP)
	WORKBENCH_ROOT=$(CURDIR) $(BIN)/jupyter lab notebooks/

# The segment benchmark on 1M persons; e.g. make bench BENCH_ARGS="--persons 10000000 --repeat 3"
bench: $(STAMP)
	$(BIN)/workbench bench $(BENCH_ARGS)

# Re-resolve the pinned versions after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --extra spark --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
