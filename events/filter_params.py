"""Query-string filters for lists and exports, parsed in one place.

``event_filters(request.query_params)`` returns keyword arguments for
``events.selectors.event_list``; ``deliveries.filter_params`` does the same
for deliveries with the helpers here. A bad value raises a DRF
``ValidationError`` naming the parameter, which the API answers with 400.

Times: ``from`` is inclusive, ``to`` exclusive. Each takes an RFC 3339
date-time with an offset or a plain date; a date means midnight in
``REPORTING_TIME_ZONE``, and a date in ``to`` takes in that whole day.
"""

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from rest_framework.exceptions import ValidationError

from .models import CONTROL_CHARACTERS, ID_MAX_LENGTH, EventType

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$")


def event_filters(query: Mapping[str, str]) -> dict:
    """Keyword arguments for ``event_list`` from event_id, type, player_id, partner, from and to."""
    occurred_from, occurred_to = time_range(query)
    return {
        "event_id": text_param(query, "event_id"),
        "type": choice_param(query, "type", event_type_slugs),
        "player_id": text_param(query, "player_id"),
        "partner": slug_param(query, "partner"),
        "occurred_from": occurred_from,
        "occurred_to": occurred_to,
    }


def event_type_slugs() -> list[str]:
    return list(EventType.objects.values_list("slug", flat=True))


def _value(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    return value if value not in (None, "") else None


def text_param(query: Mapping[str, str], name: str, max_length: int = ID_MAX_LENGTH) -> str | None:
    value = _value(query, name)
    if value is not None and len(value) > max_length:
        raise ValidationError({name: [f"At most {max_length} characters."]})
    if value is not None and CONTROL_CHARACTERS.search(value):
        raise ValidationError({name: ["Must not contain control characters."]})
    return value


def slug_param(query: Mapping[str, str], name: str) -> str | None:
    value = _value(query, name)
    if value is not None and not _SLUG.match(value):
        raise ValidationError({name: [f"{value[:80]!r} is not a slug: use letters, digits, '-' or '_'."]})
    return value


def choice_param(query: Mapping[str, str], name: str, choices: Callable[[], Collection[str]]) -> str | None:
    """``choices`` is called only when the parameter is given, so an absent one costs no query."""
    value = _value(query, name)
    if value is None:
        return None
    choices = choices()
    if value not in choices:
        raise ValidationError({name: [f"Unknown value {value[:80]!r}. Use one of: {', '.join(sorted(choices))}."]})
    return value


def id_param(query: Mapping[str, str], name: str) -> int | None:
    value = _value(query, name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < 2**63:
        raise ValidationError({name: [f"{value[:80]!r} is not an id: send a positive whole number."]})
    return int(value)


def time_range(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    start = _time_param(query, "from", end_of_day=False)
    end = _time_param(query, "to", end_of_day=True)
    if start and end and start >= end:
        raise ValidationError({"to": ["Must be later than 'from'."]})
    return start, end


def _time_param(query: Mapping[str, str], name: str, *, end_of_day: bool) -> datetime | None:
    value = _value(query, name)
    if value is None:
        return None
    try:
        if _DATE.match(value):
            day = date.fromisoformat(value) + timedelta(days=1 if end_of_day else 0)
            moment = datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.REPORTING_TIME_ZONE))
            return moment.astimezone(UTC)
        if _DATETIME_WITH_OFFSET.match(value):
            return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        # Not a calendar date, or beyond what a date-time can hold (year 9999 plus a day).
        pass
    raise ValidationError(
        {name: [f"{value[:80]!r} is not a date (2026-11-23) or a date-time with an offset (2026-11-23T10:00:00Z)."]}
    )
