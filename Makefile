# modelgate — make targets. Every target runs on a fresh machine with Go and git;
# `bench` and `goldens` also need Debian's python3-sklearn, -scipy and -pandas.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
BIN      := bin/modelgate
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all announce build test fuzz mutate demo compat bench goldens lint clean docs

all: build

# Said before a build starts, so that a silent first build is not mistaken for
# a hang: it compiles OPA, CUE and the rest from source.
announce:
	@echo "make: compiling modelgate; the first build takes several minutes on two cores (later builds are cached)"

build: announce
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/modelgate

# The tests, on SQLite and on PostgreSQL (MODELGATE_TEST_POSTGRES, default
# postgres://127.0.0.1:5432/test; skipped with a note when it is unreachable
# unless MODELGATE_REQUIRE_POSTGRES=1). The App's end-to-end tests take
# several minutes on two cores, past go test's default ten-minute limit when
# the machine is busy.
test: announce lint github-fixtures compat
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -timeout 30m -race ./internal/sqlstore/ ./internal/schema/ ./internal/policy/ ./internal/github/ ./checks/... ./app/...

# A short run of every fuzz target: a count of inputs, not a time, so that the
# fuzz coordinator's own time-outs cannot fail a short run; FUZZTIME=5m for a
# longer one.
FUZZTIME ?= 2000x
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./internal/schema/
	$(GO) test -run '^$$' -fuzz FuzzDepth -fuzztime $(FUZZTIME) ./internal/schema/
	$(GO) test -run '^$$' -fuzz FuzzReadCSV -fuzztime $(FUZZTIME) ./checks/table/
	$(GO) test -run '^$$' -fuzz FuzzReadParquet -fuzztime $(FUZZTIME) ./checks/table/
	$(GO) test -run '^$$' -fuzz FuzzParseFloat -fuzztime $(FUZZTIME) ./checks/internal/floats/
	$(GO) test -run '^$$' -fuzz FuzzParseEvent -fuzztime $(FUZZTIME) ./app/
	$(GO) test -run '^$$' -fuzz FuzzParseValue -fuzztime $(FUZZTIME) ./internal/policy/
	$(GO) test -run '^$$' -fuzz FuzzPatchSides -fuzztime $(FUZZTIME) ./internal/github/
	$(GO) test -run '^$$' -fuzz FuzzParseCondition -fuzztime $(FUZZTIME) ./internal/analysis/
	$(GO) test -run '^$$' -fuzz FuzzEscape -fuzztime $(FUZZTIME) ./internal/analysis/
	$(GO) test -run '^$$' -fuzz FuzzSetPin -fuzztime $(FUZZTIME) ./internal/gitops/
	$(GO) test -run '^$$' -fuzz FuzzCheckPath -fuzztime $(FUZZTIME) ./internal/gitops/
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME) ./internal/oidc/
	$(GO) test -run '^$$' -fuzz FuzzDVC -fuzztime $(FUZZTIME) ./internal/lineage/
	$(GO) test -run '^$$' -fuzz FuzzMLflow -fuzztime $(FUZZTIME) ./internal/lineage/
	$(GO) test -run '^$$' -fuzz FuzzReadExport -fuzztime $(FUZZTIME) ./internal/audit/
	$(GO) test -run '^$$' -fuzz FuzzCookies -fuzztime $(FUZZTIME) ./app/access/

# The deliberate bugs of mutations/*.yaml, one per guarantee of README's
# security section, each built in with -overlay (the work tree is never
# changed) and run against the tests of the packages it names: fails when the
# tests let one through.
mutate:
	$(GO) run ./scripts/mutate -dir mutations

# The example repository as a real git repository with a promotion branch,
# judged by the local gate; the audit log goes to a temporary SQLite file.
demo: build
	./scripts/demo.sh $(BIN)

# GitHub's OpenAPI description and webhook examples at pinned versions, for the
# GitHub emulator of internal/githubtest: fetched with npm into .cache/github,
# only when missing.
OCTOKIT_OPENAPI_VERSION := 23.0.2
WEBHOOKS_EXAMPLES_VERSION := 7.6.1

.PHONY: github-fixtures
github-fixtures:
	@set -e; dir=.cache/github; \
	  openapi=$$dir/openapi-$(OCTOKIT_OPENAPI_VERSION)/api.github.com.json; \
	  examples=$$dir/webhooks-examples-$(WEBHOOKS_EXAMPLES_VERSION)/api.github.com/index.json; \
	  tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  if [ ! -f "$$openapi" ]; then \
	    (cd "$$tmp" && npm pack --silent @octokit/openapi@$(OCTOKIT_OPENAPI_VERSION) >/dev/null); \
	    tar xzf "$$tmp"/octokit-openapi-$(OCTOKIT_OPENAPI_VERSION).tgz -C "$$tmp" package/generated/api.github.com.json; \
	    mkdir -p "$$(dirname "$$openapi")"; mv "$$tmp"/package/generated/api.github.com.json "$$openapi"; \
	  fi; \
	  if [ ! -f "$$examples" ]; then \
	    (cd "$$tmp" && npm pack --silent @octokit/webhooks-examples@$(WEBHOOKS_EXAMPLES_VERSION) >/dev/null); \
	    tar xzf "$$tmp"/octokit-webhooks-examples-$(WEBHOOKS_EXAMPLES_VERSION).tgz -C "$$tmp" package/api.github.com/index.json; \
	    mkdir -p "$$(dirname "$$examples")"; mv "$$tmp"/package/api.github.com/index.json "$$examples"; \
	  fi

# The official opa and cue CLIs, at the versions of the libraries modelgate is
# built with, must accept the policies and schemas too; opa with the builtins
# the engine offers policies. Every workflow passes actionlint.
OPA_VERSION = $(shell $(GO) list -m -f '{{.Version}}' github.com/open-policy-agent/opa)
CUE_VERSION = $(shell $(GO) list -m -f '{{.Version}}' cuelang.org/go)
OPA = $(GO) run github.com/open-policy-agent/opa@$(OPA_VERSION)
CUE = $(GO) run cuelang.org/go/cmd/cue@$(CUE_VERSION)
# actionlint checks workflows, not action metadata: .github/workflows/actions.yml
# uses each action of actions/, so that their inputs are checked too.
ACTIONLINT = $(GO) run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
compat:
	$(ACTIONLINT) .github/workflows/*.yml $(wildcard examples/*/.github/workflows/*.yml)
	$(OPA) check --strict --capabilities internal/policy/capabilities.json policies/ examples/gitops/.modelgate/policies/
	$(OPA) test --capabilities internal/policy/capabilities.json policies/ examples/gitops/.modelgate/policies/
	$(CUE) vet -c -d '#Config' ./schemas/ examples/gitops/.modelgate/config.yaml examples/analysis/config.yaml
	$(CUE) vet -c -d '#Environment' ./schemas/ examples/gitops/environments/*.yaml examples/promotions/*/environments/*.yaml
	$(CUE) vet -c -d '#Model' ./schemas/ $(wildcard examples/gitops/models/*/*/model.yaml)

# The checks engine against a pandas + numpy + scipy + scikit-learn peer on
# generated cases of 1M and 10M rows — numbers as pandas writes them and short
# decimals, and the first also as Parquet — kept in .cache/bench (BENCHMARKS.md), then
# the Go benchmarks of its hot paths, then the App: webhook intake on loopback
# (SQLite and PostgreSQL), webhook-to-check-run time on the GitHub emulator,
# and 1, 2 and 3 replicas of the built binary on one PostgreSQL database.
bench: build github-fixtures
	$(GO) run ./checks/bench -bin $(BIN) -dir .cache/bench -rows 1000000,10000000 -runs 5,1
	$(GO) test -run '^$$' -bench . -benchmem ./checks/...
	$(GO) test -run '^$$' -bench . -benchmem ./internal/analysis/
	$(GO) test -run '^$$' -bench . -benchtime 5000x ./app/server/
	$(GO) test -run '^$$' -bench . -benchtime 20x ./app/service/
	$(GO) test -run '^$$' -bench BenchmarkReplicas -benchtime 1x -timeout 30m ./cmd/modelgate/

# Regenerates checks/testdata: the test cases and the reference implementations'
# numbers that `make test` compares with (also needs python3-yaml).
goldens:
	/usr/bin/python3 checks/reference/generate.py

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The reference pages of docs/, generated from the CUE schemas and their
# comments, and docs/cli.md from the command tree; `make test` fails when the
# committed pages are stale.
docs:
	$(GO) run ./scripts/docs -dir docs
	$(GO) test ./cmd/modelgate -run '^TestCLIReferenceIsCurrent$$' -count=1 -update

clean:
	rm -rf bin
