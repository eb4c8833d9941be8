"""Telling people about an alert: e-mail to the affiliate managers and ALERT_EMAILS, and the chat webhook.

The chat message goes through lib.http like every outbound request,
so it gets the same timeout and private-address guard as a postback.
"""

import json
import logging
import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils.timesince import timesince

from accounts.roles import AFFILIATE_MANAGERS
from lib import http

from .models import Alert

logger = logging.getLogger(__name__)
CHAT_TIMEOUT_SECONDS = 10.0

_WHAT_TO_DO = {
    Alert.Kind.ENDPOINT_PAUSED: (
        "Its deliveries are held, not lost. Fix the partner's side or the endpoint's settings, then resume the "
        "endpoint in the admin: the held deliveries go out at once."
    ),
    Alert.Kind.CIRCUIT_OPEN: (
        "Its deliveries are held, not lost, and no attempts are spent on them. One of them goes out as a probe at "
        "growing intervals; the first that succeeds closes the circuit and the held deliveries go out in order. "
        "Nothing to do unless the partner stays down: the endpoint is paused for you after "
        "POSTBACK_DISABLE_AFTER_HOURS."
    ),
    Alert.Kind.FAILURE_RATE: (
        "Failed deliveries are retried on the schedule. The endpoint's latest attempts in the admin show the "
        "partner's answers and errors."
    ),
    Alert.Kind.BACKLOG_AGE: (
        "Deliveries come due faster than they go out. Check that the Celery workers and beat run "
        "(GET /healthz/ready) and read the workers' logs."
    ),
    Alert.Kind.PARTITIONS_AHEAD: (
        "Nothing is lost yet: events are stored until the newest partition's month ends, and fail after it. "
        "Make the partitions now with manage.py partitions --create-ahead, then find why beat's "
        "create-partitions-ahead task stopped making them (its log names the error)."
    ),
}


def alert_recipients() -> list[str]:
    managers = get_user_model().objects.filter(is_active=True, groups__name=AFFILIATE_MANAGERS).exclude(email="")
    return sorted({*managers.values_list("email", flat=True), *settings.ALERT_EMAILS})


def alert_message(alert: Alert, *, recovered: bool) -> tuple[str, str]:
    """Subject and text of the announcement; the summary names the endpoint and figures, never a secret."""
    subject = f"[postbacks] {'Resolved' if recovered else 'Alert'}: {alert.get_kind_display()}"
    if alert.endpoint_id:
        subject += f" — {alert.endpoint}"
    lines = [alert.summary, "", f"Opened: {alert.opened_at:%Y-%m-%d %H:%M:%S} UTC"]
    if recovered:
        lasted = timesince(alert.opened_at, alert.resolved_at)
        lines.append(f"Resolved: {alert.resolved_at:%Y-%m-%d %H:%M:%S} UTC, after {lasted}")
    else:
        lines += ["", _WHAT_TO_DO[alert.kind]]
    lines += ["", f"In the admin: /admin/monitoring/alert/{alert.pk}/change/"]
    return subject, "\n".join(lines)


def alert_announce(*, alert: Alert, recovered: bool) -> list[str]:
    """Send by e-mail and to the chat webhook; returns what failed (each channel fails on its own)."""
    subject, text = alert_message(alert, recovered=recovered)
    errors = [_email(subject, text), _chat(f"{subject}\n{text}")]
    return [error for error in errors if error]


def _email(subject: str, text: str) -> str | None:
    recipients = alert_recipients()
    if not recipients:
        return None
    try:
        send_mail(subject, text, None, recipients)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("alert e-mail not sent: %s", exc)
        return f"e-mail: {exc}"
    except Exception as exc:  # noqa: BLE001 - a broken mail setting must not stop the chat message or other alerts
        logger.exception("alert e-mail not sent")
        return f"e-mail: {exc.__class__.__name__}: {exc}"
    return None


def _chat(text: str) -> str | None:
    if not settings.ALERT_WEBHOOK_URL:
        return None
    result = http.send(
        http.OutboundRequest(
            method="POST",
            url=settings.ALERT_WEBHOOK_URL,
            headers={"Content-Type": "application/json"},
            body=json.dumps({"text": text}),
            timeout_seconds=CHAT_TIMEOUT_SECONDS,
        )
    )
    if result.verdict == http.Verdict.SUCCESS:
        return None
    # The webhook URL is itself a credential, so neither it nor the error text (which may quote it) is kept.
    failure = f"chat webhook: {result.error_class}" + (f" (HTTP {result.status_code})" if result.status_code else "")
    logger.warning("alert not sent to the chat webhook: %s", failure)
    return failure
