# Prompt Workbench: set-up, run and test on Debian/Ubuntu (root, passwordless sudo,
# or told exactly what to install). Every target is safe to run again.
#
#   make venv   .venv with the package installed editable, with dev extras
#   make run    launch the desktop app (set ARGS="..." to pass arguments)
#   make test   lint, types, import layering, tests without Qt, the built wheel installed
#               in a clean venv (styled, with its samples), the full suite
#   make lint   only the static checks (ruff, mypy, import-linter)

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# The stamp records "pyproject.toml as of this install": make reinstalls only
# when pyproject.toml (or the install script) is newer than the stamp.
STAMP := $(VENV)/.installed-dev
# Tests run on two worker processes (pytest-xdist): these machines have two cores, and
# the suite is mostly waiting on subprocesses, sockets and SQLite (9 min -> 3.6 min
# for the non-GUI part here). Each worker has its own temp dirs, ports and PostgreSQL.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider -n $(TEST_WORKERS)
# Non-GUI tests, with PySide6 made unimportable: proves everything but ui/ runs
# without Qt.
NO_QT_TESTS := tests/unit tests/server tests/e2e
COV := --cov=workbench

.PHONY: help venv run test lint sysdeps-run sysdeps-test clean screenshots
# Steps run in the order written, failing fast, even under make -j.
.NOTPARALLEL:

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml setup.py scripts/venv.sh
	scripts/venv.sh $(STAMP) dev

venv: $(STAMP)

sysdeps-run:
	scripts/sysdeps.sh qt

sysdeps-test:
	scripts/sysdeps.sh qt xvfb test

run: sysdeps-run $(STAMP)
	scripts/run.sh $(ARGS)

# mypy reads what to check from pyproject.toml: workbench/, bench/ and scripts/ strictly,
# the tests with every function body checked.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every test once: the non-GUI ones with Qt blocked (they must not need it), the
# installed wheel, then the GUI tests offscreen (they ran a second time before, ~6 min).
# Coverage of both runs is reported at the end (in-process code; see pyproject.toml).
test: sysdeps-test $(STAMP) lint
	scripts/test-session.sh $(PYTEST) $(COV) --cov-report= -p no:pytest-qt -p tests.block_qt -m "not gui" $(NO_QT_TESTS)
	scripts/wheel-check.sh $(BIN)/python
	QT_QPA_PLATFORM=offscreen scripts/test-session.sh $(PYTEST) $(COV) --cov-append --cov-report= -m gui
	$(BIN)/python -m coverage report
	@echo "coverage of workbench/ (both runs, in process): $$($(BIN)/python -m coverage report --format=total)%"

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache build dist .coverage htmlcov
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# One Xvfb screen per size, the window given the whole screen; both themes each.
SCREEN_SIZES := 1024x700 1440x900 2560x1440
screenshots: sysdeps-test $(STAMP)
	for size in $(SCREEN_SIZES); do \
	  xvfb-run -a -s "-screen 0 $${size}x24" $(BIN)/python scripts/screenshots.py $$size || exit 1; \
	done
