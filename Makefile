# ragsim: thin wrapper around CMake. The README's quick start is
#   make demo    # install what is missing, build, run the default scenario
#   make test    # install what is missing, build, run the whole test suite
# Every target installs missing Debian packages first (idempotent: it only
# calls apt-get when something is missing).

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
SCENARIO   ?= scenarios/trap-vectordb-avalanche.yaml
OUT        ?= out

# Build and test dependencies (Debian 12 package names).
DEBS := build-essential cmake pkg-config libgsl-dev libyaml-dev libhdf5-dev \
        libcriterion-dev hdf5-tools python3 python3-h5py python3-numpy

.PHONY: all deps build demo test test-fast test-asan bench clean help

all: build

help:
	@echo "make demo   - install deps, build, run $(SCENARIO) and print its summary"
	@echo "make test   - install deps, build (warnings as errors), run the test suite,"
	@echo "              then the suite again under AddressSanitizer + UBSan"
	@echo "make deps   - install missing Debian packages (apt-get; needs root or sudo)"
	@echo "make build  - configure and build into $(BUILD)/"
	@echo "make bench  - engine benchmarks (see docs/performance.md)"
	@echo "make clean  - remove build directories"

deps:
	@if command -v dpkg-query >/dev/null 2>&1; then \
	  missing=""; \
	  for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	  done; \
	  if [ -n "$$missing" ]; then \
	    echo "ragsim: installing missing packages:$$missing"; \
	    SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	else \
	  echo "ragsim: not a Debian system; make sure these are installed: $(DEBS)"; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DRAGSIM_WERROR=ON

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@mkdir -p $(OUT)
	./$(BUILD)/ragsim run $(SCENARIO) -o $(OUT)/demo.h5

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRAGSIM_WERROR=ON -DRAGSIM_SANITIZE=ON

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && RAGSIM_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

test: test-fast test-asan

# Baselines (the hold model on a plain binary heap) live outside the
# repository; when present, each figure is printed next to its baseline.
BASELINES ?= ../shared/bench

# One table: every figure beside its baseline's, measured in the same round
# (ROUNDS=3 rounds, medians); HOUR=0 skips the busy-hour runs (a few minutes).
ROUNDS ?= 3
bench: build
	@HOUR=$${HOUR:-1} sh bench/bench.sh $(BUILD) $(BASELINES) $(ROUNDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
