"""``manage.py send_postbacks``: the listening sender, for the ``sender`` line of the Procfile."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from deliveries.listener import CHANNEL, IDLE_SECONDS, Stop, listener_serve
from deliveries.tasks import celery_senders_wake


class Command(BaseCommand):
    # Like gunicorn's and Celery's processes it serves, not checks: `migrate` runs them at each deploy.
    requires_system_checks = []
    help = (
        "Send postbacks the moment ingest commits them: wait on PostgreSQL's LISTEN and run the sender's "
        "pipeline in this process. SIGTERM or Ctrl-C stops it after the transfers out."
    )

    def handle(self, *args, **options):
        stop = Stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(self._how())
        self.stdout.flush()  # seen when the process starts, not when a pipe's buffer fills
        listener_serve(stop=stop, on_more_due=celery_senders_wake)
        self.stdout.write("Stopped.")

    def _how(self) -> str:
        if connection.vendor != "postgresql":
            return (f"Sending postbacks: {connection.vendor} has no LISTEN/NOTIFY, so this process looks for due "
                    f"work every {IDLE_SECONDS:g} s; Celery wake-ups still send within milliseconds.")
        if not settings.REDIS_URL:
            return (f"Sending postbacks: listening on '{CHANNEL}', but without REDIS_URL ingest cannot see that "
                    "this process is up and keeps waking Celery workers instead. Set REDIS_URL to use it.")
        return f"Sending postbacks: listening on '{CHANNEL}'; ingest wakes this process while it is up."
