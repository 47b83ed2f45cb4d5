# Gavel developer commands. `make run` and `make test` are the whole quick start.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Two installs, each remembered by a stamp named for pyproject.toml's checksum (an edit of
# pyproject makes both stale; a new mtime alone does not). `make run` installs what the
# server imports at run time ([project] dependencies) and nothing else, so a fresh clone
# serves quickly; `make test`, `make lint` and `make bench` add the dev extras (pytest,
# Playwright, Locust, mypy, ...). The dev install holds the server's, so it stamps both.
SUM          := $(shell cksum < pyproject.toml | cut -d' ' -f1)
SERVER_STAMP := $(VENV)/.installed-server-$(SUM)
DEV_STAMP    := $(VENV)/.installed-dev-$(SUM)
FORGET_STALE := find $(VENV) -maxdepth 1 -name '.installed-*' ! -name '*-$(SUM)' -delete

.PHONY: run test lint bench clean

# -qq: pip says only what failed (and why); its warnings and the build backend's notices
# would otherwise bury the demo's links that `make run` prints last.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip

$(SERVER_STAMP): $(BIN)/python
	@echo "gavel: installing the server's dependencies (again only when pyproject.toml changes)"
	$(BIN)/python -m pip install -qq -e .
	@$(FORGET_STALE)
	@touch $(SERVER_STAMP)

$(DEV_STAMP): $(BIN)/python
	@echo "gavel: installing the server and the dev extras"
	$(BIN)/python -m pip install -q -e '.[dev]'
	@$(FORGET_STALE)
	@touch $(DEV_STAMP) $(SERVER_STAMP)

run: $(SERVER_STAMP)
	$(BIN)/gavel serve --demo

# ruff, and mypy --strict over pyproject's [tool.mypy] files (engine contracts api bidders_sim
# loadtests). `make test` runs it first; the suite itself runs only the quick ruff checks
# again (tests/test_sourcecode.py), so mypy runs once.
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict

# The browser tests drive Debian's Chromium (never a downloaded one); install it if missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "gavel: installing Debian's chromium for the browser tests (apt-get, needs root)"
	apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)

# The suite runs in $(JOBS) processes (pytest-xdist; --dist loadfile keeps a test file's
# tests, and the module-scoped servers and browsers they share, in one worker), measured
# by pytest-cov, which combines the workers' data for `coverage report`. JOBS=0 runs it in
# this process alone (`make test JOBS=0`). Three workers on two cores: most of the suite
# waits (servers, browsers, sleeps), and a third worker fills those waits. Measured on a
# 2-vCPU AMD EPYC, clean clone, embedded PostgreSQL (2026-12-07, 4,270 tests): 1,186 s of
# pytest with 2 workers, 990 s with 3.
JOBS ?= 3
ifeq ($(JOBS),0)
PARALLEL :=
else
PARALLEL := -n $(JOBS) --dist loadfile
endif
# A test that fails is run once more (pytest-rerunfailures) before it fails the run: on
# two cores under three workers, about one clean-clone run in two met a different race
# between a test and the machine (a browser page, a server's timer). A rerun shows in
# pytest's closing line ("1 rerun") and each one is a race to fix; a test that fails
# twice fails the run. `make test RERUNS=0` runs every test once.
RERUNS ?= 1

test: lint $(DEV_STAMP) $(CHROMIUM)
	$(BIN)/coverage erase
	$(BIN)/pytest $(PARALLEL) --reruns $(RERUNS) --reruns-delay 2 -rfER --cov --cov-report= $(PYTEST_ARGS)
	$(BIN)/coverage report
	@# The pure core keeps its own floor, which the combined one (pyproject) would not hold.
	@total=$$($(BIN)/coverage report --include='engine/*' --fail-under=95 --format=total); \
	  status=$$?; echo "engine/ alone: $$total% (floor 95)"; exit $$status

bench: $(DEV_STAMP)
	$(BIN)/gavel bench engine

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache .pytest_cache .hypothesis

# The vendored front-end libraries (api/static/vendor; README, "Front-end libraries").
# `make vendor` fetches the exact versions and files api/static/vendor/vendor.json pins from
# the npm registry, checks each tarball against its integrity, writes the files with their
# licences and vendor.lock.json: commit the result. `make vendor-check` verifies the files
# against the lock offline (tests/api/test_vendor.py does too); `make vendor-outdated` lists
# packages with a newer release. Python's standard library only: no Node.js, no npm.
.PHONY: vendor vendor-check vendor-outdated
vendor: $(BIN)/python
	$(BIN)/python -m api.vendor

vendor-check: $(BIN)/python
	$(BIN)/python -m api.vendor --check

vendor-outdated: $(BIN)/python
	$(BIN)/python -m api.vendor --outdated
