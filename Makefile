# Two commands do everything: `make demo` (the LFW demo audit) and `make test`.
# Both create the virtual environment and install the pinned stack first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Local dataset copies (lfw/, utkface/); override: make demo LFR_AUDIT_DATA=/data/faces
LFR_AUDIT_DATA ?= $(abspath ../shared/datasets)
export LFR_AUDIT_DATA

.PHONY: install demo demo-deployments test bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	$(BIN)/lfr-audit doctor
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/lfr-audit run examples/lfw-demo.toml

# The published deployment records and the worked examples of the README.
demo-deployments: $(STAMP)
	$(BIN)/lfr-audit deployments examples/deployments/records.csv \
	  --alerts examples/deployments/alerts.csv --crowd examples/deployments/crowd.csv \
	  --lab examples/deployments/lab.csv --out deployments-report

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache
