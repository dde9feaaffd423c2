# sluice — top-level commands (wrap CMake presets).
#   make run    install deps, build (release), run examples/quickstart.yaml
#   make test   install deps, build with ASan+UBSan, run every test, print "N passed, N failed"
#   make bench  release build, run the benchmarks (docs/PERFORMANCE.md)
SHELL := /bin/bash
JOBS ?= $(shell nproc)

.PHONY: all deps build debug release asan tsan fuzz run test test-tsan bench fuzz-run conformance \
        fuzz-ci soak format-check checksrc clean

all: build

deps:
	@bash scripts/deps.sh

build: release

release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

debug: deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

run: release
	@mkdir -p out
	build/release/sluice run -c examples/quickstart.yaml

test: asan
	@bash scripts/node-deps.sh
	@bash scripts/run-tests.sh build/asan

test-tsan: tsan
	@bash scripts/run-tests.sh build/tsan

# Metron's Stellar and profiler cases, ksqlDB's query tests: pass rate and every failing case.
conformance: asan
	@build/asan/stellar_conformance ../shared/conformance/stellar_cases.jsonl
	@build/asan/profiler_conformance ../shared/conformance/profiler_cases.json
	@build/asan/ksql_conformance ../shared/conformance/ksql_cases.jsonl

bench: release
	@bash scripts/bench.sh build/release

# Run each libFuzzer target for FUZZ_SECONDS (default 60) on its corpus.
fuzz-run: fuzz
	@for f in build/fuzz/fuzz_*; do \
	  n=$$(basename $$f); c=fuzz/corpus/$${n#fuzz_}; mkdir -p $$c; \
	  echo "== $$n"; $$f -max_total_time=$${FUZZ_SECONDS:-60} $$c || exit 1; done

# The CI-sized campaign: every target FUZZ_SECONDS (default 20) on a scratch copy of its corpus;
# a row per target (runs, exec/s, cov); fails on any crash, kept in build/fuzz/fuzz-ci/.
fuzz-ci: fuzz
	@bash scripts/fuzz-ci.sh build/fuzz

# The chaos tests at soak size (not in `make test`): kill -9 in a loop while lines keep coming,
# file checkpoints and disk-buffered sinks. SOAK_KILLS (default 60) restarts over SOAK_LINES
# (default 3,000,000) lines; every line must come out at least once.
SOAK_KILLS ?= 60
SOAK_LINES ?= 3000000
soak: asan
	@for t in file_checkpoints disk_buffer; do echo "== $$t (SOAK_KILLS=$(SOAK_KILLS), SOAK_LINES=$(SOAK_LINES))"; \
	  SOAK_KILLS=$(SOAK_KILLS) SOAK_LINES=$(SOAK_LINES) SLUICE=$(CURDIR)/build/asan/sluice \
	  SL_SRC=$(CURDIR) SL_BUILD=$(CURDIR)/build/asan bash tests/integ/$$t.sh || exit 1; done

checksrc:
	@bash scripts/checksrc.sh

format-check:
	@bash scripts/format-check.sh

clean:
	rm -rf build out
