# Two commands set everything up from a fresh clone: `make demo` and `make test`.
# Both create .venv when it is missing and install what they need into it.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck unit bench docs examples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/custrec demo --workdir build/demo

test: lint typecheck unit

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy custrec

# Includes tests/test_wheel_install.py (builds and installs the wheel in a fresh venv);
# PYTEST_ARGS="-m 'not install'" leaves it out.
unit: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run.py --write docs/performance.md

docs: $(VENV)/.installed
	$(BIN)/python -m custrec.cli.reference > docs/cli.md

examples: $(VENV)/.installed
	$(BIN)/custrec generate customers --rows 25 --seed 7 --bad-share 0.2 -o examples/customers.csv \
		--defects examples/customers-defects.csv
	$(BIN)/custrec generate interactions --rows 60 --customers 25 --seed 7 --bad-share 0.2 \
		-o examples/interactions.csv --defects examples/interactions-defects.csv

clean:
	rm -rf $(VENV) build custrec-demo .pytest_cache .mypy_cache .ruff_cache .hypothesis
