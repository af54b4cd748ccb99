# Sextant: `make run` starts the whole stack on http://127.0.0.1:8000; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := libs/common services/ingest services/datasets services/gateway services/quant
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
WEB_SOURCES := $(shell find web/src web/index.html web/package.json web/tsconfig.json web/vite.config.ts -type f 2>/dev/null)

.PHONY: setup run test bench lint scan format clean system-deps

setup: $(VENV)/.installed web/dist/index.html

$(VENV)/.installed: $(PYPROJECTS) requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
	touch $@

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && (test -f package-lock.json && npm ci --no-audit --no-fund || npm install --no-audit --no-fund)
	touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build

run: setup
	$(BIN)/python scripts/run_stack.py

system-deps:
	./scripts/ensure_system_deps.sh

test: setup system-deps
	cd web && npm test --silent
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/run_all.py

lint: setup
	$(BIN)/ruff check libs services tests scripts bench deploy/grafana
	$(BIN)/ruff format --check libs services tests scripts bench deploy/grafana
	$(BIN)/mypy libs/common/sextant_common services/ingest/sextant_ingest services/datasets/sextant_datasets services/gateway/sextant_gateway services/quant/sextant_quant

# bandit, detect-secrets, pip-audit (requirements.lock), npm audit: scripts/security_scan.sh
scan: setup
	./scripts/security_scan.sh

format: setup
	$(BIN)/ruff format libs services tests scripts bench
	$(BIN)/ruff check --fix libs services tests scripts bench

clean:
	rm -rf $(VENV) web/node_modules web/dist var
