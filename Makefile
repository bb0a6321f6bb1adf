# The README's two promises: `make run` and `make test`, on a fresh machine with
# Python 3.11 and make. Everything else is a convenience.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck unit migrate schema manifest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Sandbox services, development identity provider and gateway, with demo tokens printed.
run: $(STAMP)
	APP_ENV=development $(BIN)/python -m app dev

## Lint, type-check and the whole suite with branch coverage.
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report

migrate: $(STAMP)
	$(BIN)/python -m app migrate

## Record the public GraphQL schema as schema/schema.graphql (refuses unreviewed breaks).
schema: $(STAMP)
	$(BIN)/python -m app schema --write

## Trusted documents (PERSISTED_QUERIES=required): clients/<client>/*.graphql -> clients/manifest.json
manifest: $(STAMP)
	$(BIN)/python -m app manifest --client web -o clients/manifest.json clients/web/*.graphql
	$(BIN)/python -m app manifest --client mobile -o clients/manifest.json clients/mobile/*.graphql

clean:
	rm -rf $(VENV) var .coverage .mypy_cache .ruff_cache .pytest_cache
