#!/usr/bin/env python3
"""Start the product the way a new user and an operator do, and deliver the README's first postbacks.

Each stage works in a fresh clone of the committed tree:

- ``procfile redis`` / ``procfile rabbitmq``: the "Deploying" commands of docs/operating.md
  as written (a virtualenv with the run-time requirements only, migrations,
  the production Procfile's gunicorn, Celery worker and beat) on PostgreSQL and
  Redis, then on PostgreSQL and RabbitMQ;
- ``make-run``: ``make run`` with no environment (SQLite, filesystem broker).

Then the README's "Your first delivered postback" commands run as written
against the partner they start; both postbacks must reach it and the status
API must say ``delivered``. Everything listens and connects on 127.0.0.1 only,
every wait is bounded, and every process a stage started is killed at its end,
whatever happens.
"""

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.processes import kill_processes_in  # noqa: E402 - stdlib only, shared with the tests
WEB = "http://127.0.0.1:8000"
PARTNER_PORT = 9000
# What the README's partner must have printed: both postbacks, the deposit as the first deposit.
EXPECTED_REQUESTS = (
    re.compile(r'"GET /\?click=abc123&event=registration&amount=&id=\d+ HTTP/1\.[01]" 200'),
    re.compile(r'"GET /\?click=abc123&event=first_deposit&amount=25\.00&id=\d+ HTTP/1\.[01]" 200'),
)
BROKERS = {"redis": "redis://127.0.0.1:6379/8", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}
DATABASE = "deploy_check"
# Settings a stage must not inherit from the shell that runs it.
PRODUCT_SETTINGS = (
    "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "STATE_DIR", "PORT",
    "POSTBACK_ALLOWED_NETWORKS", "VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE",
)


class CheckFailed(Exception):
    pass


def documented_commands(document: str, heading: str) -> str:
    """The first ``sh`` block under ``heading`` in ``document``: what a reader copies and runs."""
    text = (ROOT / document).read_text()
    start = text.find(f"\n{heading}\n")
    if start < 0:
        raise CheckFailed(f"{document} has no section {heading!r}")
    match = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    if not match:
        raise CheckFailed(f"{document} section {heading!r} has no sh block")
    return match.group(1)


def log(message: str) -> None:
    print(f"deploy-check: {message}", flush=True)


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def http_json(url: str, key: str | None = None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError):
        return None, None


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class Stage:
    """A fresh clone and the process groups started in it; ``close`` kills them all."""

    def __init__(self, name: str, env: dict[str, str]):
        self.name = name
        self.workdir = Path(tempfile.mkdtemp(prefix=f"deploy-check-{name.replace(' ', '-')}-"))
        self.clone = self.workdir / "clone"
        self.env = env
        self.processes: list[subprocess.Popen] = []
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(self.clone)], check=True)

    def start(self, script: str, log_name: str) -> tuple[subprocess.Popen, Path]:
        path = self.workdir / log_name
        with open(path, "wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", script], cwd=self.clone, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        self.processes.append(process)
        return process, path

    def run(self, script: str, log_name: str, *, timeout: float) -> Path:
        process, path = self.start(f"set -euo pipefail\n{script}", log_name)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"{log_name} still running after {timeout:.0f} s:\n{tail(path)}") from None
        if process.returncode:
            raise CheckFailed(f"{log_name} exited {process.returncode}:\n{tail(path)}")
        return path

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [".venv/bin/python", "manage.py", *args], cwd=self.clone, env=self.env,
            check=True, capture_output=True, text=True, timeout=120,
        ).stdout

    def close(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Process managers start their children in sessions of their own: kill whatever still works in the clone.
        kill_processes_in(self.clone)
        shutil.rmtree(self.workdir, ignore_errors=True)


def base_env(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in PRODUCT_SETTINGS}
    env.update(settings)
    return env


def serve(stage: Stage, script: str, *, timeout: float) -> None:
    for port in (8000, PARTNER_PORT):
        wait_until(lambda: port_free(port), timeout=15, what=f"port {port} to be free")
    process, path = stage.start(script, "serve.log")

    def healthy() -> bool:
        if process.poll() is not None:
            raise CheckFailed(f"the product exited {process.returncode} before serving:\n{tail(path)}")
        return http_json(f"{WEB}/healthz")[0] == 200

    try:
        wait_until(healthy, timeout=timeout, what=f"{WEB}/healthz to answer 200")
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}\n{tail(path)}") from None
    log(f"{stage.name}: /healthz answers 200")


def first_postbacks(stage: Stage) -> None:
    """The README's partner and events, as written; then what the partner got and what the status API says."""
    partner_log = stage.run(documented_commands("README.md", "### Your first delivered postback"), "first-postback.log", timeout=120)
    try:
        wait_until(
            lambda: all(pattern.search(partner_log.read_text(errors="replace")) for pattern in EXPECTED_REQUESTS),
            timeout=60, what="both postbacks at the README's partner",
        )
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}\n{tail(partner_log)}\n--- product ---\n{tail(stage.workdir / 'serve.log')}") from None
    key = stage.manage("create_api_key", "deploy-check", "--role", "admin").strip().splitlines()[-1]

    def delivered() -> bool:
        status, body = http_json(f"{WEB}/api/v1/events/?event_id=dep-1", key)
        events = (body or {}).get("results") or []
        deliveries = events[0].get("deliveries", []) if events and status == 200 else []
        return bool(deliveries) and all(item.get("status") == "delivered" for item in deliveries)

    wait_until(delivered, timeout=30, what="the status API to say delivered for dep-1")
    log(f"{stage.name}: both postbacks reached the partner; the status API says delivered")


def procfile_stage(broker: str) -> None:
    recreate_database()
    env = base_env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        CELERY_BROKER_URL=BROKERS[broker],
        SECRET_KEY=secrets.token_urlsafe(50),
        POSTBACK_ALLOWED_NETWORKS="127.0.0.1/32",
        PORT="8000",
    )
    if broker == "redis":
        env["REDIS_URL"] = "redis://127.0.0.1:6379/9"
    stage = Stage(f"procfile {broker}", env)
    try:
        serve(stage, documented_commands("docs/operating.md", "### Deploying"), timeout=600)
        runtime_only(stage)
        first_postbacks(stage)
    finally:
        stage.close()


def runtime_only(stage: Stage) -> None:
    """The deployed virtualenv holds the run-time set alone: no test tool came along to hide a missing package."""
    found = subprocess.run(
        [".venv/bin/python", "-c", "import pytest"], cwd=stage.clone, env=stage.env, capture_output=True,
    )
    if found.returncode == 0:
        raise CheckFailed("the deployed virtualenv has pytest: it is not the run-time set alone")
    subprocess.run([".venv/bin/pip", "check"], cwd=stage.clone, env=stage.env, check=True, capture_output=True)


def make_run_stage() -> None:
    stage = Stage("make-run", base_env())
    try:
        serve(stage, "exec make run", timeout=600)
        first_postbacks(stage)
    finally:
        stage.close()


def recreate_database() -> None:
    for command in (["dropdb", "--if-exists", "--force"], ["createdb"]):
        subprocess.run([*command, "-h", "127.0.0.1", "-U", "postgres", DATABASE], check=True, timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", metavar="STAGE", help="redis, rabbitmq, make-run (default: all three)")
    stages = parser.parse_args().stages or ["redis", "rabbitmq", "make-run"]
    unknown = set(stages) - {"redis", "rabbitmq", "make-run"}
    if unknown:
        parser.error(f"unknown stage {', '.join(sorted(unknown))}: choose from redis, rabbitmq, make-run")
    started = time.monotonic()
    try:
        for name in stages:
            make_run_stage() if name == "make-run" else procfile_stage(name)
    except CheckFailed as failure:
        log(f"FAILED: {failure}")
        return 1
    log(f"{len(stages)} stages passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
