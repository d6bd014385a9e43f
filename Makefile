# Two commands on a fresh machine: `make run` serves on :8000, `make test` runs every test.
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

run: $(STAMP)
	$(VENV)/bin/queue-manager serve --host 127.0.0.1 --port 8000

# The browser tests need Debian's chromium and chromium-driver: installed here when
# missing and we may (root, as in CI); otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || { \
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
