# The README's two commands: `make run` (the app on the demo directory) and `make test`
# (everything CI checks). Both set up a private virtual environment in .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run serve test bench quality lint clean

$(VENV)/.installed-app: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-app pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed-app
	$(BIN)/python -m matcher demo-account
	$(BIN)/streamlit run app.py

# Several server processes behind one port (docs/serving.md): `make serve PROCESSES=2 PORT=8501`.
PROCESSES ?= 2
PORT ?= 8501
serve: $(VENV)/.installed-app
	$(BIN)/python -m matcher demo-account
	$(BIN)/python -m matcher.serve --processes $(PROCESSES) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

$(VENV)/.installed-bench: $(VENV)/.installed-app pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

# Every speed figure of the README in one run: ranking, batch and triage (bench), then ten
# clients at once against one and two server processes (bench.serving; Debian's chromium).
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench
	$(BIN)/python -m bench.serving --clients 10 --servers direct,2 --repeats 7

quality: $(VENV)/.installed-bench
	$(BIN)/python -m bench.quality

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
