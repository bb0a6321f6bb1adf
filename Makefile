# The README's two promises: `make run` and `make test`, on a fresh machine with
# Python 3.11 and make. Everything else is a convenience.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run cluster haproxy-deps chaos soak test lint typecheck unit migrate schema manifest clean lock bench bench-deps bench-peer-deps bench-profile bench-soak bench-ab test-compiled

# Installs come from the locks (requirements/, hashes checked), never from pyproject.toml's
# ranges: the project itself goes in on its own, editable and without dependencies.
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

## Sandbox services, development identity provider and gateway, with demo tokens printed.
run: $(STAMP)
	APP_ENV=development $(BIN)/python -m sandbox.stack

## A production-like cluster on this machine (deploy/local/cluster.py): HAProxy over 3
## gateways with production settings, on the local PostgreSQL, Redis and RabbitMQ; sandboxes
## at 5 ms. Ctrl-C stops what it started. CLUSTER_ARGS for more (e.g. "--check", "--port 0").
cluster: $(STAMP) haproxy-deps
	$(BIN)/python -m deploy.local.cluster $(CLUSTER_ARGS)

haproxy-deps:
	@command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || { \
		echo "installing haproxy (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q haproxy || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q haproxy; }; }

## Lint, type-check and the whole suite with branch coverage.
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## The compiled plans' differential test with many generated documents (make test runs 5).
test-compiled: $(STAMP)
	COMPILED_EXAMPLES=300 $(BIN)/python -m pytest tests/schema/compiled -q -s -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report

## Benchmark (bench/README.md): gateway vs hand-written baseline, ~7 min on 2 cores.
## BENCH_QUICK=1 for a ~2 min run; BENCH_ARGS for more (e.g. "--scenarios a").
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP) pyproject.toml requirements/bench.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements/bench.lock
	touch $(BENCH_STAMP)

bench-deps: $(BENCH_STAMP) bench-peer-deps
	@command -v wrk >/dev/null 2>&1 || { \
		echo "installing wrk (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q wrk || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q wrk; }; }

## The Apollo peer (bench/peers/apollo/): its npm packages from the committed lock, with
## `npm ci`, only when the lock changed (offline-safe once installed). Without Node 20 or
## later it says so and `make bench` runs without the peer.
PEER := bench/peers/apollo
PEER_STAMP := $(PEER)/node_modules/.installed-stamp
$(PEER_STAMP): $(PEER)/package-lock.json $(PEER)/package.json
	cd $(PEER) && npm ci --no-audit --no-fund --loglevel=error
	touch $(PEER_STAMP)

bench-peer-deps:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		echo "bench-peer-deps: node or npm not found; the Apollo peer is skipped (install Node 20+ to run it)"; \
	elif [ "$$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then \
		echo "bench-peer-deps: node $$(node --version) is older than 20; the Apollo peer is skipped"; \
	else \
		$(MAKE) --no-print-directory $(PEER_STAMP); \
	fi

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

## Chaos under load (deploy/local/chaos/run.py): the cluster, on a PostgreSQL, Redis and
## RabbitMQ of the run's own (the machine's are never touched), under a mixed load while a
## gateway is killed, PostgreSQL restarted, Redis and RabbitMQ stopped for 30 s and the
## payments service fails; then its invariants, and a report in deploy/local/reports/.
## About 7 minutes on 2 cores. Needs Debian's postgresql, redis-server, rabbitmq-server.
chaos: $(BENCH_STAMP) haproxy-deps
	$(BIN)/python -m deploy.local.chaos.run $(CHAOS_ARGS)

## The cluster at 70% of its saturation for 30 minutes (deploy/local/soak.py): zero errors,
## flat RSS per gateway, flat backlogs. SOAK_ARGS="--minutes 3" for a short one.
soak: $(STAMP) haproxy-deps
	$(BIN)/python -m deploy.local.soak $(SOAK_ARGS)

migrate: $(STAMP)
	$(BIN)/python -m app migrate

## Record the public GraphQL schema as app/schema/schema.graphql (refuses unreviewed breaks).
schema: $(STAMP)
	$(BIN)/python -m app schema --write

## Trusted documents (PERSISTED_QUERIES=required): clients/<client>/*.graphql -> clients/manifest.json
manifest: $(STAMP)
	$(BIN)/python -m app manifest --client web -o clients/manifest.json clients/web/*.graphql
	$(BIN)/python -m app manifest --client mobile -o clients/manifest.json clients/mobile/*.graphql

## Regenerate requirements/*.lock (runtime: the image; dev: make and CI; bench: make bench*;
## build: the image's wheel build backend, from requirements/build.in)
## from pyproject.toml, keeping every pin that still fits. LOCK_ARGS=--upgrade for the newest
## allowed versions, or LOCK_ARGS="-P NAME" to move one package. Run `make test` after.
UV_VERSION := 0.13.9
UV_VENV := $(VENV)/uv-tool
UV := $(UV_VENV)/bin/uv
UV_COMPILE = $(UV) pip compile --quiet --python $(UV_VENV)/bin/python \
	--universal --python-version 3.11 --generate-hashes --custom-compile-command 'make lock' \
	$(LOCK_ARGS)

$(UV):
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/pip install --quiet uv==$(UV_VERSION)

lock: $(UV)
	$(UV_COMPILE) pyproject.toml --extra dev -o requirements/dev.lock
	$(UV_COMPILE) pyproject.toml -c requirements/dev.lock -o requirements/runtime.lock
	$(UV_COMPILE) pyproject.toml --extra dev --extra bench -c requirements/dev.lock \
		-o requirements/bench.lock
	$(UV_COMPILE) requirements/build.in -c requirements/dev.lock -o requirements/build.lock

clean:
	rm -rf $(VENV) var .coverage .mypy_cache .ruff_cache .pytest_cache
