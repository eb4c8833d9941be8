from unittest import mock

import pytest
from kombu import Connection

pytestmark = pytest.mark.django_db


def test_healthy_when_database_and_broker_answer(client):
    with mock.patch("postback_platform.health.broker_ok", return_value=True):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_unreachable_broker_makes_it_503_and_says_which(client):
    from postback_platform.celery import app

    # A closed loopback port: connection refused at once, nothing leaves the machine.
    refused = Connection("redis://127.0.0.1:1/0", transport_options={"socket_connect_timeout": 1})
    with mock.patch.object(app, "connection_for_write", return_value=refused):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable"
    assert response.json()["database"] == "ok"


def test_unreachable_database_makes_it_503(client):
    with (
        mock.patch("postback_platform.health.database_ok", return_value=False),
        mock.patch("postback_platform.health.broker_ok", return_value=True),
    ):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable", "broker": "ok"}


def test_liveness_answers_without_touching_services(client):
    with mock.patch("postback_platform.health.database_ok", side_effect=AssertionError("not called")):
        response = client.get("/healthz/live")

    assert response.status_code == 200


def test_readiness_needs_a_fresh_scheduler_heartbeat(client):
    from datetime import timedelta

    from django.utils import timezone

    from deliveries.models import Heartbeat

    with mock.patch("postback_platform.health.broker_ok", return_value=True):
        assert client.get("/healthz/ready").json()["scheduler"] == "unreachable"

        Heartbeat.objects.create(name="scheduler", last_seen_at=timezone.now() - timedelta(minutes=5))
        stale = client.get("/healthz/ready")

        Heartbeat.objects.filter(name="scheduler").update(last_seen_at=timezone.now())
        fresh = client.get("/healthz/ready")

    assert stale.status_code == 503
    assert fresh.status_code == 200
    assert fresh.json() == {"status": "ok", "database": "ok", "broker": "ok", "scheduler": "ok"}
