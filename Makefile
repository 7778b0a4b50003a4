# Two commands for a new user (README): `make reproduce` and `make test`; `make docs` builds the reference.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= results/quick

.PHONY: reproduce reproduce-full test docs bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/moe-approx reproduce --quick --out $(OUT)

reproduce-full: $(STAMP)
	$(BIN)/moe-approx reproduce --full --out results/full

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q --junitxml=$(OUT)/pytest.xml  # its count and time go to README.md (--update-docs)

$(VENV)/.docs-stamp: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-stamp  # API reference and theory text, warnings as errors; HTML in docs/_build/html
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis docs/_build docs/_notebooks
