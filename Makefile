# Two commands get a fresh clone going: `make run` and `make test`.
# Both build .venv themselves and reinstall only when a requirements file changes.
# requirements*.txt are lock files (every package pinned, with hashes): pip refuses any
# download whose hash differs. `make lock` regenerates them from requirements*.in.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
METRICS_DIR := var/prometheus

.PHONY: run test docs-check migrate superuser bench lock clean

$(PY):
	$(PYTHON) -m venv $(VENV)

PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes

$(VENV)/.run-installed: requirements.txt | $(PY)
	$(PIP_INSTALL) -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@ $(VENV)/.run-installed

# Pins every package, transitive ones included, with the hashes of every published file.
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

lock: $(VENV)/.dev-installed
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

# A local .env, made once: DEBUG on, a fresh random SECRET_KEY, /metrics open to this machine,
# and postbacks allowed to reach partner stubs on this machine (refused in production by default).
# Readable by its owner only: it holds the SECRET_KEY.
.env:
	@umask 077 && sed -e "s|^SECRET_KEY=.*|SECRET_KEY=$$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')|" \
	     -e "s|^DEBUG=.*|DEBUG=true|" -e "s|^METRICS_ALLOWED_NETWORKS=.*|METRICS_ALLOWED_NETWORKS=127.0.0.1/32,::1/128|" \
	     -e "s|^POSTBACK_ALLOWED_NETWORKS=.*|POSTBACK_ALLOWED_NETWORKS=127.0.0.0/8|" .env.example > .env
	@echo "Wrote .env for local development (DEBUG=true, random SECRET_KEY, postbacks to 127.0.0.0/8 allowed)."

migrate: $(VENV)/.run-installed .env
	$(PY) manage.py migrate --noinput

run: migrate
	@echo ""
	@echo "  Postback platform on http://127.0.0.1:$(PORT)/"
	@echo "    admin:     http://127.0.0.1:$(PORT)/admin/"
	@echo "    API docs:  http://127.0.0.1:$(PORT)/api/docs/"
	@echo "    health:    http://127.0.0.1:$(PORT)/healthz"
	@echo "  First admin user:  $(PY) manage.py createsuperuser"
	@echo "  First API key:     $(PY) manage.py create_api_key my-platform --role platform"
	@echo "  Ctrl-C stops the web server, the listening sender, the Celery workers (postbacks, exports) and beat."
	@echo ""
	@# Counters of the web, worker, beat and exports processes add up here; emptied at each start as prometheus-client asks.
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@# --env /dev/null: honcho would lay .env over the environment; the settings read .env
	@# themselves, below whatever the environment already sets.
	PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/$(METRICS_DIR) $(VENV)/bin/honcho start --env /dev/null \
		--procfile Procfile.dev --port $(PORT)

superuser: migrate
	$(PY) manage.py createsuperuser

# The documentation site (mkdocs.yml), built into a temporary directory and thrown away:
# --strict fails on any broken link, anchor or nav entry.
docs-check: $(VENV)/.dev-installed
	@site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && \
		$(VENV)/bin/mkdocs build --strict --site-dir "$$site"

test: docs-check
	$(PY) -m pytest

# Benchmarks on PostgreSQL + Redis (loopback): bench/RESULTS.md says what they measure and what they found.
# The product's pinned, hashed requirements come first; the bench-only tools carry no hashes, so pip takes
# them in a run of their own (one file with hashes would make pip demand them of every line).
$(VENV)/.bench-installed: $(VENV)/.run-installed bench/requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@touch $@

bench: $(VENV)/.bench-installed
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
