# Two commands get a fresh clone going: `make run` and `make test`.
# Both build .venv themselves and reinstall only when a requirements file changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
METRICS_DIR := var/prometheus

.PHONY: run test migrate superuser bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.run-installed

# A local .env, made once: DEBUG on, a fresh random SECRET_KEY, /metrics open to this machine,
# and postbacks allowed to reach partner stubs on this machine (refused in production by default).
.env:
	@sed -e "s|^SECRET_KEY=.*|SECRET_KEY=$$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')|" \
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
	@echo "  Ctrl-C stops the web server, the Celery worker and Celery beat."
	@echo ""
	@# Counters of the web, worker and beat processes add up here; emptied at each start as prometheus-client asks.
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/$(METRICS_DIR) $(VENV)/bin/honcho start --procfile Procfile.dev --port $(PORT)

superuser: migrate
	$(PY) manage.py createsuperuser

test: $(VENV)/.dev-installed
	$(PY) -m pytest

# Benchmarks on PostgreSQL + Redis (loopback): bench/RESULTS.md says what they measure and what they found.
$(VENV)/.bench-installed: requirements.txt bench/requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@touch $@

bench: $(VENV)/.bench-installed
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
