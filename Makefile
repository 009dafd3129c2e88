# Refero: `make run` serves the demo on SQLite; `make test` runs the whole test suite.
VENV ?= .venv
PYTHON ?= python3
FLASK = $(VENV)/bin/flask --app wsgi
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup setup-dev run test bench clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Browser tests drive Debian's chromium (Playwright never downloads a browser of its own).
/usr/bin/chromium:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium

setup: $(VENV)/.runtime node_modules/.installed

setup-dev: $(VENV)/.dev node_modules/.installed /usr/bin/chromium

run: setup
	FLASK_DEBUG=1 $(FLASK) db upgrade
	FLASK_DEBUG=1 $(FLASK) seed-demo
	@echo
	@echo "Refero is at http://$(HOST):$(PORT)/login  (Ctrl-C stops it)"
	@echo "Demo logins, password refero-demo-2026: admin@example.com, coordinator@example.com, finance@example.com, customer@example.com"
	@echo
	FLASK_DEBUG=1 $(FLASK) run --host $(HOST) --port $(PORT) --no-reload

# TEST_DATABASE_URL=postgresql+psycopg://… runs the same suite on PostgreSQL (.ci/run does both).
test: setup-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup-dev
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache
