import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.accepted_keys import accepted_keys_forget
from accounts.auth_failures import failure_window
from accounts.models import ApiKey
from accounts.services import api_key_create
from partners.config_cache import routing_config_forget
from postback_platform.celery import app as celery_app
from tests.support.network import loopback_only


@pytest.fixture(autouse=True)
def _loopback_only():
    """Fail any test that tries to reach beyond this machine (see tests/support/network.py)."""
    with loopback_only() as guard:
        yield guard
    assert not guard.violations, f"non-loopback traffic attempted: {guard.violations}"


@pytest.fixture(autouse=True)
def _seeded_rows(request):
    """Restore what migrations seed (built-in event types, admin roles) for transactional tests.

    A transactional test ends by flushing every table, seeded rows included,
    so whichever transactional test runs next would start without them.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if transactional:
        request.getfixturevalue("_django_db_helper")
        _seed()
    yield


def _seed():
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import roles_sync
    from events.builtins import event_types_seed
    from events.models import EventType

    event_types_seed(EventType)
    roles_sync(group_model=Group, permission_model=Permission)


@pytest.fixture(autouse=True)
def _routing_config_forgotten():
    """Start without this process's copy of the routing configuration.

    Tables are emptied or rolled back between tests without the commit that
    would replace the configuration's version, so a copy could outlive its rows.
    """
    routing_config_forget()


@pytest.fixture(autouse=True)
def _api_authentication_fresh():
    """Start with no failed API authentication counted for the test client's address, and no key kept.

    The failure count lives in the shared cache for a minute, across tests; a
    key this process kept would outlive the rolled-back row it was read from.
    """
    accepted_keys_forget()
    cache.delete(failure_window(address="127.0.0.1", now=time.time()).key)


@pytest.fixture
def sender_asleep(monkeypatch):
    """For tests that commit: the sender, which runs inline in tests, is not woken to send what they store."""
    monkeypatch.setattr("deliveries.tasks._SenderWakeUp.apply_async", lambda self, args=(), kwargs=None: None)


@pytest.fixture(autouse=True)
def _celery_eager():
    """Unit tests run tasks inline; integration tests start real workers instead."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _client_for(role: str) -> APIClient:
    issued = api_key_create(name=f"test-{role}", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    client.api_key = issued.api_key
    return client


@pytest.fixture
def platform_client(db) -> APIClient:
    return _client_for(ApiKey.Role.PLATFORM)


@pytest.fixture
def admin_client_api(db) -> APIClient:
    return _client_for(ApiKey.Role.ADMIN)


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()
