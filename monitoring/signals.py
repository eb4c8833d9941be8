"""Monitoring listens to what deliveries announce: attempts recorded (metrics, log lines), a circuit opening or
closing (its alert opened or resolved)."""

from django.dispatch import receiver

from deliveries.signals import attempts_lost, attempts_recorded, circuit_closed, circuit_opened

from . import observe
from .services import circuit_alert_open, circuit_alert_resolve


@receiver(circuit_opened)
def _circuit_opened(sender, *, endpoint_id: int, last_error: str, now, **kwargs) -> None:
    circuit_alert_open(endpoint_id=endpoint_id, last_error=last_error, now=now)


@receiver(circuit_closed)
def _circuit_closed(sender, *, endpoint_id: int, held: int, now, **kwargs) -> None:
    circuit_alert_resolve(endpoint_id=endpoint_id, held=held, now=now)


@receiver(attempts_recorded)
def _attempts_recorded(sender, *, postbacks, **kwargs) -> None:
    observe.attempts_recorded(postbacks=postbacks)


@receiver(attempts_lost)
def _attempts_lost(sender, *, count: int, **kwargs) -> None:
    observe.lost_attempts_closed(count=count)
