import ipaddress
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import DeliveryFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def test_metrics_are_off_until_a_token_or_network_is_configured(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []

    response = client.get("/metrics")

    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content


def test_a_wrong_or_missing_token_is_401(client, metrics_token):
    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_token_opens_the_prometheus_text_format(client, metrics_token):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE postback_deliveries_due gauge" in response.content


def test_an_allowed_network_needs_no_token(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]

    inside = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    outside = client.get("/metrics", REMOTE_ADDR="10.2.0.1")

    assert inside.status_code == 200
    assert outside.status_code == 403


def test_backlog_gauges_count_due_deliveries_of_active_endpoints_only(scrape):
    now = timezone.now()
    active = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"))
    paused = PostbackEndpointFactory(partner=active.partner, is_active=False)
    DeliveryFactory(endpoint=active, next_attempt_at=now - timedelta(minutes=5))
    DeliveryFactory(endpoint=active, next_attempt_at=now - timedelta(seconds=10), status="retrying")
    DeliveryFactory(endpoint=active, next_attempt_at=now + timedelta(minutes=5), status="retrying")  # not due yet
    DeliveryFactory(endpoint=active, status="delivered", next_attempt_at=None)
    DeliveryFactory(endpoint=paused, next_attempt_at=now - timedelta(hours=1))  # held on purpose

    metrics = scrape()

    assert metrics[("postback_deliveries_due", ())] == 2
    assert 300 <= metrics[("postback_deliveries_due_oldest_age_seconds", ())] < 330
    assert metrics[("postback_endpoints_paused", ())] == 1
    assert metrics[("postback_database_up", ())] == 1


def test_an_empty_backlog_has_age_zero(scrape):
    metrics = scrape()

    assert metrics[("postback_deliveries_due", ())] == 0
    assert metrics[("postback_deliveries_due_oldest_age_seconds", ())] == 0


def test_open_circuits_are_exported_with_their_age_and_next_probe_and_hold_their_deliveries_out_of_the_backlog(scrape):
    now = timezone.now()
    opened = PostbackEndpointFactory(
        partner=PartnerFactory(slug="acme"), circuit_opened_at=now - timedelta(minutes=10),
        circuit_next_probe_at=now + timedelta(minutes=2),
    )
    PostbackEndpointFactory(partner=opened.partner)  # closed: not listed
    DeliveryFactory(endpoint=opened, next_attempt_at=now - timedelta(minutes=5))

    metrics = scrape()

    labels = (("endpoint_id", str(opened.pk)), ("partner", "acme"))
    assert metrics[("postback_endpoint_circuits_open", ())] == 1
    assert 600 <= metrics[("postback_endpoint_circuit_open_seconds", labels)] < 630
    assert 90 <= metrics[("postback_endpoint_circuit_next_probe_seconds", labels)] <= 120
    assert metrics[("postback_deliveries_due", ())] == 0
