from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from deliveries.listener import ADVERTISEMENT_KEY
from deliveries.models import DeliveryAttempt, Heartbeat
from monitoring.models import Alert
from tests.factories import DeliveryFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.services import require_postgres, require_shared_cache

pytestmark = pytest.mark.django_db


def _status() -> str:
    out = StringIO()
    call_command("postback_status", stdout=out)
    return out.getvalue()


def _attempt(delivery, outcome, minutes_ago=5):
    DeliveryAttempt.objects.create(
        delivery=delivery, number=delivery.attempts.count() + 1, outcome=outcome, request_method="GET",
        request_url="", started_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_an_idle_platform_reports_nothing_wrong():
    text = _status()

    assert "Backlog     0 deliveries due now\n" in text
    assert "Last hour   no attempts\n" in text
    assert "Scheduler   no heartbeat recorded yet: are Celery beat and a worker running?\n" in text
    assert text.count("  none") == 3


def test_status_shows_backlog_rate_failing_and_paused_endpoints_and_open_alerts():
    now = timezone.now()
    acme = PartnerFactory(slug="acme", name="Acme")
    failing = PostbackEndpointFactory(partner=acme, name="tracker", consecutive_failures=4)
    paused = PostbackEndpointFactory(
        partner=acme, name="legacy", is_active=False, paused_at=now, pause_reason="Paused automatically after 50"
    )
    retrying = DeliveryFactory(endpoint=failing, status="retrying", last_error="HTTP 503",
                               next_attempt_at=now - timedelta(minutes=3))
    delivered = DeliveryFactory(endpoint=failing, status="delivered", next_attempt_at=None)
    DeliveryFactory(endpoint=paused, next_attempt_at=now - timedelta(minutes=1))
    for outcome in ("retry", "retry", "failure"):
        _attempt(retrying, outcome)
    _attempt(delivered, "success")
    _attempt(delivered, "success", minutes_ago=90)  # outside the last hour
    Heartbeat.objects.create(name="scheduler", last_seen_at=now - timedelta(seconds=5))
    Alert.objects.create(kind="endpoint_paused", key=f"endpoint_paused:{paused.pk}", summary="Acme · legacy: paused")

    text = _status()

    assert "Backlog     1 deliveries due now; the oldest due for 3\xa0minutes\n" in text
    assert "Held        1 waiting on purpose (paused endpoint or partner, open circuit, hold period)\n" in text
    assert "Last hour   4 attempts (0.1 a minute): 1 delivered, 2 to retry, 1 failed for good (25% success)" in text
    assert "Scheduler   heartbeat 5 s ago\n" in text
    failing_table = text.split("Endpoints failing now\n")[1].split("\n\n")[0].splitlines()
    assert failing_table[0].split() == ["Endpoint", "Partner", "In", "a", "row", "Waiting", "for", "retry", "Failed,",
                                        "last", "15", "min", "Latest", "error"]
    assert failing_table[1].split() == ["tracker", "Acme", "4", "1", "3", "of", "4", "(75%)", "HTTP", "503"]
    assert "  legacy    Acme     " in text and "Paused automatically after 50" in text
    assert "Endpoint paused automatically  Acme · legacy: paused" in text


def test_a_stale_heartbeat_is_called_out(settings):
    settings.SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS = 60
    Heartbeat.objects.create(name="scheduler", last_seen_at=timezone.now() - timedelta(seconds=300))

    assert "Scheduler   heartbeat 300 s ago: stale, are Celery beat and a worker running?\n" in _status()


def test_status_says_whether_a_listening_sender_is_up(settings):
    require_postgres()
    require_shared_cache()
    cache.delete(ADVERTISEMENT_KEY)
    assert "Sender      no listening sender: each commit wakes a Celery worker" in _status()

    cache.set(ADVERTISEMENT_KEY, "host-1:4242:listener", timeout=60)
    try:
        assert "Sender      host-1:4242:listener listening: each commit wakes it with NOTIFY\n" in _status()
    finally:
        cache.delete(ADVERTISEMENT_KEY)
