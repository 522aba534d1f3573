# `make run` and `make test` do all the set-up on a fresh machine (Python, make and apt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench chromium clean presets

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The stamps re-install when pyproject.toml changes. Targets run `python -m` from the
# checkout, so they import its packages as they are, whatever the editable install mapped.

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(PY) -m app serve --host $(HOST) --port $(PORT)

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core; }

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

test: $(VENV)/.installed-test chromium lint
	$(PY) -m pytest

bench: $(VENV)/.installed-test chromium
	$(PY) bench/engine.py
	$(PY) bench/server.py
	$(PY) bench/page.py
	$(PY) bench/page_explain.py
	$(PY) bench/model.py
	$(PY) bench/train.py
	$(PY) bench/text.py

# Retrain the trained presets (deterministic; writes cells/presets/data/, minutes each).
presets: $(VENV)/.installed-run
	$(PY) -m cells.presets.recipes.python_source
	$(PY) -m cells.presets.recipes.long_memory

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
