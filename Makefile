# Every target sets itself up on a fresh machine: the venv is (re)built from the lock file
# whenever pyproject.toml or requirements.lock changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATASETS ?= ../shared/datasets

.PHONY: run test check bench eval lock clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -c 'from anomalert.detect.engine import compile_kernels; compile_kernels()'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/anomalert live-demo

test: $(STAMP)
	bash scripts/ensure-system-packages.sh
	$(BIN)/python -m pytest -q -n 2

check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/noise.py

eval: $(STAMP)
	$(BIN)/python -m anomalert.evaluate.run --datasets $(DATASETS) --out eval-results --floors eval-floors.json

# Regenerate the lock file after changing pyproject.toml (pins every transitive dependency).
lock:
	rm -rf /tmp/anomalert-lock && $(PYTHON) -m venv /tmp/anomalert-lock
	/tmp/anomalert-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/anomalert-lock/bin/pip freeze --all --exclude-editable | grep -v -e '^anomalert' -e '^pip==' > requirements.lock

clean:
	rm -rf $(VENV) eval-results bench-results demo-output
