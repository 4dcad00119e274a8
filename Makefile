# Set-up and the two README commands. Override TORCH_SPEC for a GPU build,
# e.g. `make test TORCH_SPEC='torch>=2.4'`; the default is the local CPU wheel.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.weightzoo-installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	MPLBACKEND=Agg $(VENV)/bin/weightzoo demo --out demo_out

test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/zoo_throughput.py

clean:
	rm -rf $(VENV) demo_out
