# The two commands that matter: `make run` and `make test`. Everything installs itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STUBS_OUT ?= stubs
PROTO_INCLUDE = $$($(BIN)/python -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
BUF := .tools/node_modules/.bin/buf
ARGS ?=

.PHONY: run test test-db lint typecheck stubs proto-check bench soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Serve the contract on 127.0.0.1:9090, on an embedded PostgreSQL in ./.data/postgres.
run: $(STAMP)
	$(BIN)/persistence-server $(ARGS)

## Every test, on the embedded PostgreSQL (or on $$TEST_DATABASE_URL when set).
test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

## Only the tests that need a database (CI runs them again on PostgreSQL 15).
test-db: $(STAMP)
	$(BIN)/python -m pytest -q -m database $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests

typecheck: $(STAMP)
	$(BIN)/mypy

## Regenerate the Python code in stubs/ from protos/ (set STUBS_OUT to write elsewhere).
stubs: $(STAMP)
	mkdir -p $(STUBS_OUT)
	$(BIN)/python -m grpc_tools.protoc -I protos -I $(PROTO_INCLUDE) \
		--python_out=$(STUBS_OUT) --pyi_out=$(STUBS_OUT) --grpc_python_out=$(STUBS_OUT) \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc --mypy_grpc_out=$(STUBS_OUT) \
		persistence_platform.proto
	# protoc writes a top-level import; inside the `stubs` package it must be package-relative.
	sed -i 's/^import persistence_platform_pb2 as/from stubs import persistence_platform_pb2 as/' \
		$(STUBS_OUT)/persistence_platform_pb2_grpc.py $(STUBS_OUT)/persistence_platform_pb2_grpc.pyi

## The contract check CI runs: no breaking change against the original contract.
proto-check:
	test -x $(BUF) || npm install --silent --prefix .tools @bufbuild/buf@1.75.0
	cd /tmp && $(CURDIR)/$(BUF) breaking $(CURDIR)/protos --against $(CURDIR)/../shared/contract \
		--config '{"version":"v2","breaking":{"use":["PACKAGE"]}}'

## Benchmarks against the gRPC and PostgreSQL floors (writes docs/benchmarks.md and .png), then vector search
## and the migration import (printed). ARGS=--quick: a smoke run of everything.
bench: $(STAMP)
	$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run $(ARGS)
	@echo "== vector search: HNSW (pgvector) and exact scans (docs/vector-graph.md)"
	$(BIN)/python -m bench.vector_search $(if $(findstring --quick,$(ARGS)),--rows 5000 --queries 5 --exact-queries 1,--exact-queries 3)
	@echo "== migrate import: rows/s from JSON Lines and from an entities table (docs/cutover.md)"
	$(BIN)/python -m bench.migrate_import $(if $(findstring --quick,$(ARGS)),--rows 10000)

## Ten minutes of mixed load with 20 % client cancellations; fails if memory, fds or DB connections grow.
soak: $(STAMP)
	$(BIN)/python bench/soak.py --seconds 600 $(ARGS)

clean:
	rm -rf $(VENV) .tools
