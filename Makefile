# Entry points for humans and CI. Everything builds with CMake presets into build/<preset>.
#   make demo   - bootstrap, build, run the live playground (Ctrl-C to stop)
#   make test   - bootstrap, build, run unit + scenario tests (what CI runs)
#   make build  - release binary at build/release/pgcdc
#   make chaos  - the chaos suite's full profile and the long type fuzz (docs/reliability.md)
#   make fuzz-long - every fuzz target 10 M executions with coverage (docs/development.md)
#   make package - build/release/pgcdc_<version>_amd64.deb (+ -dbgsym), checked (docs/packaging.md)
#   make package-check - the package installed, run and purged in a fresh Debian 12 chroot
#   make sanitize - make asan (unit + scenario under ASan+UBSan) and make tsan
#   make asan-unit / make tsan - the unit suite under ASan+UBSan / the threaded tests under TSan (CI runs both)
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all bootstrap build test unit scenario demo asan asan-unit tsan sanitize fuzz fuzz-long bench bench-report format clean docs lint chaos \
  package package-check

all: build

bootstrap:
	@scripts/bootstrap

# Configure after bootstrap (also under make -j): cmake/DuckDB.cmake looks for the
# npm-installed libduckdb that bootstrap's `npm ci` puts into tests/tools/node_modules.
build/release/build.ninja: | bootstrap
	cmake --preset release >/dev/null

build: bootstrap build/release/build.ninja
	cmake --build build/release --target pgcdc -j $(JOBS)
	@echo "pgcdc built: build/release/pgcdc"

test: bootstrap build/release/build.ninja
	cmake --build build/release -j $(JOBS)
	ctest --test-dir build/release --output-on-failure -j $(CTEST_JOBS)

unit: bootstrap build/release/build.ninja
	cmake --build build/release -j $(JOBS)
	ctest --test-dir build/release --output-on-failure -L unit -j $(CTEST_JOBS)

scenario: bootstrap build/release/build.ninja
	cmake --build build/release -j $(JOBS)
	ctest --test-dir build/release --output-on-failure -L scenario

demo: build
	build/release/pgcdc playground

# Sanitizers (docs/development.md#sanitizers). Each has its own build dir; the
# sanitizer options, report check and longer deadlines come from
# cmake/Sanitizers.cmake through CTest. ASAN_CTEST_ARGS narrows the asan run
# (e.g. ASAN_CTEST_ARGS='-R wal_'); TSAN_TESTS are the concurrency-heavy unit
# tests, the only ones the tsan build compiles.
ASAN_CTEST_ARGS ?=
TSAN_TESTS ?= bus_test pipeline_test kafkaserver_test kafkaserver_core_test net_test \
  middleware_test core_test tx_spool_test
empty :=
space := $(empty) $(empty)

asan: bootstrap
	cmake --preset asan >/dev/null
	cmake --build build/asan -j $(JOBS)
	ctest --test-dir build/asan --output-on-failure -L 'unit|scenario' -j $(CTEST_JOBS) $(ASAN_CTEST_ARGS)

# ASan + UBSan over the unit suite only: it builds just the unit_tests target
# (about 9 minutes from a cold cache on 2 cores, against 14 for the whole tree)
# and runs in under a minute; CI runs it. The three checks left out compare
# the pgcdc binary's output with the docs (the release suite runs them).
asan-unit: bootstrap
	cmake --preset asan >/dev/null
	cmake --build build/asan -j $(JOBS) --target unit_tests
	ctest --test-dir build/asan --output-on-failure -L unit -j $(CTEST_JOBS) \
	  -E '^(derived_lists_check|deploy_check|completion_check)$$'

tsan: bootstrap
	cmake --preset tsan >/dev/null
	cmake --build build/tsan -j $(JOBS) --target $(TSAN_TESTS)
	ctest --test-dir build/tsan --output-on-failure -R '^($(subst $(space),|,$(strip $(TSAN_TESTS))))$$' \
	  -j $(CTEST_JOBS)

sanitize: asan tsan

# Runs each libFuzzer target for FUZZ_SECONDS (default 60); new corpus
# entries go to build/fuzz/corpus/<target>, the checked-in seeds are read too.
FUZZ_SECONDS ?= 60
# The target list is derived from tests/fuzz/CMakeLists.txt (build/fuzz/fuzz_targets.txt).
fuzz: bootstrap
	cmake --preset fuzz >/dev/null
	cmake --build build/fuzz --target fuzz_all -j $(JOBS)
	for t in $$(cat build/fuzz/fuzz_targets.txt); do \
	  mkdir -p build/fuzz/corpus/$$t && \
	  build/fuzz/tests/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) \
	    build/fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# Every fuzz target for FUZZ_RUNS executions (default 10 M; hours in all),
# coverage in build/fuzz/fuzz-long-report.md; new coverage is merged into the
# checked-in corpus (scripts/fuzz-long).
FUZZ_RUNS ?= 10000000
fuzz-long: bootstrap
	cmake --preset fuzz >/dev/null
	cmake --build build/fuzz --target fuzz_all -j $(JOBS)
	scripts/fuzz-long $(FUZZ_RUNS)

# The chaos suite's full profile (every sink, 200,000 rows, 20 kill -9s, two
# immediate PostgreSQL restarts, a walsender termination, a 30 s sink outage,
# a full disk) and the long type fuzz; as root (tmpfs for the full disk). It
# takes a while. The result table goes to build/chaos-report.md. Set
# PGCDC_CHAOS_SEED / PGCDC_TYPE_FUZZ_SEED to replay a run, PGCDC_CHAOS_SINKS
# (comma list) to pick sinks.
chaos: bootstrap build/release/build.ninja
	cmake --build build/release --target pgcdc chaos_scenario_test type_fuzz_scenario_test -j $(JOBS)
	PGCDC_BIN=$(CURDIR)/build/release/pgcdc PGCDC_CHAOS_PROFILE=full \
	  PGCDC_CHAOS_REPORT=$(CURDIR)/build/chaos-report.md build/release/tests/scenarios/chaos_scenario_test
	PGCDC_BIN=$(CURDIR)/build/release/pgcdc PGCDC_TYPE_FUZZ_PROFILE=long \
	  build/release/tests/scenarios/type_fuzz_scenario_test

# In-process benchmarks, then the side-by-side scripts (as root: they start
# their own PostgreSQL clusters). Results and commands: BENCHMARKS.md.
bench: bootstrap build/release/build.ninja
	cmake --build build/release --target pgcdc bus_fanout_bench event_json_bench pgoutput_bench \
	  cel_bench transform_bench webhook_bench sse_fanout_bench latency_bench kafka_mock_cluster \
	  -j $(JOBS)
	build/release/bench/bus_fanout_bench
	build/release/bench/event_json_bench
	build/release/src/codec/pgoutput/pgoutput_bench
	build/release/bench/cel/cel_bench
	build/release/bench/transform/transform_bench
	build/release/bench/webhook/webhook_bench --events 100000
	build/release/bench/sse_fanout/sse_fanout_bench --clients 1000 --events 20000 --payload 300
	bench/wal/wal_bench.sh
	bench/latency/latency_bench.sh
	bench/kafkaserver/kafkaserver_bench.sh
	bench/kafka/kafka_bench.sh
	bench/verify/verify_bench.sh

# Every benchmark of bench/ with its peer, RUNS (3) times, at HEAD; rewrites the
# "Latest bench-report run" block of BENCHMARKS.md (commit, date, machine, load).
# About an hour on 2 cores; run it on an otherwise idle machine.
bench-report: bootstrap build/release/build.ninja
	cmake --build build/release -j $(JOBS)
	scripts/bench-report --update

# The .deb (binary stripped, symbols in pgcdc-dbgsym, man page, completions,
# systemd units, examples) and its quick checks; package-check also installs it
# into a fresh debootstrap'ed Debian 12 root (needs root and the Debian mirror).
package: bootstrap build/release/build.ninja
	cmake --build build/release -j $(JOBS)
	rm -f build/release/pgcdc_*.deb build/release/pgcdc-dbgsym_*.ddeb
	cd build/release && cpack >/dev/null
	scripts/check-package build/release

package-check: package
	scripts/check-package build/release --chroot

# Regenerates docs/connectors.md from the connectors' declarations.
docs: build
	build/release/pgcdc describe --all -o markdown > docs/connectors.md

# clang-tidy-19 and clang's thread-safety analysis over src/ (docs/development.md).
lint: bootstrap build/release/build.ninja
	scripts/lint

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf build
