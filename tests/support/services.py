"""Reaching PostgreSQL and Redis from tests.

Integration tests skip with a reason when a service is absent on a
developer's machine, and fail when ``CI`` is set: CI must prove them.
"""

import os
import shutil
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

from tests.support.processes import port_open


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        _unavailable("needs PostgreSQL: set DATABASE_URL=postgres://…")


def redis_url() -> str:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        _unavailable("needs Redis: set CELERY_BROKER_URL=redis://…")
    parsed = urlparse(url)
    # Tests only ever talk to this machine.
    assert parsed.hostname in ("127.0.0.1", "localhost", "::1"), f"refusing non-loopback Redis {parsed.hostname}"
    if not port_open(parsed.hostname, parsed.port or 6379):
        _unavailable(f"Redis at {url} is not answering")
    return url


def require_shared_cache() -> str:
    """The REDIS_URL every process of a test shares, as their cache."""
    if not settings.REDIS_URL:
        _unavailable("needs a shared cache: set REDIS_URL=redis://…")
    return settings.REDIS_URL


def child_database_url() -> str:
    """A DATABASE_URL that points a child process at the database this test uses."""
    db = connection.settings_dict
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def require_programs(*programs: str) -> None:
    """The fault suite starts its own servers: skip locally, fail in CI, when one cannot be run."""
    missing = [program for program in programs if shutil.which(program) is None]
    if missing:
        _unavailable(f"needs {', '.join(missing)} installed")
