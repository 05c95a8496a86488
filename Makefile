# Two commands do all set-up on a fresh Debian machine:
#   make run    install into .venv and serve (the demo contact center when no PBX is configured)
#   make test   install into .venv with test tools and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test lint install docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The example third-party plugin is installed for the tests only, through its entry point.
$(BIN)/.installed-examples: $(BIN)/.installed docs/examples/medlytt-longcalls/pyproject.toml
	$(BIN)/python -m pip install -q -e docs/examples/medlytt-longcalls
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/medlytt serve $(ARGS)

# ruff, the import contracts (plugins use only the public API) and mypy.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tests/lint_layout.py imports
	$(BIN)/python tests/lint_layout.py types

test: lint $(BIN)/.installed-examples
	$(BIN)/python -m pytest $(ARGS)

docs: install
	$(BIN)/python -m medlytt.docgen docs

clean:
	rm -rf $(VENV) build *.egg-info
