# lambkin: `make run` starts the server with a demo function; `make test` runs every check and test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= $(CURDIR)/.cache/demo-data
PORT ?= 9000

# The hot paths' modules compiled with mypyc (lambkin/compiled.py), again whenever a source is newer.
NATIVE := src/lambkin/compiled.stamp
SOURCES := $(shell find src/lambkin -name '*.py')

.PHONY: setup system venv native run test test-postgresql test-cluster fuzz lint unit integration images bench clean

setup: system venv native

system:
	bash scripts/setup-system.sh

$(BIN)/lambkin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/lambkin

$(NATIVE): $(BIN)/lambkin $(SOURCES) scripts/build_native.py pyproject.toml
	$(BIN)/python scripts/build_native.py

native: $(NATIVE)

images: setup
	$(BIN)/python -m tests.images build

run: setup images
	$(BIN)/lambkin up --data-dir $(DATA) --port $(PORT) --demo-image $(CURDIR)/.cache/images/archives/python-echo.tar \
		--runtimes-cache $(CURDIR)/.cache/runtimes

lint: venv
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# Every test on the embedded default (SQLite), then the end-to-end suite again with every server's state in
# PostgreSQL (a cluster of the test run's own, see tests/postgres.py), then the scale-out tests.
test: setup images lint
	$(BIN)/pytest tests --ignore=tests/cluster
	$(MAKE) test-postgresql
	$(MAKE) test-cluster

test-postgresql: setup images
	LAMBKIN_TEST_DATABASE=postgresql $(BIN)/pytest tests/e2e

# Scale-out: three nodes on a PostgreSQL of their own behind HAProxy, each test module its own cluster
# (tests/cluster/__init__.py starts them; haproxy is Debian's, from `make setup`).
test-cluster: setup images
	$(BIN)/pytest tests/cluster

# The property tests with new random examples, the end-to-end ones ten times as many (`make test` replays a
# fixed set).
fuzz: setup images
	$(BIN)/pytest --hypothesis-profile=fuzz tests/e2e/test_lambda_properties.py tests/unit/protocol/test_properties.py tests/unit/protocol/test_properties_json.py

bench: setup images
	$(BIN)/python -m bench.all

clean:
	rm -rf $(VENV) .cache $(NATIVE)
	find src -name '*.so' -delete
