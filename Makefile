# Set-up and everyday commands. Every target installs what it needs into .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch goes in first: an unpinned torch can pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=
# `make bench` runs every benchmark; `make bench BENCH=char-lm BENCH_ARGS="--threads 1"` one
BENCH ?= all
BENCH_ARGS ?=

.PHONY: setup train test test-fast lint docs bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	# only aeon's shipped .ts files (JapaneseVowels, ItalyPowerDemand) are read: no dependencies
	$(PY) -m pip install -q --no-deps "aeon==1.6.0"
	touch $@

train: setup
	$(VENV)/bin/seqlstm-train

test: setup
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

# peers get their own venvs under .bench-venvs/ (created on first use); see docs/benchmarks.md
bench: setup
	$(PY) -m benchmarks $(BENCH) $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

docs: setup
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) logs outputs multirun .pytest_cache
