# Two commands on a fresh machine: `make run` serves the API, `make test` runs every test.
# Both create .venv and install the package with its dev extras on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Host and port come from HOST and PORT (environment or .env; 127.0.0.1:8000 by default):
# `PORT=8300 make run`.
run: $(STAMP)
	$(VENV)/bin/queue-manager serve

# The browser tests need Debian's chromium and chromium-driver (the browser and its
# WebDriver): installed here when either is missing and we may (root, as in CI). Without
# them those tests skip and say why, except under CI=true, where they fail.
browser:
	@{ command -v chromium && command -v chromedriver; } >/dev/null || [ "$$(id -u)" != 0 ] || { \
	  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Lint first (CI runs this target), then every test. pytest's exit code 5 (no tests
# collected) must fail, not pass silently.
test: lint browser
	$(PY) -m pytest -q -p no:cacheprovider; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	exit $$status

# mypy checks app, tests and bench (the files listed in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check app tests bench
	$(VENV)/bin/ruff format --check app tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var test-artifacts
