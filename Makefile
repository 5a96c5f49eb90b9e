# Two commands on a fresh machine (each creates .venv when missing and installs the project with every extra):
#   make run    plays the built-in default world with the default agent
#   make test   runs the fast suite, then the Ray tests (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-slow lint bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The CPU build of torch first: otherwise pip resolves sentence-transformers to a multi-GB CUDA build.
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/recsim-lab run

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest -m ray

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check recsim_lab agents envs tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/env_throughput.py
