# The README's two commands are `make demo` and `make test`; everything else here serves them or CI.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ORACLE_VENV ?= $(or $(MXLITE_ORACLE_VENV),/tmp/mxref)
export MXLITE_ORACLE_VENV := $(ORACLE_VENV)

.PHONY: demo test venv oracle lint kernels-check bench-smoke clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev,examples,bench]'
	touch $@

venv: $(BIN)/.installed

oracle:
	bash tools/ensure_oracle.sh "$(ORACLE_VENV)"

demo: venv
	$(BIN)/python examples/demo.py

test: venv oracle
	$(BIN)/python -m pytest -q -ra

lint: venv
	$(BIN)/ruff check mxlite tests bench examples
	$(BIN)/ruff format --check mxlite tests bench examples
	$(BIN)/mypy mxlite

kernels-check:
	bash tools/check_kernels.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
