# Entry points for humans and CI. Everything builds with CMake presets into build/<preset>.
#   make demo   - bootstrap, build, run the live playground (Ctrl-C to stop)
#   make test   - bootstrap, build, run unit + scenario tests (what CI runs)
#   make build  - release binary at build/release/pgcdc
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all bootstrap build test unit scenario demo asan tsan fuzz bench format clean

all: build

bootstrap:
	@scripts/bootstrap

build/release/build.ninja:
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

asan: bootstrap
	cmake --preset asan >/dev/null
	cmake --build build/asan -j $(JOBS)
	ctest --test-dir build/asan --output-on-failure -L unit -j $(CTEST_JOBS)

tsan: bootstrap
	cmake --preset tsan >/dev/null
	cmake --build build/tsan -j $(JOBS)
	ctest --test-dir build/tsan --output-on-failure -L unit -j $(CTEST_JOBS)

# Runs each libFuzzer target for FUZZ_SECONDS (default 60).
FUZZ_SECONDS ?= 60
fuzz: bootstrap
	cmake --preset fuzz >/dev/null
	cmake --build build/fuzz --target notify_payload_fuzz -j $(JOBS)
	mkdir -p build/fuzz/corpus/notify_payload
	build/fuzz/tests/fuzz/notify_payload_fuzz -max_total_time=$(FUZZ_SECONDS) \
	  -dict=tests/fuzz/notify_payload.dict build/fuzz/corpus/notify_payload tests/fuzz/corpus/notify_payload

bench: bootstrap build/release/build.ninja
	cmake --build build/release --target bus_fanout_bench -j $(JOBS)
	build/release/bench/bus_fanout_bench

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf build
