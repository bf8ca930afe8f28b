# mirrorsink: build, test, bench. Needs only Go; the tests use the machine's PostgreSQL and MariaDB.
GO ?= go
PKGS := ./...

.PHONY: build test bench lint demo fuzz tenants

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

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzScannerMatchesEncodingXML -fuzztime 60s ./protocol/

demo:
	$(GO) run ./cmd/mirrorsink demo
