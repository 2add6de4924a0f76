# spinlat: one-command set-up, example run and tests (see README.md).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTHON ?= /usr/bin/python3

.PHONY: all deps configure build build-all python-path run test test-unit test-lammps lammps bench model asan clean

all: build-all

deps:
	@scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

# The program and the Python module (what `make run` needs).
build: configure
	cmake --build $(BUILD) -j $(JOBS) --target spinlat
	@if grep -q '^SPINLAT_PYTHON_MODULE:INTERNAL=ON' $(BUILD)/CMakeCache.txt; then \
	  cmake --build $(BUILD) -j $(JOBS) --target spinlat_python && $(MAKE) --no-print-directory python-path; fi

# The program, the Python module and every test.
build-all: configure
	cmake --build $(BUILD) -j $(JOBS)
	@if grep -q '^SPINLAT_PYTHON_MODULE:INTERNAL=ON' $(BUILD)/CMakeCache.txt; then \
	  $(MAKE) --no-print-directory python-path; fi

# `import spinlat` for $(PYTHON) (run by build and build-all): a spinlat.pth in the user's site-packages naming
# $(BUILD)/python (docs/python.md; PYTHONPATH=$(BUILD)/python does the same for one shell).
python-path:
	@site=$$($(PYTHON) -m site --user-site) && mkdir -p "$$site" && \
	  echo "$(abspath $(BUILD))/python" > "$$site/spinlat.pth" && \
	  echo "python: $(PYTHON) imports spinlat from $(abspath $(BUILD))/python ($$site/spinlat.pth)"

# The default example: a Curie-temperature sweep; writes out/default.h5 and out/default.png.
run: build
	mkdir -p out
	$(BUILD)/spinlat run inputs/default.toml -o out/default.h5
	$(BUILD)/spinlat map inputs/default.toml -o out/default_mapped.toml
	$(BUILD)/spinlat run out/default_mapped.toml -o out/default_mapped.h5 --quiet
	$(PYTHON) analysis/plot_sweep.py out/default.h5 --beside out/default_mapped.h5 -o out/default.png

# Every test but the LAMMPS plugin's (label lammps: `make test-lammps`).
test: build-all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE lammps

test-unit: build-all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# LAMMPS (Debian's source package) with SPIN, PLUGIN, MANYBODY and OPENMP, and spinlat's plugin
# $(BUILD)/spinlat_lammps.so (pair_style spin/spinlat; docs/lammps.md). 15-30 min the first time.
lammps: configure
	JOBS=$(JOBS) scripts/build-lammps.sh $(BUILD)

# The plugin's tests (needs `make lammps`).
test-lammps: lammps
	cd $(BUILD) && ctest --output-on-failure -L lammps

bench: build
	$(BUILD)/spinlat bench

# The bundled learned bcc-iron model: teacher data, held-out data, training into
# inputs/models/fe_bcc.spl, held-out errors (docs/learned-potential.md; ~8 min on one core;
# reproduces the shipped model byte for byte).
model: build
	SPINLAT=$(BUILD)/spinlat PYTHON=$(PYTHON) scripts/train-fe-model.sh

# AddressSanitizer + UndefinedBehaviorSanitizer build and unit tests.
asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINLAT_SANITIZE=ON -DSPINLAT_WITH_TORCH=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) -L unit

clean:
	rm -rf $(BUILD) build-asan out
