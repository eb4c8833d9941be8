"""Query parameters of the statistics views (API, CSV and admin share them)."""

import datetime as dt
from collections.abc import Mapping

from rest_framework.exceptions import ValidationError

from events.models import EventType
from partners.models import Partner

from .selectors import GROUP_BY_FIELDS, StatsQuery, reporting_today

DEFAULT_DAYS = 30
MAX_DAYS = 731


def stats_query_from_params(params: Mapping[str, str]) -> StatsQuery:
    """Read ``from``, ``to``, ``partner``, ``event_type`` and ``group_by``; 400-worthy errors name the field.

    ``from`` and ``to`` are inclusive days in the reporting time zone; without
    them the last 30 days up to today are shown.
    """
    errors: dict[str, list[str]] = {}
    date_to = _date(params, "to", errors) or reporting_today()
    date_from = _date(params, "from", errors) or date_to - dt.timedelta(days=DEFAULT_DAYS - 1)
    if not errors:
        _check_range(date_from, date_to, errors)
    partner = _known(params, "partner", Partner, errors)
    event_type = _known(params, "event_type", EventType, errors)
    group_by = _group_by(params.get("group_by"), errors)
    if errors:
        raise ValidationError(errors)
    return StatsQuery(date_from, date_to, partner=partner, event_type=event_type, group_by=group_by)


def _date(params: Mapping[str, str], name: str, errors: dict) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = [f"{raw!r} is not a date; use YYYY-MM-DD (a day in the reporting time zone)."]
        return None


def _check_range(date_from: dt.date, date_to: dt.date, errors: dict) -> None:
    if date_from > date_to:
        errors["from"] = [f"{date_from} is after 'to' ({date_to}); swap them."]
    elif (date_to - date_from).days + 1 > MAX_DAYS:
        errors["to"] = [f"the range covers more than {MAX_DAYS} days; ask for a shorter one."]


def _known(params: Mapping[str, str], name: str, model, errors: dict) -> str | None:
    """The slug given as ``name``, if one of ``model`` has it."""
    value = (params.get(name) or "").strip()
    # PostgreSQL refuses a NUL in a query parameter; no slug has one anyway.
    if value and ("\x00" in value or not model.objects.filter(slug=value).exists()):
        errors[name] = [f"no {name.replace('_', ' ')} {value!r} exists."]
    return value or None


def _group_by(raw: str | None, errors: dict) -> tuple[str, ...]:
    if raw is None:
        return GROUP_BY_FIELDS
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in GROUP_BY_FIELDS]
    if unknown:
        errors["group_by"] = [
            f"unknown {', '.join(map(repr, unknown))}; use a comma-separated subset of {', '.join(GROUP_BY_FIELDS)}."
        ]
    # Canonical order, so the same grouping always yields the same columns.
    return tuple(name for name in GROUP_BY_FIELDS if name in names)
