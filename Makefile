# modelgate — make targets. Every target runs on a fresh machine with Go and git;
# `bench` and `goldens` also need Debian's python3-sklearn, -scipy and -pandas.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
BIN      := bin/modelgate
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build test test-race fuzz demo bench goldens lint clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/modelgate

# The tests, on SQLite and on PostgreSQL (MODELGATE_TEST_POSTGRES, default
# postgres://127.0.0.1:5432/test; skipped with a note when it is unreachable
# unless MODELGATE_REQUIRE_POSTGRES=1).
test: lint
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race ./internal/sqlstore/ ./internal/schema/

# A short run of every fuzz target; FUZZTIME=5m for a longer one.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./internal/schema/

# The example repository as a real git repository with a promotion branch,
# judged by the local gate; the audit log goes to a temporary SQLite file.
demo: build
	./scripts/demo.sh $(BIN)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
