# One task runner: the README's commands and CI call these targets.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
SWAGGER := src/ketenherstel/web/static/swagger
SWAGGER_STAMP := $(SWAGGER)/.copied
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test lint fmt openapi bench bench-drain bench-scenario bench-registry bench-reconcile bench-gateway clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The API docs page (/v1/docs) serves Swagger UI from the package, never from a CDN.
$(SWAGGER_STAMP): $(NODE_STAMP)
	mkdir -p $(SWAGGER)
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/LICENSE $(SWAGGER)/
	touch $(SWAGGER_STAMP)

## demo: set up, then run the main job on embedded SQLite (DEMO_ARGS=--no-serve to finish)
demo: $(STAMP) $(SWAGGER_STAMP)
	$(BIN)/ketenherstel demo $(DEMO_ARGS)

## test: set up, then run the whole test suite
test: $(STAMP) $(SWAGGER_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

## lint: ruff, ruff format --check, mypy --strict, and Spectral on the served OpenAPI
lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(MAKE) --no-print-directory openapi
	npx --no-install spectral lint --fail-severity=error --ruleset spectral/adr.spectral.yaml build/openapi.json

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

## openapi: write the served OpenAPI document to build/openapi.json
openapi: $(STAMP)
	$(BIN)/ketenherstel openapi --out build/openapi.json

## bench: the exchange benchmark (needs PostgreSQL and NATS for the peer columns)
bench: $(STAMP)
	$(PY) bench/exchange.py

## bench-drain: drain a held backlog of 1,000,000 messages in priority order (PostgreSQL, NATS)
bench-drain: $(STAMP)
	$(PY) bench/drain.py

## bench-scenario: the full om-2025 scenario through the exchange, on SQLite and PostgreSQL
bench-scenario: $(STAMP)
	$(PY) bench/scenario.py

## bench-registry: the registry's catch-up of 1,000,000 registrations and its re-screen list
bench-registry: $(STAMP)
	$(PY) bench/registry.py

## bench-reconcile: reconcile 10,000,000 vs 10,000,000 records beside bare DuckDB
bench-reconcile: $(STAMP)
	$(PY) bench/reconcile.py

## bench-gateway: scan a 10,000,000-line NetScaler log beside grep -c and the awk CB2 check
bench-gateway: $(STAMP)
	$(PY) bench/gateway.py

clean:
	rm -rf $(VENV) node_modules build var .pytest_cache .mypy_cache .ruff_cache
