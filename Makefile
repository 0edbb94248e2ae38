# Two commands get a newcomer from nothing to a loaded warehouse: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED = false

.PHONY: run test typecheck install install-test install-cli browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,analysis]'

run: install
	$(BIN)/esf run --report esf-report.html
	@echo ""
	@echo "The report: $(CURDIR)/esf-report.html (open it in a browser; it needs no network)"
	@echo "To run esf from your shell:  source $(VENV)/bin/activate   then e.g.  esf search \"nyanlända kvinnor\""
	@echo "  (or without activating:  $(BIN)/esf --help;  or once:  make install-cli  to put esf on your PATH)"

# A wrapper in BIN_DIR (on your PATH) that runs this checkout's esf, so `esf` works from any shell.
BIN_DIR ?= $(HOME)/.local/bin
install-cli: install
	mkdir -p $(BIN_DIR)
	printf '#!/bin/sh\nexec "%s/esf" "$$@"\n' "$(abspath $(BIN))" > $(BIN_DIR)/esf
	chmod +x $(BIN_DIR)/esf
	@echo "installed $(BIN_DIR)/esf -> $(abspath $(BIN))/esf"

# Debian's Chromium, for the report's browser test (tests skip it where Chromium is absent). Needs root.
browser:
	apt-get update && apt-get install -y chromium

# Two test processes (pytest-xdist), a file each at a time: many tests wait on servers, schedules and backoff,
# so the suite takes about half as long as in one process. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: install-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# mypy as configured in pyproject.toml: strict on records/, transform/, schemas/, load/ and service/, clean on the rest.
typecheck: install-test
	$(BIN)/mypy

bench: install-test
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) esf.duckdb esf.work.duckdb* esf.raw.duckdb* .pytest_cache esf-report.html
