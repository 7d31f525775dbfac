# xray-search: the two commands a new user needs (README.md), and a few more.
#   make demo   install dependencies, build, get a model and the dataset, validate, index, serve
#   make test   install dependencies, build, run every test (unit, reference, e2e, browser)
# Variables: BUILD (build folder), XRAY_MODEL, XRAY_DATA, XRAY_INDEX, XRAY_PORT (see README).

BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps build test demo bench format clean

all: build

DEPS_FLAGS ?=

deps:
	scripts/install-deps.sh $(DEPS_FLAGS)

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

test: build
	scripts/run-tests.sh $(BUILD)

# The demo needs no LibTorch (the trainer is only for `make test` and users who train): a machine
# without a network and without libtorch-dev still runs it.
demo: DEPS_FLAGS += --no-train
demo: build
	BUILD=$(BUILD) scripts/demo.sh

bench: build
	scripts/bench.sh $(BUILD)

format:
	find src apps tests bench -name '*.h' -o -name '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
