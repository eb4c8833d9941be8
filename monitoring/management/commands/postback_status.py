"""``manage.py postback_status``: the operations dashboard as text, for a server without a browser."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.timesince import timesince

from deliveries import dashboard_selectors as dashboard
from deliveries.listener import listening_sender
from monitoring import selectors

CELL_WIDTH = 60


class Command(BaseCommand):
    help = "Print the backlog, failing and paused endpoints, last hour's delivery rate and open alerts."

    def handle(self, *args, **options):
        now = timezone.now()
        self.stdout.write(f"Postback platform status at {now:%Y-%m-%d %H:%M:%S} UTC")
        self.stdout.write("")
        for label, value in self._summary(now):
            self.stdout.write(f"{label:<12}{value}")
        self._section("Endpoints failing now", *self._failing(now))
        self._section("Paused endpoints", *self._paused())
        self._section("Open alerts", *self._alerts(now))

    def _summary(self, now: datetime) -> list[tuple[str, str]]:
        backlog = dashboard.delivery_backlog()
        due = f"more than {dashboard.BACKLOG_COUNT_CAP}" if backlog.is_capped else str(backlog.due)
        waited = f"; the oldest due for {timesince(backlog.oldest_due_at, now)}" if backlog.oldest_due_at else ""
        held = dashboard.held_count()
        held_text = f"more than {dashboard.BACKLOG_COUNT_CAP}" if held > dashboard.BACKLOG_COUNT_CAP else str(held)
        return [
            ("Backlog", f"{due} deliveries due now{waited}"),
            ("Held", f"{held_text} waiting on purpose (paused endpoint or partner, open circuit, hold period)"),
            ("Last hour", _rate(selectors.attempt_outcomes_since(since=now - timedelta(hours=1)))),
            ("Scheduler", _heartbeat(selectors.scheduler_heartbeat_at(), now)),
            ("Sender", _listening(listening_sender())),
        ]

    def _failing(self, now: datetime) -> tuple[list[str], list[list]]:
        minutes = settings.ALERT_FAILURE_RATE_WINDOW_MINUTES
        rates = selectors.endpoint_failure_rates(since=now - timedelta(minutes=minutes))
        headers = ["Endpoint", "Partner", "In a row", "Waiting for retry", f"Failed, last {minutes} min"]
        headers.append("Latest error")
        rows = [
            [endpoint.name, endpoint.partner.name, endpoint.consecutive_failures, endpoint.retrying,
             _failure_rate(rates.get(endpoint.pk)), endpoint.latest_error or "—"]
            for endpoint in dashboard.endpoints_failing_now()
        ]
        return headers, rows

    def _paused(self) -> tuple[list[str], list[list]]:
        rows = [
            [endpoint.name, endpoint.partner.name + ("" if endpoint.partner.is_active else " (partner paused)"),
             f"{endpoint.paused_at:%Y-%m-%d %H:%M}" if endpoint.paused_at else "—", endpoint.pause_reason or "—"]
            for endpoint in dashboard.endpoints_paused()
        ]
        return ["Endpoint", "Partner", "Paused since", "Reason"], rows

    def _alerts(self, now: datetime) -> tuple[list[str], list[list]]:
        rows = [
            [f"{alert.opened_at:%Y-%m-%d %H:%M}", timesince(alert.opened_at, now), alert.get_kind_display(),
             alert.summary]
            for alert in selectors.alerts_open()
        ]
        return ["Opened", "Open for", "Kind", "Summary"], rows

    def _section(self, title: str, headers: list[str], rows: list[list]) -> None:
        self.stdout.write(f"\n{title}")
        if not rows:
            self.stdout.write("  none")
            return
        cells = [[_cell(value) for value in row] for row in [headers, *rows]]
        widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
        for row in cells:
            self.stdout.write("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def _rate(outcomes: dict[str, int]) -> str:
    total = sum(outcomes.values())
    if not total:
        return "no attempts"
    success = outcomes["success"]
    return (
        f"{total} attempts ({total / 60:.1f} a minute): {success} delivered, {outcomes['retry']} to retry, "
        f"{outcomes['failure']} failed for good ({success / total:.0%} success)"
    )


def _heartbeat(last_seen: datetime | None, now: datetime) -> str:
    if last_seen is None:
        return "no heartbeat recorded yet: are Celery beat and a worker running?"
    age = (now - last_seen).total_seconds()
    stale = age > settings.SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS
    return f"heartbeat {age:.0f} s ago" + (": stale, are Celery beat and a worker running?" if stale else "")


def _listening(name: str | None) -> str:
    if name is None:
        return ("no listening sender: each commit wakes a Celery worker with a broker message "
                "(run `manage.py send_postbacks`, with PostgreSQL and REDIS_URL, to wake one at commit)")
    return f"{name} listening: each commit wakes it with NOTIFY"


def _failure_rate(rate) -> str:
    return f"{rate.failed} of {rate.attempts} ({rate.rate:.0%})" if rate else "no attempts"


def _cell(value) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"
