# The README's two commands are `make demo` and `make test`; everything else here serves them or CI.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ORACLE_VENV ?= $(or $(MXLITE_ORACLE_VENV),/tmp/mxref)
export MXLITE_ORACLE_VENV := $(ORACLE_VENV)

.PHONY: demo tour test venv oracle lint lint-ci kernels-check wheel-check bench-smoke gpu-check clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev,examples,bench]'
	touch $@

venv: $(BIN)/.installed

# hadolint, actionlint and shellcheck (binaries shipped in wheels: the `ci` extra).
$(BIN)/.ci-tools: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[ci]'
	touch $@

# PyTorch's CPU build, from PyTorch's own index (PyPI's wheel pulls in CUDA libraries): the peer
# that the DLPack interop tests and the benchmark's CPU rows compare against. Few retries: where
# that index cannot be reached, pip goes on to the machine's configured find-links and indexes at
# once instead of backing off five times per package.
$(BIN)/.torch: $(BIN)/.installed
	$(BIN)/python -m pip install -q --retries 1 --timeout 30 \
		--index-url https://download.pytorch.org/whl/cpu 'torch>=2.1'
	touch $@

# mpi4py and MPICH (the `dist` extra; the mpich wheel brings mpiexec): the distributed-store
# tests start real worker processes with mpiexec.
$(BIN)/.dist: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[dist]'
	touch $@

oracle:
	bash tools/ensure_oracle.sh "$(ORACLE_VENV)"

# The main job: data-parallel MLP training on every available context (GPUs, else cpu(0), cpu(1)).
demo: venv
	$(BIN)/python examples/train_mlp.py

# A short tour of contexts, NDArray, parameters and save/load that checks what it prints.
tour: venv
	$(BIN)/python examples/demo.py

test: venv $(BIN)/.torch $(BIN)/.dist oracle
	$(BIN)/python -m pytest -q -ra

# Runs all three checks, then fails if any did.
lint: venv
	@status=0; \
	echo "ruff check"; $(BIN)/ruff check mxlite tests bench examples || status=1; \
	echo "ruff format --check"; $(BIN)/ruff format --check mxlite tests bench examples || status=1; \
	echo "mypy mxlite"; $(BIN)/mypy mxlite || status=1; \
	exit $$status

lint-ci: $(BIN)/.ci-tools
	bash tools/lint_ci.sh $(BIN)

kernels-check:
	bash tools/check_kernels.sh

# On a GPU machine with CuPy, Numba, pytest and PyTorch installed (no network needed): environment,
# kernels, 4 GiB tensors, selftest, pytest -m gpu and the benchmark in under 8 minutes, results
# under $OUT (DEVELOPERS.md). Without a GPU it is a dry run that reports the GPU steps as skipped.
# PYTHON=/path/to/python picks the interpreter that has CuPy.
gpu-check:
	$(PYTHON) tools/gpu_check.py --out "$${OUT:-gpu-check-results}"

# Builds the wheel as docker/Dockerfile's builder stage does and checks it in a clean venv.
wheel-check:
	bash tools/check_wheel.sh

# Benchmark smoke test: the harness in bench/ on its smallest size (the harness is issue 5's work).
bench-smoke: venv
	$(BIN)/python -m bench --size tiny

clean:
	rm -rf $(VENV) build dist *.egg-info
