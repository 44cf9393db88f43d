# Two entry points do all the set-up on a fresh machine:
#   make run    install into .venv and start the dashboard
#   make test   install into .venv (plus Debian's Chromium and redis-server for the tests), lint
#               with ruff, and run every test; the engine and data tests run again on
#               the oldest Python that requires-python admits
# and one for a quick loop while editing:
#   make test-fast   every test but the browser ones (no Chromium, no second Python)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_ARGS ?=

# The oldest Python the package claims, read from pyproject.toml so that the claim is what
# gets tested. Its interpreter comes from pyenv, or from PATH; OLDEST_PYTHON=... overrides.
OLDEST := $(shell sed -n 's/^requires-python *= *">= *\([0-9.]*\)".*/\1/p' pyproject.toml)
OLDEST_PYTHON ?= $(firstword $(wildcard \
	$(addsuffix /bin/python3,$(shell pyenv prefix $(OLDEST) 2>/dev/null)) \
	$(HOME)/.pyenv/versions/$(OLDEST).*/bin/python3 \
	/usr/bin/python$(OLDEST) /usr/local/bin/python$(OLDEST)))
OLDEST_VENV ?= .venv-py$(subst .,,$(OLDEST))

.PHONY: run test test-fast test-oldest lint bench install browser redis clean

run: $(VENV)/.installed
	$(PY) app.py $(RUN_ARGS)

# The tests without a browser run on every core (pytest-xdist); the browser tests, which
# time what a page shows while a server trains, run one at a time. The browser tests
# (stress script included) carry the "browser" marker.
test: lint $(VENV)/.installed-test browser redis test-oldest
	$(PY) -m pytest -m "not browser" -n auto
	$(PY) -m pytest -m browser

test-fast: $(VENV)/.installed-test redis
	$(PY) -m pytest -m "not browser" -n auto

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

# The engine and the mesh loaders, which a notebook on an older Python imports, run again
# there; the dashboard's tests run once, on the default Python, to keep the run short.
test-oldest: $(OLDEST_VENV)/.installed-test
	$(OLDEST_VENV)/bin/python -m pytest tests/engine tests/data -n auto

bench: $(VENV)/.installed-bench
	$(PY) benchmarks/bench_engine.py

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

$(OLDEST_VENV)/.installed-test: pyproject.toml
	@[ -n "$(OLDEST)" ] || { echo "make: cannot read requires-python from pyproject.toml" >&2; exit 1; }
	@[ -n "$(OLDEST_PYTHON)" ] || { echo "make: Python $(OLDEST), the oldest that pyproject.toml admits, is" \
		"not installed: 'pyenv install $(OLDEST)', or pass OLDEST_PYTHON=/path/to/python$(OLDEST)" >&2; exit 1; }
	@$(OLDEST_PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(v != "$(OLDEST)" and \
		f"make: $(OLDEST_PYTHON) is Python {v}, not $(OLDEST)")'
	$(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

# The browser tests drive Debian's Chromium through Playwright; Playwright's own
# browser download does not work offline, so the system package is installed instead.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver)

# The Redis store and the Celery workers are tested against Debian's redis-server, which the
# tests start themselves on free ports (the package's own service is not used).
redis:
	@command -v redis-server >/dev/null || \
		($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server)

clean:
	rm -rf $(VENV) $(OLDEST_VENV) .pytest_cache .hypothesis .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
