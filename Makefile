# ragsim: thin wrapper around CMake. The README's quick start is
#   apt-get update && apt-get install -y make && make demo
#                # (make itself is not on a fresh Debian) install what running needs, build, run the default scenario
#   make test    # install the test tools too, build, run the whole test suite
# Every target installs the missing Debian packages it needs first
# (idempotent: it only calls apt-get when something is missing).
# `make deps-list` prints what `make demo` would install on this machine.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
SCENARIO   ?= scenarios/incident-2023q4.yaml
OUT        ?= out

# What building and running needs (Debian 12 package names): the compiler,
# CMake, GSL, libyaml, HDF5, and the Python of `ragsim report` and `replay`
# (PyYAML reads the run's scenario: the replay's topology, the report's
# limits; plotly draws the report's interactive page, which the report
# leaves out without it).
RUN_DEBS := build-essential cmake pkg-config libgsl-dev libyaml-dev libhdf5-dev \
        python3 python3-h5py python3-numpy python3-pandas python3-matplotlib python3-plotly python3-yaml
# What the test suite needs on top: Criterion, HDF5's tools, MPI (ragsim-mpi
# and its tests), pytest and the notebook runner, Chromium (the report's
# screenshot), clang (the fuzz targets), valgrind; promtool (Debian's
# prometheus package) checks `ragsim export`'s OpenMetrics and promtool test
# files; xarray with h5netcdf opens traces as netCDF-4 groups; jsonschema checks
# the --json outputs against their schemas.
TEST_DEBS := libcriterion-dev hdf5-tools openmpi-bin libopenmpi-dev \
        python3-pytest python3-nbclient \
        python3-nbformat python3-ipykernel jupyter-nbconvert chromium \
        clang libclang-rt-14-dev valgrind python3-pip python3-setuptools \
        prometheus python3-xarray python3-h5netcdf python3-jsonschema
DEBS := $(RUN_DEBS) $(TEST_DEBS)
# User builds do not treat warnings as errors (a newer compiler may warn
# where ours does not); `make test` and CI (.ci/run) do.
WERROR     ?= OFF
TEST_WERROR ?= ON
PREFIX     ?= /usr/local

# What `make bench` needs on top of DEBS: SimPy for the M/M/c baseline (Debian 12's
# python3-simpy is SimPy 2.3, run by /usr/bin/python3); FAISS, hnswlib and SciPy for
# bench/vectordb/ (measure, fit, calibrate; the CI test reads only the committed CSV).
BENCH_DEBS := python3-simpy python3-faiss python3-hnswlib python3-scipy

.PHONY: all deps run-deps deps-list bench-deps build demo test test-fast test-asan bench clean help fuzz valgrind install

all: build

help:
	@echo "make demo   - install what running needs, build, compare the variants of $(SCENARIO),"
	@echo "              write its HTML report and the replay page beside it (REPLAY=0: no replay)"
	@echo "make test   - install the test tools too, build (warnings as errors), run the test suite,"
	@echo "              then the suite again under AddressSanitizer + UBSan"
	@echo "make run-deps - install the missing Debian packages running needs (apt-get; root or sudo)"
	@echo "make deps   - the same plus the test tools"
	@echo "make deps-list - print the packages make demo / make test would install here"
	@echo "make build  - configure and build into $(BUILD)/ (WERROR=ON: warnings as errors)"
	@echo "make install PREFIX=P - install ragsim, ragsim-mpi, the analysis package, scenarios, docs"
	@echo "make bench  - engine benchmarks against bench/baselines/ (see docs/internals/performance.md);"
	@echo "              also installs $(BENCH_DEBS) if missing"
	@echo "make fuzz   - libFuzzer on the scenario loader and --set, FUZZ_SECONDS=$(FUZZ_SECONDS) each"
	@echo "              (clang; build dir $(FUZZ_BUILD)/; see docs/internals/testing.md)"
	@echo "make valgrind - memcheck on a short run that writes a trace: zero errors, zero leaks"
	@echo "make clean  - remove build directories"

# $(call install-missing,PACKAGES): apt-get install those of PACKAGES that
# dpkg does not list as installed (nothing at all when none is missing).
define install-missing
@if command -v dpkg-query >/dev/null 2>&1; then \
  missing=""; \
  for p in $(1); do \
    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
  done; \
  if [ -n "$$missing" ]; then \
    echo "ragsim: installing missing packages:$$missing"; \
    SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
  fi; \
else \
  echo "ragsim: not a Debian system; make sure these are installed: $(1)"; \
fi
endef

deps:
	$(call install-missing,$(DEBS))

run-deps:
	$(call install-missing,$(RUN_DEBS))

# What would be installed here (nothing is): the dry listing of `make demo`.
deps-list:
	@for set in RUN TEST; do \
	  if [ $$set = RUN ]; then pk="$(RUN_DEBS)"; what="make demo"; else pk="$(TEST_DEBS)"; what="make test (in addition)"; fi; \
	  missing=""; for p in $$pk; do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	  done; \
	  echo "$$what needs:$$(echo " $$pk" | tr -s ' ')"; \
	  echo "  missing here:$${missing:- none}"; \
	done

bench-deps:
	$(call install-missing,$(BENCH_DEBS))

$(BUILD)/CMakeCache.txt: | run-deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DRAGSIM_WERROR=$(WERROR)

build: run-deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The incident of the RAG stability article (docs/background.md): every
# variant side by side, then the HTML report and, beside it, the replay page
# (docs/replay.md) of the first two variants. REPLAY_SAMPLE: the fraction of
# requests whose spans the trace keeps for the replay (a hash of the request
# id picks them: the results do not change); REPLAY=0 skips the replay (a
# scenario of the network model has none).
REPLAY        ?= 1
REPLAY_SAMPLE ?= 0.005
demo: build
	@mkdir -p $(OUT)
	./$(BUILD)/ragsim compare $(SCENARIO) -o $(OUT)/demo.h5 --force \
	  $(if $(filter 1,$(REPLAY)),--set trace.request_sample=$(REPLAY_SAMPLE))
	./$(BUILD)/ragsim report $(OUT)/demo.h5 -o $(OUT)/demo-report
	$(if $(filter 1,$(REPLAY)),./$(BUILD)/ragsim replay $(OUT)/demo.h5 -o $(OUT)/demo-report)

# The suite configures the build with warnings as errors (TEST_WERROR=ON).
test-fast: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DRAGSIM_WERROR=$(TEST_WERROR)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRAGSIM_WERROR=$(TEST_WERROR) -DRAGSIM_SANITIZE=ON

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && RAGSIM_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

test: test-fast test-asan

# Baselines: the hold model on a plain binary heap and M/M/c in SimPy
# (bench/baselines/README.md); each figure is printed next to its baseline's.
BASELINES ?= bench/baselines

# One table: every figure beside its baseline's, measured in the same round
# (ROUNDS=3 rounds, medians); HOUR=0 skips the busy-hour runs (a few minutes).
ROUNDS ?= 3
bench: deps build bench-deps
	@HOUR=$${HOUR:-1} sh bench/bench.sh $(BUILD) $(BASELINES) $(ROUNDS)

# Fuzzing: a separate clang build (the normal build is untouched). Each
# target first replays its regression inputs, then fuzzes for FUZZ_SECONDS
# from a working corpus seeded with the scenarios and the bad-input corpus.
# A finding is written to $(FUZZ_BUILD)/findings/ and fails the target.
$(FUZZ_BUILD)/CMakeCache.txt: | deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAGSIM_FUZZ=ON -DRAGSIM_TESTS=OFF

fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_load fuzz_set
	@mkdir -p $(FUZZ_BUILD)/corpus/load $(FUZZ_BUILD)/corpus/set $(FUZZ_BUILD)/findings
	./$(FUZZ_BUILD)/fuzz_load -runs=0 fuzz/regressions/load
	./$(FUZZ_BUILD)/fuzz_set -runs=0 fuzz/regressions/set
	./$(FUZZ_BUILD)/fuzz_load -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
	  -dict=fuzz/scenario.dict -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/findings/load- \
	  $(FUZZ_BUILD)/corpus/load scenarios scenarios/validation tests/bad-inputs fuzz/regressions/load
	./$(FUZZ_BUILD)/fuzz_set -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=1024 \
	  -dict=fuzz/scenario.dict -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/findings/set- \
	  $(FUZZ_BUILD)/corpus/set fuzz/seeds/set fuzz/regressions/set

# Memcheck on a smoke run (a short scenario, trace written): any error or a
# definite/indirect leak fails. (--show-leak-kinds: HDF5 and libyaml keep
# some "still reachable" globals, which are not leaks.)
VALGRIND_OUT ?= $(BUILD)/valgrind-smoke.h5
valgrind: deps build
	valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	  --show-leak-kinds=definite,indirect --track-origins=yes \
	  ./$(BUILD)/ragsim run scenarios/validation/mm1.yaml --reps 2 --set duration=2m --set warmup=10s \
	  -o $(VALGRIND_OUT) --force -q
	valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	  --show-leak-kinds=definite,indirect \
	  ./$(BUILD)/ragsim run scenarios/rag-baseline.yaml --reps 1 --set duration=20s --set warmup=5s \
	  -o $(VALGRIND_OUT) --force -q
	valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	  --show-leak-kinds=definite,indirect \
	  ./$(BUILD)/ragsim validate tests/bad-inputs/alias-billion-laughs.yaml; test $$? -eq 2
	@rm -f $(VALGRIND_OUT)
	@echo "valgrind: no memory errors, no definite or indirect leaks"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
