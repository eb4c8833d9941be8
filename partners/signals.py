"""Every write to the routing configuration replaces its version, so cached copies are dropped.

Saves and deletes of partners, endpoints, event types and qualification rules (admin, API,
services, ``QuerySet.delete``, cascades) and changes of an endpoint's event
types all send these signals. ``QuerySet.update`` sends none: code that
updates a field the routing configuration holds (an endpoint's partner or
filters, a partner's slug or scope, an event type's ``requires_amount``)
must call ``routing_config_changed`` itself.

``sending_resumed`` is this app's own: a paused partner or endpoint sends
again, and the deliveries app (which listens) wakes its sender.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal, receiver

from events.models import EventType

from .config_cache import routing_config_changed
from .models import Partner, PostbackEndpoint, QualificationRule

# Sent inside the transaction that resumes a partner or an endpoint.
sending_resumed = Signal()


@receiver(post_save, sender=Partner)
@receiver(post_delete, sender=Partner)
@receiver(post_save, sender=PostbackEndpoint)
@receiver(post_delete, sender=PostbackEndpoint)
@receiver(post_save, sender=QualificationRule)
@receiver(post_delete, sender=QualificationRule)
@receiver(post_save, sender=EventType)
@receiver(post_delete, sender=EventType)
def _saved_or_deleted(sender, **kwargs) -> None:
    routing_config_changed()


@receiver(m2m_changed, sender=PostbackEndpoint.event_types.through)
def _event_types_changed(sender, action: str, **kwargs) -> None:
    if action.startswith("post_"):
        routing_config_changed()
