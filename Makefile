# peerqa: `make serve` sets up, ingests and serves; `make test` sets up and runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install serve test test-fast ingest lint clean browser

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

# Every tier on the embedded store, then the tests marked chroma_server (those whose
# behaviour depends on the store: ingest, loading, Chroma queries, faults, scale-out) again
# on a throwaway Chroma server (test-server). Tiers: pyproject.toml's pytest markers;
# `pytest -m model` (or eval, server, browser, slow, chroma_server) runs one alone.
test: install browser
	$(BIN)/python -m pytest --ignore=tests/test_scaleout.py
	$(MAKE) --no-print-directory test-server

# The unit tier: no real model (tests/conftest.py fails a test here that reaches it), no
# server, browser, evaluation or whole-paper PDFs. Under a minute.
FAST := not (model or eval or server or browser or slow)
test-fast: install
	$(BIN)/python -m pytest -m "$(FAST)"

# scripts/chroma-server.sh: `chroma run` on a free loopback port with a temporary --path,
# PEERQA_TEST_CHROMA_URL for the tests, stopped and deleted however the run ends.
.PHONY: test-server
test-server: install
	bash scripts/chroma-server.sh $(BIN)/python -m pytest -m chroma_server

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data .pytest_cache

# Performance figures beside llama-index defaults on temporary data dirs, with issue 14's
# ingest speed (bench/speed.py): one table prints every target (/v1/search and /v1/ask p50,
# cold ingest of user papers against the bundled paper, start on a fresh cache dir,
# /v1/ask p95 during uploads on both stores) beside its goal; writes bench/results.{json,md}.
# ~45 min on 2 quiet cores; `BENCH_SCALES= make bench` skips the 10k/100k synthetic
# corpora (~25 min), BENCH_SCALES=10000 keeps the smaller one.
.PHONY: bench
bench: install
	$(BIN)/python -m bench

# The running service under load on a free loopback port: 2,000 mixed requests 32 at a time,
# re-ingest under load, then >= 1,000 schemathesis cases; non-zero exit on any failure.
# `scripts/chroma-server.sh make soak` runs it on a Chroma server (re-ingest by the CLI).
.PHONY: soak
soak: install
	$(BIN)/python -m soak.run
