# The two user commands: `make run` and `make test`. Everything else is a helper.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)
DATA_DIR ?= ./data

.PHONY: run test deps build test-asan format clean

run: build
	$(BUILD_DIR)/tools/imserver --data-dir $(DATA_DIR) --bind 127.0.0.1 --port 7700 --http-port 7780

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600

deps:
	@tools/install-deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test-asan:
	$(MAKE) test PRESET=asan

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build

# The standard benchmark suite on this machine; writes docs/performance.md.
.PHONY: bench
bench: build
	bench/run-bench.sh $(BUILD_DIR) docs/performance.md
