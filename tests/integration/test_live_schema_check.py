"""The schemathesis command line against a live server, as docs/development.md runs it: any failure or warning fails.

The server starts from an empty database but for an admin key: the run creates what its linked operations need
through the API itself (a partner, its endpoint, an event that endpoint receives, that event's delivery),
following the schema's links. ``schemathesis.toml`` makes every warning fail the run, so an operation that no
request reached with data to act on ("missing test data"), or one refusing what its schema allows ("schema
validation mismatch"), fails this test as it fails the documented run.

The options are the documented ones but two, to keep it short: fewer examples per operation, and no coverage
phase (its boundary values run to thousands of requests; the documented run has it). The stateful phase's
budget is the one ``schemathesis.toml`` sets for both.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from accounts.models import ApiKey
from accounts.services import api_key_create
from accounts.throttling import ApiKeyRateThrottle
from deliveries.models import Delivery
from tests.support.services import require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
DOCUMENTED_OPTIONS = ["--exclude-path-regex", "/test/$", "--seed", "1"]
SHORTER = ["-n", "8", "--phases", "examples,fuzzing,stateful"]
RUN_SECONDS = 150


@pytest.fixture
def unthrottled(settings, monkeypatch):
    """What API_AUTH_FAILURE_LIMIT and API_THROTTLE_RATE do for the documented run: the run's own
    unauthenticated cases must not get its address throttled."""
    settings.API_AUTH_FAILURE_LIMIT = 1_000_000
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "100000000/min"})


def test_live_run_ends_without_failures_or_warnings(live_server, unthrottled, sender_asleep):
    # given: the database the documented run starts from (PostgreSQL), empty but for an admin key
    require_postgres()
    key = api_key_create(name="schema-check", role=ApiKey.Role.ADMIN).plaintext

    # when
    run = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{live_server.url}/api/schema/?format=json",
         "-H", f"Authorization: Bearer {key}", *DOCUMENTED_OPTIONS, *SHORTER],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_SECONDS,
    )

    # then
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    assert "WARNINGS" not in output and "No issues found" in output, output[-8000:]
    assert Delivery.objects.exists(), "the links led from a created endpoint to an event with a delivery"
