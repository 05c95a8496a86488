# Two commands do all set-up on a fresh Debian machine:
#   make run    install into .venv and serve (the demo contact center when no PBX is configured)
#   make test   install into .venv with test tools and run the whole test suite
# and one for a developer without root: make test-unit (all but the real Asterisk, Prometheus and Chromium).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test test-unit lint install docs docs-site clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The example third-party plugin (docs/examples/medlytt-longcalls) is never installed in .venv,
# where it would load in every later `make run`: each test session pip-installs it into a folder
# of its own on the tests' path (tests/conftest.py), so the tests still find it through its entry
# point like any installed package, with or without make. Earlier versions of `make test`
# installed it here (the .installed-examples stamp): remove that copy.
install: $(BIN)/.installed
	@if [ -e $(BIN)/.installed-examples ]; then \
		$(BIN)/python -m pip uninstall -q -y medlytt-longcalls && rm $(BIN)/.installed-examples; \
	fi

run: install
	$(BIN)/medlytt serve $(ARGS)

# ruff, the import contracts (plugins use only the public API) and mypy.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tests/lint_layout.py imports
	$(BIN)/python tests/lint_layout.py types

# Every test: a real Asterisk (root), Prometheus and Chromium included, failing (never skipped) without them.
test: lint
	$(BIN)/python -m pytest $(ARGS)

# Every test that needs neither root nor the Debian archive (markers: pyproject.toml).
test-unit: lint
	$(BIN)/python -m pytest -m "not asterisk and not prometheus and not browser" $(ARGS)

docs: install
	$(BIN)/python -m medlytt.docgen docs

# The docs site (MkDocs, Material theme) in site/, warnings as errors; `make test` builds it too
# (tests/test_docs_site.py). Regenerate the references first when the code changed: make docs.
docs-site: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) build *.egg-info
