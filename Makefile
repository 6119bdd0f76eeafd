# `make run` launches the studio, `make test` runs the whole suite, `make test-fast` the tests
# that neither train nor start processes (no lint); all set up .venv first.
# TORCH picks the PyTorch requirement: plain `torch` by default (CUDA wheels on Linux);
# CI and CPU-only machines use `make test TORCH=torch==2.13.0`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/python main.py

lint: setup
	$(BIN)/ruff check studio tests bench docs main.py
	$(BIN)/lint-imports
	$(BIN)/mypy

TEST_ENV := QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

test: lint
	$(TEST_ENV) $(BIN)/python -m pytest

test-fast: setup
	$(TEST_ENV) $(BIN)/python -m pytest -m "not train and not process"

bench: setup
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.padding
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.gui_startup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.gui_plot
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.gui_latency

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
