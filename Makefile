# One task runner: the README's commands and CI call these targets.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
SWAGGER := src/ketenherstel/web/static/swagger
SWAGGER_STAMP := $(SWAGGER)/.copied
NLDS := src/ketenherstel/web/static/nlds
NLDS_STAMP := $(NLDS)/.copied
CHROMIUM := /usr/bin/chromium
# Debian packages the web UI needs at run time: pango for WeasyPrint's PDFs, and HarfBuzz-Subset,
# without which WeasyPrint warns on import (the warning fails the tests).
RUNTIME_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
# Debian packages only the browser tests need.
BROWSER_DEBS := chromium fonts-dejavu-core
DEMO_ARGS ?=
PYTEST_ARGS ?=
# The suite runs in two pytest-xdist workers (the machine's two cores); PYTEST_WORKERS=0 runs
# it in one process.
PYTEST_WORKERS ?= 2

.PHONY: demo test lint fmt openapi bench bench-drain bench-drain-layout bench-scenario bench-registry bench-reconcile bench-gateway bench-gateway-columnar bench-picture clean debs

# apt-get install, running apt-get update only when the first try fails (stale or empty lists).
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
define apt_install
	$(APT_INSTALL) $(1) || { DEBIAN_FRONTEND=noninteractive apt-get update -q && $(APT_INSTALL) $(1); }
endef

## debs: install the Debian packages the web UI needs (pango for PDFs), only those missing
debs:
	@command -v dpkg-query >/dev/null || exit 0; \
	missing=""; for p in $(RUNTIME_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(APT_INSTALL) $$missing || { DEBIAN_FRONTEND=noninteractive apt-get update -q && $(APT_INSTALL) $$missing; }; \
	fi

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
$(CHROMIUM):
	$(call apt_install,$(BROWSER_DEBS))

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

# The web UI's NL Design System / Rijkshuisstijl community CSS, from the package, never a CDN.
# Pages link nlds/design-tokens.css then nlds/components.css and put class="rhc-theme" on <body>
# (or <html>): the tokens are defined on .rhc-theme and apply only inside it. The packages ship
# no font files: the tokens ask for 'Fira Sans', Arial, Verdana, sans-serif (system fallbacks).
RHC := node_modules/@rijkshuisstijl-community
$(NLDS_STAMP): $(NODE_STAMP)
	rm -rf $(NLDS)
	mkdir -p $(NLDS)
	cp $(RHC)/design-tokens/dist/index.css $(NLDS)/design-tokens.css
	cp $(RHC)/components-css/dist/index.css $(NLDS)/components.css
	cp $(RHC)/design-tokens/LICENSE.md $(NLDS)/LICENSE-design-tokens.md
	cp $(RHC)/components-css/LICENSE.md $(NLDS)/LICENSE-components-css.md
	touch $(NLDS_STAMP)

## demo: set up, then run the main job on embedded SQLite (DEMO_ARGS=--no-serve to finish)
demo: $(STAMP) $(SWAGGER_STAMP) $(NLDS_STAMP) debs
	$(BIN)/ketenherstel demo $(DEMO_ARGS)

## test: set up, then run the whole test suite
test: $(STAMP) $(SWAGGER_STAMP) $(NLDS_STAMP) debs $(CHROMIUM)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

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

## bench-drain-layout: the same drain on copies of one SQLite store, today's layout beside two others
bench-drain-layout: $(STAMP)
	$(PY) bench/drain_layout.py

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

## bench-gateway-columnar: a columnar (Arrow) scan of a 2,000,000-line log beside today's watch
bench-gateway-columnar: $(STAMP)
	$(PY) bench/gateway_columnar.py

## bench-picture: server time of every picture page and of the briefing and its PDF, full om-2025
bench-picture: $(STAMP) $(SWAGGER_STAMP) $(NLDS_STAMP) debs $(CHROMIUM)
	$(PY) bench/picture.py

clean:
	rm -rf $(VENV) node_modules build var .pytest_cache .mypy_cache .ruff_cache
