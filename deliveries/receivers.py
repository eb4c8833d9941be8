"""What deliveries does when an app below it announces something."""

from django.dispatch import receiver

from partners.signals import sending_resumed

from .tasks import sender_wake_on_commit


@receiver(sending_resumed)
def _sending_resumed(sender, **kwargs) -> None:
    # What piled up while paused goes out right after the resume commits.
    sender_wake_on_commit()
