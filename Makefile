# mirrorsink: build, test, bench. Needs only Go; the tests use the machine's PostgreSQL and MariaDB.
GO ?= go
PKGS := ./...

.PHONY: build test bench lint demo fuzz tenants chaos

build:
	$(GO) build -o bin/mirrorsink ./cmd/mirrorsink

test: lint
	$(GO) test -count=1 -timeout 15m $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

bench:
	$(GO) build -o bin/bench ./bench
	GO=$(GO) bin/bench $(BENCHFLAGS)

# 200 tenants, a database each, on a PostgreSQL cluster of the test's own that allows 20 connections
# (make test runs the same test with 60 tenants).
tenants:
	MIRRORSINK_TEST_TENANTS=200 $(GO) test -count=1 -timeout 20m -run '^TestServerConnectionsBounded$$' -v ./e2e/

# The fault suite at length (e2e TestChaos; `make test` runs a short slice of it): serve killed, the
# database crashed, connections cut mid-COPY and mid-LOAD DATA, two replicas behind a round-robin proxy.
# Counts are per dialect. Every run prints its seed and the command that replays it with SEED=.
SEED ?=
KILLS ?= 100
RESTARTS ?= 20
CUTS ?= 20
ROUNDS ?= 10
TARGETS ?= postgres,mysql,sqlite

chaos:
	MIRRORSINK_CHAOS_SEED=$(SEED) MIRRORSINK_CHAOS_KILLS=$(KILLS) MIRRORSINK_CHAOS_RESTARTS=$(RESTARTS) \
	  MIRRORSINK_CHAOS_CUTS=$(CUTS) MIRRORSINK_CHAOS_ROUNDS=$(ROUNDS) MIRRORSINK_CHAOS_TARGETS=$(TARGETS) \
	  $(GO) test -count=1 -timeout 4h -run '^TestChaos$$' -v ./e2e/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzScannerMatchesEncodingXML -fuzztime 60s ./protocol/

demo:
	$(GO) run ./cmd/mirrorsink demo
