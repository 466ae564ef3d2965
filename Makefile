# peerqa: `make serve` sets up, ingests and serves; `make test` sets up and runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install serve test ingest lint clean browser

install: $(STAMP)

# Pinned by constraints.txt. pip (not uv) so torch==2.13.0 resolves to the local CPU wheel.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

ingest: install
	$(BIN)/peerqa ingest

# Ingest is a no-op (0 embeddings, no model load) when the store is already current.
serve: ingest
	$(BIN)/peerqa serve --host 127.0.0.1 --port 8000

# Debian's chromium for the browser tests (no-op when present).
browser:
	bash scripts/browser-deps.sh

test: install browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data .pytest_cache
