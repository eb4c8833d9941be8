"""Monitoring listens to what deliveries announce: a circuit opening or closing opens or resolves its alert."""

from django.dispatch import receiver

from deliveries.signals import circuit_closed, circuit_opened

from .services import circuit_alert_open, circuit_alert_resolve


@receiver(circuit_opened)
def _circuit_opened(sender, *, endpoint_id: int, last_error: str, now, **kwargs) -> None:
    circuit_alert_open(endpoint_id=endpoint_id, last_error=last_error, now=now)


@receiver(circuit_closed)
def _circuit_closed(sender, *, endpoint_id: int, held: int, now, **kwargs) -> None:
    circuit_alert_resolve(endpoint_id=endpoint_id, held=held, now=now)
