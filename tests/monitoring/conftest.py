import ipaddress

import pytest
from django.core.cache import cache
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return TOKEN


@pytest.fixture
def scrape(client, metrics_token):
    """GET /metrics with the token; the samples as {(name, sorted label items): value}."""

    def read() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
        assert response.status_code == 200, response.content
        return samples(response.content.decode())

    return read


def samples(text: str) -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def loopback_allowed(settings):
    """Postbacks may reach the local test server (the guard refuses loopback otherwise)."""
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit windows and wake-up flags from one test must not leak into the next."""
    cache.clear()
    yield
    cache.clear()
