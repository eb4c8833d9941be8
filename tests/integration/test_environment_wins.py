"""`make run` started as a new user starts it: the environment beats `.env` in every process.

The test runs the real Makefile target in a copy of the project (sharing this
virtualenv), with `.env` and the environment disagreeing on two settings, and
reads what web, worker and beat did with them.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import ROOT, kill_processes_in, stop_process_group, wait_until
from tests.support.services import require_programs
from tests.support.stack import free_port

pytestmark = pytest.mark.integration

# What a copy of the project needs: the committed files, with their times kept
# so that make finds the virtualenv's install stamps up to date.
_SETTINGS_FROM_OUTSIDE = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "STATE_DIR")
_PROCESS_LINE = re.compile(r"^\d\d:\d\d:\d\d (?P<name>web|worker|beat)\.1\s+\| (?P<text>.*)$")


def _project_copy(destination: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / ".venv").symlink_to(ROOT / ".venv")
    return destination


def _clean_environment(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _SETTINGS_FROM_OUTSIDE}
    env.update(settings)
    return env


def _json_lines_by_process(output: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {"web": [], "worker": [], "beat": []}
    for line in output.splitlines():
        match = _PROCESS_LINE.match(line)
        if match and match["text"].startswith("{"):
            try:
                found[match["name"]].append(json.loads(match["text"]))
            except json.JSONDecodeError:
                continue
    return found


def _text_log_lines(output: str) -> list[str]:
    """Log records in the text format (`2026-… INFO logger message`), which `.env` asked for."""
    return [
        line for line in output.splitlines()
        if (match := _PROCESS_LINE.match(line)) and re.match(r"\d{4}-\d\d-\d\d .* (INFO|WARNING) ", match["text"])
    ]


def _post(url: str, key: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def project():
    require_programs("make", "git")
    with tempfile.TemporaryDirectory(prefix="make-run-") as workdir:
        yield _project_copy(Path(workdir))


def test_dotenv_is_written_readable_by_its_owner_only(project):
    # when
    subprocess.run(["make", ".env"], cwd=project, check=True, capture_output=True, timeout=30)

    # then
    assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600


def test_environment_beats_dotenv_in_web_worker_and_beat(project):
    # given: .env says text logs and all of 127.0.0.0/8; the environment says JSON logs and 127.0.0.1 only
    (project / ".env").write_text(
        "DEBUG=true\nSECRET_KEY=make-run-test-0c5d2f6a9b8e4d71a3f0\n"
        "LOG_FORMAT=text\nPOSTBACK_ALLOWED_NETWORKS=127.0.0.0/8\n"
    )
    port = free_port()
    env = _clean_environment(LOG_FORMAT="json", POSTBACK_ALLOWED_NETWORKS="127.0.0.1/32", PORT=str(port))
    log = project / "make-run.log"
    base = f"http://127.0.0.1:{port}"

    # when
    with open(log, "wb") as out:
        make_run = subprocess.Popen(
            ["make", "run"], cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until(lambda: _healthy(base), timeout=90, interval=0.5, message=f"make run to serve {base}/healthz")
        wait_until(
            lambda: all(_json_lines_by_process(log.read_text(errors="replace")).values()),
            timeout=30, interval=0.5, message="a JSON log line from web, worker and beat",
        )
        key = subprocess.run(
            [".venv/bin/python", "manage.py", "create_api_key", "env-test", "--role", "admin"],
            cwd=project, env=env, check=True, capture_output=True, text=True, timeout=60,
        ).stdout.strip().splitlines()[-1]
        _post(f"{base}/api/v1/partners/", key, {"slug": "acme", "name": "Acme", "scope": "all"})
        status, answer = _post(f"{base}/api/v1/partners/acme/endpoints/", key, {
            "name": "outside the environment's networks", "method": "GET", "event_types": ["registration"],
            "url_template": "http://127.0.0.2:9/?id={delivery_id}",
        })
    finally:
        stop_process_group(make_run)
        kill_processes_in(project)
    output = log.read_text(errors="replace")

    # then: every process logged in JSON (the environment), none in text (.env) ...
    assert not _text_log_lines(output), _text_log_lines(output)[:5]
    # ... and the web process refused an address that only .env would admit
    assert status == 400, answer
    assert "127.0.0.2" in json.dumps(answer)
