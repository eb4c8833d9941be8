"""Signals deliveries sends to the apps above it (``reporting.signals`` listens), and those it listens to."""

from django.dispatch import Signal, receiver

from partners.signals import sending_resumed

from .tasks import sender_wake_on_commit

# Sent with ``deliveries`` (a queryset) inside the transaction of a change to their outcome made outside the
# sender (a resend, a cancel), before the change: the days those deliveries count on must be counted again.
outcomes_rewriting = Signal()


@receiver(sending_resumed)
def _sending_resumed(sender, **kwargs) -> None:
    # What piled up while paused goes out right after the resume commits.
    sender_wake_on_commit()
