# attnserve — the two commands a fresh clone needs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
RAY_STAMP := $(VENV)/.installed-ray
RAY_CPUS ?= $(shell nproc)
RAY_INGRESS ?= haproxy

.PHONY: install serve test lint bench container-test ddp-smoke docs docs-build clean data serve-ray test-ray

install: $(STAMP)

# Re-runs only when pyproject.toml changes. torch is pinned (pyproject.toml); on this project's
# machines pip is pointed at a local CPU wheel. Elsewhere plain PyPI resolves the pin to the CUDA
# build (GBs): on a laptop without a GPU run `make install TORCH_INDEX=https://download.pytorch.org/whl/cpu`
# to take the CPU build of the same version from PyTorch's index first. PYTHONWARNINGS=ignore keeps
# setuptools from printing a page of notes about editable installs on every fresh install.
# Two stamps: $(STAMP), the runtime dependencies and the extras (every target but serve), and
# $(RUNTIME_STAMP), the runtime dependencies alone (`make serve`); a later `make test` adds the extras.
TORCH_INDEX ?=
TORCH_PIN := $(shell grep -o '"torch==[^"]*"' pyproject.toml)
define venv_and_torch
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(if $(TORCH_INDEX),$(PY) -m pip install -q $(TORCH_PIN) --index-url $(TORCH_INDEX))
endef
$(STAMP): pyproject.toml
	$(venv_and_torch)
	PYTHONWARNINGS=ignore $(PY) -m pip install -q -e ".[train,dev,docs,postgres]"
	touch $(RUNTIME_STAMP) $(STAMP)

$(RUNTIME_STAMP): pyproject.toml
	$(venv_and_torch)
	PYTHONWARNINGS=ignore $(PY) -m pip install -q -e .
	touch $(RUNTIME_STAMP)

# WORKERS=N: N uvicorn processes, one model copy and cores/N torch threads each.
# app.serve runs uvicorn with the connection settings (docs/deployment.md) and without proxy headers:
# the app decides whose X-Forwarded-For to trust (ATTNSERVE_FORWARDED_ALLOW_IPS). Only the runtime
# dependencies are installed for it. exec: the server takes the shell's place, so a SIGTERM that make
# passes on reaches it (the shell died of it and left the server running).
serve: $(RUNTIME_STAMP)
	WEB_CONCURRENCY=$(WORKERS) exec $(PY) -m app.serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest

# Ray Serve (the optional `ray` extra, docs/deployment.md): a local Ray cluster of RAY_CPUS CPUs (no
# dashboard, no usage stats) and the application of deploy/ray/serve.yaml on $$HOST:$$PORT, in the
# foreground (deploy/ray/run-local.sh); Ctrl-C or a SIGTERM stops the application, then the cluster.
# Ray's HAProxy ingress (deploy/ray/haproxy.env); RAY_INGRESS=proxy: its Python proxy instead.
# Other machines join with `ray start --address=<this machine>:6379` before the application starts.
$(RAY_STAMP): pyproject.toml
	$(venv_and_torch)
	PYTHONWARNINGS=ignore $(PY) -m pip install -q -e ".[ray]"
	touch $(RAY_STAMP)

serve-ray: $(RAY_STAMP)
	VENV=$(VENV) HOST=$(HOST) PORT=$(PORT) CPUS=$(RAY_CPUS) INGRESS=$(RAY_INGRESS) exec deploy/ray/run-local.sh

# the Ray Serve test (2 replicas on a local 2-CPU cluster, one killed under load); CI runs it
test-ray: install $(RAY_STAMP)
	ATTNSERVE_REQUIRE_RAY=1 RAY_USAGE_STATS_ENABLED=0 $(PY) -m pytest tests/test_ray_serve.py

# ruff (lint, import order, format check) and mypy, both configured in pyproject.toml
# (mypy: strict for models/ and app/core/, the files it checks listed there).
lint: install
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy

bench: install
	$(PY) -m bench.translate_speed

# The training data (Tatoeba pairs, S&P 500 prices) from public sources into DATA_DIR, the folder the
# training commands read; every file checked against the project's sha256, files already there skipped
# (docs/training.md, "Getting the data"). DATA_ARGS passes options on, e.g. DATA_ARGS="--only prices".
DATA_DIR ?= ../shared/data
DATA_ARGS ?=
data: install
	$(PY) -m training.data_download --dest $(DATA_DIR) $(DATA_ARGS)

# Both training commands under torchrun with 2 CPU processes (gloo) on tiny data: every rank
# ends with the same weights, and with the weights one process reaches on the same global batches.
ddp-smoke: install
	$(PY) -m pytest -q -s tests/test_distributed.py

container-test: install
	bash docker/container-test.sh

# The documentation site (docs/, mkdocs.yml; MkDocs with the Material theme, the `docs` extra).
# `make docs` serves it with live reload on DOCS_ADDR; `make docs-build` writes site/ (git-ignored)
# and fails on any warning, a broken link or anchor included, as CI runs it. NO_MKDOCS_2_WARNING
# silences the theme's banner about MkDocs 2.0 (mkdocs is pinned below 2 in pyproject.toml).
DOCS_ADDR ?= 127.0.0.1:8001
docs: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve --dev-addr $(DOCS_ADDR)

docs-build: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache site
