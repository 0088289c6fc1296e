# `make run` and `make test` are all a fresh machine needs: each creates .venv
# if missing and (re)installs when pyproject.toml changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench clean

run: $(STAMP)
	$(VENV)/bin/workbench

test: $(STAMP)
	$(PY) -m pytest -q -ra -n 2 --dist worksteal

test-fast: $(STAMP)
	$(PY) -m pytest -q -ra -n 2 --dist worksteal -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,bench]"
	$(PY) benchmarks/dqn_cartpole.py

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is pinned first to the CPU wheel on this machine's disk, so the range in
# pyproject.toml is already satisfied and pip never fetches a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check "torch==2.13.0"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
