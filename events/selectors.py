"""Reads of events that the API, the admin and exports share; an event with its deliveries: ``deliveries.selectors``."""

from datetime import datetime

from django.db import DatabaseError
from django.db.models import QuerySet

from .builtins import BUILTIN_TYPES
from .models import Event, EventType


def event_list(
    *,
    event_id: str | None = None,
    type: str | None = None,  # noqa: A002 - the query parameter's name
    player_id: str | None = None,
    partner: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> QuerySet[Event]:
    """Events matching every filter given, newest first; ``partner`` is a slug."""
    events = Event.objects.select_related("partner", "player").order_by("-id")
    conditions = {
        "event_id": event_id,
        "type_id": type,
        "player_id": player_id,
        "partner__slug": partner,
        "occurred_at__gte": occurred_from,
        "occurred_at__lt": occurred_to,
    }
    return events.filter(**{lookup: value for lookup, value in conditions.items() if value is not None})


def event_types_requiring_amount() -> dict[str, bool]:
    """Every event type's slug, built-in and custom, and whether it needs an amount: the API schema's choices.

    The built-in ones when the database cannot be read: the schema is also written
    out by ``manage.py spectacular``, where there may be no database.
    """
    try:
        return dict(EventType.objects.order_by("slug").values_list("slug", "requires_amount"))
    except DatabaseError:
        return {slug: requires_amount for slug, _, requires_amount in sorted(BUILTIN_TYPES)}
