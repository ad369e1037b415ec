# Two commands do everything on a fresh machine:
#   make train   create .venv if missing, install the project, train the default agent
#   make test    create .venv if missing, install the project with its test extras, run the tests
#   make lint    ruff (lint, import order) on LINTED and RUFF_ONLY, mypy on the packages listed in LINTED
#   make docs    the documentation site (mkdocs-material, API reference from the docstrings) into site/
#   make paper   reproduce the paper (python reproduce.py; ARGS="--quick" for a short check)
# Extra arguments reach the scripts through ARGS, e.g. `make train ARGS="--algo ppo -n 50000"`.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev
# On a machine without an NVIDIA GPU, install the CPU build of torch before anything asks for torch,
# so pip does not pull the multi-GB CUDA build. Override TORCH_SPEC (or set it empty) to choose.
TORCH_SPEC ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,torch==2.13.0)
ARGS ?=
LINTED := integrators controller threebody_env agents
# Tests, benchmarks and the scripts: ruff only (mypy checks the packages they call).
RUFF_ONLY := tests benchmarks train.py evaluate.py sweep.py reproduce.py

STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: train evaluate test lint bench docs paper setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(TORCH_SPEC),$(PY) -m pip install --quiet "$(TORCH_SPEC)")
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

train: $(STAMP)
	$(PY) train.py $(ARGS)

evaluate: $(STAMP)
	$(PY) evaluate.py $(ARGS)

# The notebooks of examples/ run as tests too (nbmake), unless ARGS selects tests itself.
test: $(STAMP)
	$(PY) -m pytest $(if $(ARGS),$(ARGS),tests --nbmake examples)

paper: $(STAMP)
	$(PY) reproduce.py $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check $(LINTED) $(RUFF_ONLY)
	$(PY) -m mypy $(LINTED)

bench:
	$(MAKE) EXTRAS=dev,bench setup
	$(PY) benchmarks/bench_integrators.py $(ARGS)

docs:
	$(MAKE) EXTRAS=dev,docs setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict $(ARGS)

clean:  ## also drops Numba caches, which miss edits to files a kernel inlines
	rm -rf $(VENV) build site *.egg-info
	find . -name __pycache__ -not -path "./.venv/*" -exec rm -rf {} +
