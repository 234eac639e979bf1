# taskfarm - the commands a user types. CMake does the building; this file
# only names the steps. Quick start: `make deps demo`, then `make test`.

BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
# CI (CI=true) builds with warnings as errors.
WERROR  ?= $(if $(CI),ON,OFF)
CMAKE   ?= cmake
CTEST   ?= ctest
MAKEFLAGS += --no-print-directory
CONFIGURE = $(CMAKE) -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTF_WERROR=$(WERROR)

.PHONY: all deps demo test install test-sanitize fuzz bench bench-quick bench-python cuda clean
.PHONY: bench-multinode

all:
	@$(CONFIGURE) -B $(BUILD) >/dev/null
	@$(CMAKE) --build $(BUILD) -j$(JOBS)

# Installs the missing Debian/Ubuntu packages (root, or sudo).
deps:
	@sh scripts/deps.sh

# The main job on its default workload.
demo: all
	@sh scripts/demo.sh $(BUILD)

# The whole test suite, through CTest.
test: all
	@cd $(BUILD) && $(CTEST) --output-on-failure --timeout 900

# Installs the library, its header, pkg-config files, CMake package and
# modulefile under PREFIX (e.g. make install PREFIX=$$HOME/.local).
PREFIX  ?= /usr/local
install:
	@$(CONFIGURE) -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@$(CMAKE) --build $(BUILD) -j$(JOBS)
	@$(CMAKE) --install $(BUILD)

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer, then the
# concurrency tests under ThreadSanitizer.
test-sanitize:
	@$(CONFIGURE) -B $(BUILD)-asan -DTF_SANITIZE=address,undefined >/dev/null
	@$(CMAKE) --build $(BUILD)-asan -j$(JOBS)
	@cd $(BUILD)-asan && $(CTEST) --output-on-failure -L 'unit|cli|sanitize'
	@$(CONFIGURE) -B $(BUILD)-tsan -DTF_SANITIZE=thread >/dev/null
	@$(CMAKE) --build $(BUILD)-tsan -j$(JOBS)
	@cd $(BUILD)-tsan && $(CTEST) --output-on-failure -L threads

# libFuzzer on the journal reader for FUZZ_SECONDS, its corpus seeded with
# the journals that the journal tests write; then on the message codec
# between processes for FUZZ_WIRE_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_WIRE_SECONDS ?= 30
fuzz:
	@$(CMAKE) -S . -B $(BUILD)-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_C_COMPILER=clang -DTF_FUZZ=ON >/dev/null
	@$(CMAKE) --build $(BUILD)-fuzz -j$(JOBS) --target fuzz_journal fuzz_wire test_journal
	@mkdir -p $(BUILD)-fuzz/corpus
	@TF_FUZZ_SEEDS=$(CURDIR)/$(BUILD)-fuzz/corpus $(BUILD)-fuzz/bin/test_journal >/dev/null
	@$(BUILD)-fuzz/bin/fuzz_journal -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -print_final_stats=1 $(BUILD)-fuzz/corpus 2>&1 | tail -n 12
	@mkdir -p $(BUILD)-fuzz/corpus-wire
	@$(BUILD)-fuzz/bin/fuzz_wire -max_total_time=$(FUZZ_WIRE_SECONDS) -timeout=10 \
	    -print_final_stats=1 $(BUILD)-fuzz/corpus-wire 2>&1 | tail -n 12

# Side-by-side measurements: the library's own costs, then taskfarm against
# Python multiprocessing, joblib and OpenMP. Figures in build/bench/.
bench: all
	@mkdir -p $(BUILD)/bench
	@$(BUILD)/bin/bench_core --json $(BUILD)/bench/core.json
	@python3 bench/compare.py $(BUILD)

# A smoke test of the benchmark harness: asserts nothing about speed.
bench-quick: all
	@mkdir -p $(BUILD)/bench
	@$(BUILD)/bin/bench_core --quick --json $(BUILD)/bench/core-quick.json
	@if [ -x $(BUILD)/bin/bench_coord ]; then $(BUILD)/bin/bench_coord model --quick; fi
	@python3 bench/compare.py $(BUILD) --quick

# The taskfarm Python module against joblib and multiprocessing.Pool, on the
# tutorial's workload (bench/README.md#python). QUICK=1 for a short run.
bench-python: all
	@/usr/bin/python3 bench/py_taskfarm.py $(BUILD) $(if $(QUICK),--quick)

# Two namespace nodes of 1 CPU against one node of 2 CPUs, MPI over TCP
# (root: network namespaces; 15 runs of a ~4 s workload). Figures: bench/README.md.
bench-multinode: all
	@bash bench/multinode_bench.sh $(BUILD)

# The GPU example as a binary to carry to a GPU machine that has the
# driver and little else: GMP, zlib, the CUDA and C++ runtimes linked in,
# no MPI: it needs only the C library (glibc 2.35 or newer) and the driver.
cuda:
	@$(CONFIGURE) -B $(BUILD)-gpu -DTF_BUILD_GPU=ON \
	    -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON >/dev/null
	@$(CMAKE) --build $(BUILD)-gpu -j$(JOBS) --target fibonacci_cuda
	@echo "$(BUILD)-gpu/bin/fibonacci_cuda"

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz $(BUILD)-gpu
