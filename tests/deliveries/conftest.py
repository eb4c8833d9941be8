import ipaddress

import pytest
from django.core.cache import cache


@pytest.fixture
def loopback_allowed(settings):
    """Postbacks may reach the local test server (the guard refuses loopback otherwise)."""
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.fixture
def partner_url(httpserver):
    """The test server's URL by IP literal, so no name resolution is involved."""
    return lambda path: f"http://127.0.0.1:{httpserver.port}{path}"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit windows and wake-up flags from one test must not leak into the next."""
    cache.clear()
    yield
    cache.clear()
