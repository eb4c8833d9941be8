import ipaddress
import os
import random
import tempfile
from pathlib import Path

import pytest

from accounts.models import ApiKey
from accounts.services import api_key_create
from tests.support.processes import child_env
from tests.support.services import child_database_url, require_postgres, require_programs
from tests.support.stack import redis_server

# Short lease and a fast beat, so recovery from a lost worker or message takes seconds
# (a lease that short needs a short database connect timeout, or start-up refuses it).
FAST_RECOVERY = {
    "POSTBACK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "POSTBACK_LEASE_SECONDS": "3",
    "DB_CONNECT_TIMEOUT": "2",
    "POSTBACK_SCHEDULER_INTERVAL_SECONDS": "0.5",
    "POSTBACK_SENDER_TIME_BUDGET_SECONDS": "4",
    "POSTBACK_SENDER_MAX_IN_FLIGHT": "16",
    "POSTBACK_RETRY_SCHEDULE": "1",
    "DEBUG": "false",
    "LOG_LEVEL": "WARNING",
    "API_THROTTLE_RATE": "100000/min",
}


@pytest.fixture
def workdir():
    """Logs and state of the processes a test starts; kept only while the test runs."""
    with tempfile.TemporaryDirectory(prefix="faults-") as path:
        yield Path(path)


@pytest.fixture
def rng():
    seed = int(os.environ.get("FAULTS_SEED") or random.randrange(1 << 30))
    print(f"fault schedule seed: FAULTS_SEED={seed}")
    return random.Random(seed)


@pytest.fixture
def own_redis(workdir):
    require_programs("redis-server")
    with redis_server(workdir) as server:
        yield server


@pytest.fixture
def stack_env(own_redis, settings):
    """Environment for gunicorn and Celery children: this test's database, a Redis of our own."""
    require_postgres()
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    return child_env(
        DATABASE_URL=child_database_url(), CELERY_BROKER_URL=f"{own_redis.url}/0", REDIS_URL=f"{own_redis.url}/1",
        **FAST_RECOVERY,
    )


@pytest.fixture
def platform_key(db) -> str:
    return api_key_create(name="faults", role=ApiKey.Role.PLATFORM).plaintext
