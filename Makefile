# Build the book and run the tests from a fresh clone:
#   make data    find MNIST (NNLIB_DATA, else the cache), download it if missing, check its MD5s (python -m nnlib data)
#   make book    create .venv (if needed), install requirements.txt + nnlib, check the data, build the HTML book
#   make test    create .venv (if needed), install requirements-dev.txt + nnlib, check the data, run pytest
#   make bench   install requirements-bench.txt (PyTorch, scikit-learn) into .venv and run the speed comparison
#   make seeds   Chapter 12's setting over seeds 0-3, its validation sweep over p and the learning rate, and the
#                from-scratch setting's ablations, with provenance, into experiments/results/mnist_seeds.json;
#                then seed 0's final model, saved beside it (about 45 min on 2 cores)
#   make student install requirements-teach.txt (nbgrader) and write student notebooks into student/
#                (CHAPTERS="3 5" for some chapters only)
#   make clean   remove the build output and the virtual environment
# Override the interpreter used to create the venv with e.g. `make book PYTHON=python3.11`.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BUILD  := _build

# Warnings are errors (-W), but report all of them (--keep-going); --all rebuilds every page, so a
# rebuild after a failed build cannot pass just because nothing changed.
JB_FLAGS ?= -W --keep-going --all

.DEFAULT_GOAL := book
.PHONY: data book test bench seeds student clean

# The venv itself (its bundled pip handles editable installs from pyproject.toml).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when the requirement files or pyproject.toml change.
$(VENV)/.stamp-book: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $@

$(VENV)/.stamp-dev: requirements.txt requirements-teach.txt requirements-dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@ $(VENV)/.stamp-book $(VENV)/.stamp-teach

$(VENV)/.stamp-teach: requirements.txt requirements-teach.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-teach.txt -e .
	touch $@ $(VENV)/.stamp-book

$(VENV)/.stamp-bench: requirements.txt requirements-bench.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt -e .
	touch $@ $(VENV)/.stamp-book

# Every chapter needs MNIST: look for it first, so that an offline machine without a copy stops in a second with the
# loader's one message instead of minutes of notebook tracebacks.
data: $(VENV)/.stamp-book
	$(BIN)/python -m nnlib data

book: $(VENV)/.stamp-book data
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo
	@echo "The book is in $(CURDIR)/$(BUILD)/html/"
	@echo "Open it with:  xdg-open $(BUILD)/html/book/intro.html   (macOS: open ...)"
	@echo "or serve it:   $(BIN)/python -m http.server -d $(BUILD)/html 8000  ->  http://localhost:8000/book/intro.html"

test: $(VENV)/.stamp-dev
	$(BIN)/python -m nnlib data
	$(BIN)/python -m pytest

# The stored runs used 2 BLAS threads and OpenBLAS's Haswell kernel; another kernel or thread count rounds
# differently and gives other networks for the same seeds, so `make seeds` fixes both.
SEEDS_ENV ?= OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 OPENBLAS_CORETYPE=Haswell
seeds: $(VENV)/.stamp-bench
	$(BIN)/python -m nnlib data
	$(SEEDS_ENV) $(BIN)/python experiments/mnist_seeds.py
	$(SEEDS_ENV) $(BIN)/python experiments/mnist_seeds.py --settings ours --seeds 0 --final-only --save-model

bench: $(VENV)/.stamp-bench
	$(BIN)/python benchmarks/compare.py

CHAPTERS ?=
student: $(VENV)/.stamp-teach
	$(BIN)/python -m nnlib_teach assign $(CHAPTERS) --out student

clean:
	rm -rf $(BUILD) $(VENV)
