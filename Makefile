# The README's two promises: `make run` and `make test`, on a fresh machine with
# Python 3.11 and make. Everything else is a convenience.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck unit migrate schema manifest clean bench bench-deps bench-profile bench-soak bench-ab

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Sandbox services, development identity provider and gateway, with demo tokens printed.
run: $(STAMP)
	APP_ENV=development $(BIN)/python -m sandbox.stack

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

## Benchmark (bench/README.md): gateway vs hand-written baseline, ~7 min on 2 cores.
## BENCH_QUICK=1 for a ~2 min run; BENCH_ARGS for more (e.g. "--scenarios a").
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench-deps: $(BENCH_STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
		echo "installing wrk (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q wrk || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q wrk; }; }

bench: bench-deps
	$(BIN)/python -m bench $(if $(BENCH_QUICK),--quick) $(BENCH_ARGS)

## Scenario (a) at 70% of saturation for 10 minutes: is RSS flat? (bench/results/soak.json)
bench-soak: bench-deps
	$(BIN)/python -m bench.soak $(BENCH_ARGS)

## CPU per request of gateway variants side by side (bench/ab.py), robust to a busy machine.
bench-ab: bench-deps
	$(BIN)/python -m bench.ab $(BENCH_ARGS)

## A py-spy profile of one gateway worker under load, into bench/profiles/.
bench-profile: bench-deps
	$(BIN)/python -m bench.profile $(BENCH_ARGS)

migrate: $(STAMP)
	$(BIN)/python -m app migrate

## Record the public GraphQL schema as app/schema/schema.graphql (refuses unreviewed breaks).
schema: $(STAMP)
	$(BIN)/python -m app schema --write

## Trusted documents (PERSISTED_QUERIES=required): clients/<client>/*.graphql -> clients/manifest.json
manifest: $(STAMP)
	$(BIN)/python -m app manifest --client web -o clients/manifest.json clients/web/*.graphql
	$(BIN)/python -m app manifest --client mobile -o clients/manifest.json clients/mobile/*.graphql

clean:
	rm -rf $(VENV) var .coverage .mypy_cache .ruff_cache .pytest_cache
