# CNN Studio: `make run` starts the app, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
# pip byte-compiles what it installs, and that stays: --no-compile made a fresh install 34 s instead
# of 62 s, but where PYTHONDONTWRITEBYTECODE is set, as on the test machine, every process then
# compiled TensorFlow from source again, and the suite took 15 minutes instead of 12.
INSTALL := $(PY) -m pip install --quiet

.PHONY: run test lint format bench packages test-packages clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt pyproject.toml | $(PY)
	$(INSTALL) -r requirements.txt
	$(INSTALL) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-dev.txt requirements-cluster.txt pyproject.toml | $(PY)
	$(INSTALL) -r requirements-dev.txt
	$(INSTALL) --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run packages
	$(PY) scripts/serve.py --server.port $(PORT)

# Debian packages, installed when missing and this user can (root or password-less sudo)
packages:
	@bash scripts/ensure-packages.sh dataset-fashion-mnist

test-packages:
	@bash scripts/ensure-packages.sh chromium dataset-fashion-mnist

test: $(VENV)/.installed-test test-packages
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.installed-test
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(VENV)/.installed-test test-packages
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
