"""Alerts: once per incident, to the managers and the chat webhook, and the recovery announced."""

import json
import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.utils import timezone
from werkzeug import Response

from accounts.roles import AFFILIATE_MANAGERS, MARKETING
from deliveries.models import DeliveryAttempt
from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events
from lib.partitioning import partitions_ensure
from monitoring.models import Alert
from monitoring.rules import Condition
from monitoring.services import alert_open, alerts_evaluate
from partners.models import PostbackEndpoint
from partners.services import endpoint_pause, endpoint_resume
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.services import require_postgres

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


@pytest.fixture(autouse=True)
def _recipients(settings, db):
    settings.ALERT_EMAILS = ["oncall@casino.example"]
    settings.ALERT_WEBHOOK_URL = ""
    manager = User.objects.create_user(username="mia", email="mia@casino.example")
    manager.groups.add(Group.objects.get(name=AFFILIATE_MANAGERS))
    marketer = User.objects.create_user(username="mo", email="mo@casino.example")
    marketer.groups.add(Group.objects.get(name=MARKETING))


@pytest.fixture
def acme():
    return PartnerFactory(slug="acme", name="Acme")


def _open_circuit(acme, httpserver, settings, capture):
    """Three failed attempts in a row, one at a time, against an endpoint whose circuit opens after three."""
    settings.POSTBACK_ENDPOINT_CONCURRENCY = 1
    endpoint = PostbackEndpointFactory(
        partner=acme, name="main", url_template=f"http://127.0.0.1:{httpserver.port}/pb", circuit_failure_threshold=3
    )
    httpserver.expect_request("/pb").respond_with_response(Response("down", status=503))
    deliveries_create_for_events(events=[EventFactory(partner=acme) for _ in range(5)])
    with capture(execute=True):
        deliveries_send_due(worker="test")
    endpoint.refresh_from_db()
    assert endpoint.circuit_state == "open"
    return endpoint


def test_a_circuit_is_announced_once_as_it_opens_and_once_as_it_closes(
    acme, httpserver, settings, django_capture_on_commit_callbacks
):
    endpoint = _open_circuit(acme, httpserver, settings, django_capture_on_commit_callbacks)

    first, again = alerts_evaluate(), alerts_evaluate()

    assert (first.opened, again.opened) == (0, 0)  # opened by the sender itself, as the circuit opened
    (message,) = mail.outbox
    assert message.subject == "[postbacks] Alert: Endpoint circuit open — Acme · main"
    assert "after 3 consecutive failed attempts" in message.body and "HTTP 503" in message.body
    assert "held, not lost" in message.body

    # when: the partner is back and the probe goes out
    httpserver.clear()
    httpserver.expect_request("/pb").respond_with_data("OK")
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(circuit_next_probe_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_send_due(worker="test")
    alerts_evaluate()

    # then: one recovery, saying how long and how many were held
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["[postbacks] Alert", "[postbacks] Resolved"]
    assert "closed after 0\xa0minutes; 4 held deliveries are going out" in mail.outbox[1].body
    alert = Alert.objects.get()
    assert (alert.kind, alert.resolved_at is not None, alert.resolved_notified_at is not None) == (
        "circuit_open", True, True,
    )


def test_an_endpoint_paused_after_sustained_failure_is_announced_once_and_its_resumption_too(
    acme, httpserver, settings, django_capture_on_commit_callbacks
):
    endpoint = _open_circuit(acme, httpserver, settings, django_capture_on_commit_callbacks)
    settings.POSTBACK_DISABLE_AFTER_HOURS = 1
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(
        circuit_opened_at=timezone.now() - timedelta(hours=2), circuit_next_probe_at=timezone.now()
    )
    deliveries_send_due(worker="test")
    endpoint.refresh_from_db()
    assert not endpoint.is_active

    alerts_evaluate()
    assert alerts_evaluate().opened == 0

    paused = Alert.objects.get(kind="endpoint_paused")
    assert paused.opened_notified_at is not None
    assert "every probe has failed" in paused.summary
    endpoint_resume(endpoint=endpoint)
    alerts_evaluate()

    assert Alert.objects.filter(resolved_at__isnull=True).count() == 0
    subjects = [m.subject for m in mail.outbox]
    assert subjects.count("[postbacks] Alert: Endpoint paused automatically — Acme · main") == 1
    assert subjects.count("[postbacks] Resolved: Endpoint paused automatically — Acme · main") == 1


def test_a_manual_pause_raises_no_alert(acme):
    PostbackEndpointFactory(partner=acme, is_active=False, pause_reason="Partner migrating servers until Monday")

    assert alerts_evaluate().opened == 0
    assert mail.outbox == []


OUTCOMES = {"s": "success", "r": "retry", "f": "failure"}


def _attempts(endpoint, outcomes: str, minutes_ago: int = 1):
    """One finished attempt per letter (s success, r retry, f failure), ``minutes_ago``."""
    started = timezone.now() - timedelta(minutes=minutes_ago)
    for letter in outcomes:
        DeliveryAttempt.objects.create(
            delivery=DeliveryFactory(endpoint=endpoint, status="retrying"), number=1, started_at=started,
            request_method="GET", request_url="", outcome=OUTCOMES[letter],
        )


def test_failure_rate_over_the_threshold_opens_an_alert(acme, settings):
    settings.ALERT_FAILURE_RATE_MIN_ATTEMPTS, settings.ALERT_FAILURE_RATE_THRESHOLD = 4, 0.5
    failing = PostbackEndpointFactory(partner=acme, name="failing")
    healthy = PostbackEndpointFactory(partner=acme, name="healthy")
    _attempts(failing, "rrfs")
    _attempts(healthy, "ssssr")

    alerts_evaluate()

    alert = Alert.objects.get()
    assert (alert.kind, alert.endpoint, alert.partner) == ("failure_rate", failing, acme)
    assert alert.summary == "Acme · failing: 3 of 4 attempts failed in the last 15 min (75%; the threshold is 50%)"


def test_a_failure_rate_alert_stays_open_while_its_endpoint_is_paused(acme, settings):
    settings.ALERT_FAILURE_RATE_MIN_ATTEMPTS = 2
    endpoint = PostbackEndpointFactory(partner=acme)
    _attempts(endpoint, "rr", minutes_ago=settings.ALERT_FAILURE_RATE_WINDOW_MINUTES - 1)
    alerts_evaluate()
    DeliveryAttempt.objects.update(started_at=timezone.now() - timedelta(hours=1))  # the window has passed

    endpoint_pause(endpoint=endpoint, reason="Partner asked for a break")
    paused = alerts_evaluate()
    endpoint_resume(endpoint=endpoint)
    resumed = alerts_evaluate()

    assert (paused.resolved, resumed.resolved) == (0, 1)


def test_too_few_attempts_or_old_failures_raise_no_failure_rate_alert(acme, settings):
    settings.ALERT_FAILURE_RATE_MIN_ATTEMPTS = 4
    endpoint = PostbackEndpointFactory(partner=acme)
    _attempts(endpoint, "rrr")
    _attempts(endpoint, "rrrr", minutes_ago=settings.ALERT_FAILURE_RATE_WINDOW_MINUTES + 1)

    assert alerts_evaluate().opened == 0


def test_an_old_backlog_opens_one_alert_and_resolves_when_sent(acme, settings):
    settings.ALERT_BACKLOG_AGE_SECONDS = 600
    endpoint = PostbackEndpointFactory(partner=acme)
    old = DeliveryFactory(endpoint=endpoint, next_attempt_at=timezone.now() - timedelta(minutes=20))
    DeliveryFactory(endpoint=endpoint, next_attempt_at=timezone.now() - timedelta(minutes=1))

    alerts_evaluate()
    alerts_evaluate()

    alert = Alert.objects.get()
    assert alert.kind == "backlog_age" and alert.is_open
    assert alert.summary == "2 deliveries are due; the oldest has waited 20\xa0minutes (the threshold is 10\xa0minutes)"
    old.status = "delivered"
    old.save()
    assert alerts_evaluate().resolved == 1
    assert len(mail.outbox) == 2


def test_held_deliveries_of_a_paused_endpoint_are_no_backlog(acme, settings):
    endpoint = PostbackEndpointFactory(partner=acme, is_active=False, pause_reason="maintenance")
    DeliveryFactory(endpoint=endpoint, next_attempt_at=timezone.now() - timedelta(days=1))

    assert alerts_evaluate().opened == 0


def test_the_chat_webhook_gets_each_change_once(acme, settings, httpserver):
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{httpserver.port}/chat/T000/B000/secret-path"
    settings.ALERT_BACKLOG_AGE_SECONDS = 60
    httpserver.expect_request("/chat/T000/B000/secret-path", method="POST").respond_with_data("ok")
    delivery = DeliveryFactory(
        endpoint=PostbackEndpointFactory(partner=acme), next_attempt_at=timezone.now() - timedelta(minutes=5)
    )

    alerts_evaluate()
    alerts_evaluate()
    delivery.status = "delivered"
    delivery.save()
    alerts_evaluate()

    texts = [json.loads(request.get_data())["text"] for request, _ in httpserver.log]
    assert [text.splitlines()[0] for text in texts] == [
        "[postbacks] Alert: Oldest due delivery too old",
        "[postbacks] Resolved: Oldest due delivery too old",
    ]
    assert Alert.objects.get().notification_error == ""


def test_a_failing_webhook_is_recorded_and_the_e_mail_still_goes(acme, settings, httpserver):
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{httpserver.port}/chat/secret-path"
    settings.ALERT_BACKLOG_AGE_SECONDS = 60
    httpserver.expect_request("/chat/secret-path").respond_with_response(Response("gone", status=410))
    DeliveryFactory(endpoint=PostbackEndpointFactory(partner=acme), next_attempt_at=timezone.now() - timedelta(hours=1))

    alerts_evaluate()

    alert = Alert.objects.get()
    assert alert.notification_error == "chat webhook: http_4xx (HTTP 410)"
    assert "secret-path" not in alert.notification_error
    assert len(mail.outbox) == 1


def test_a_second_evaluator_cannot_open_the_same_incident_twice(acme):
    condition = Condition(kind=Alert.Kind.BACKLOG_AGE, key="backlog_age", summary="old")

    assert alert_open(condition=condition, now=timezone.now()) is True
    assert alert_open(condition=condition, now=timezone.now()) is False
    assert Alert.objects.count() == 1


def test_a_failing_mail_server_is_recorded_and_the_chat_message_still_goes(acme, settings, httpserver, monkeypatch):
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{httpserver.port}/chat"
    settings.ALERT_BACKLOG_AGE_SECONDS = 60
    httpserver.expect_request("/chat").respond_with_data("ok")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    monkeypatch.setattr("smtplib.SMTP.connect", mock.Mock(side_effect=smtplib.SMTPConnectError(421, "busy")))
    DeliveryFactory(endpoint=PostbackEndpointFactory(partner=acme), next_attempt_at=timezone.now() - timedelta(hours=1))

    alerts_evaluate()

    assert Alert.objects.get().notification_error.startswith("e-mail: (421, ")
    assert len(httpserver.log) == 1


def test_partitions_running_out_open_an_alert_that_making_them_resolves(settings):
    require_postgres()
    later = timezone.now() + timedelta(days=31 * settings.POSTBACK_PARTITIONS_AHEAD_MONTHS - 20)

    alerts_evaluate(now=later)

    alert = Alert.objects.get(kind="partitions_ahead")
    assert alert.is_open and "Run manage.py partitions --create-ahead" in alert.summary
    partitions_ensure(now=later)
    assert alerts_evaluate(now=later).resolved == 1
