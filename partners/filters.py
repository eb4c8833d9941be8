"""Endpoint filters: conditions an event must meet to be sent to an endpoint.

A filter list is JSON kept on the endpoint, all conditions must hold:

    [{"field": "params.country", "op": "in", "value": ["DE", "AT"]},
     {"field": "amount", "op": "gte", "value": "20"}]

``field`` is one of ``FIELDS`` or ``params.NAME``; ``params.NAME`` reads the
same merged view templates render (the event's params over its player's
tracking params). Comparisons on ``amount`` are decimal; ``is_first_deposit``
is a yes/no (``true``/``false``, also ``1``/``0``); everything else compares
as text, so ``"7"`` and ``7`` match.
"""

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from events.params import params_merged

FIELDS = ("type", "amount", "currency", "click_id", "player_id", "partner", "is_first_deposit")
_YES_NO = {True: "1", False: "0", "true": "1", "false": "0", "1": "1", "0": "0"}
# Each operator with its name in the endpoint editor.
OPERATOR_LABELS = {
    "eq": "is", "ne": "is not", "in": "is one of", "not_in": "is none of", "gte": "≥ (amount)", "gt": "> (amount)",
    "lte": "≤ (amount)", "lt": "< (amount)", "exists": "is present", "missing": "is missing",
}
OPERATORS = tuple(OPERATOR_LABELS)
_ORDERING = {"gte": "__ge__", "gt": "__gt__", "lte": "__le__", "lt": "__lt__"}
MAX_FILTERS = 20


class FilterError(ValueError):
    pass


def validate_filters(filters: Any) -> list[dict]:
    """Return the filters if well-formed, else raise FilterError saying what is wrong."""
    if filters in (None, ""):
        return []
    if not isinstance(filters, list):
        raise FilterError("filters must be a list of {field, op, value} objects.")
    if len(filters) > MAX_FILTERS:
        raise FilterError(f"at most {MAX_FILTERS} filters per endpoint.")
    for position, condition in enumerate(filters, start=1):
        _validate_condition(condition, position)
    return filters


def _validate_condition(condition: Any, position: int) -> None:
    where = f"filter {position}"
    if not isinstance(condition, dict) or set(condition) - {"field", "op", "value"}:
        raise FilterError(f"{where}: must be an object with the keys field, op and value.")
    field, op = condition.get("field"), condition.get("op")
    if not isinstance(field, str) or not (field in FIELDS or (field.startswith("params.") and len(field) > 7)):
        raise FilterError(f"{where}: unknown field {field!r}; use one of {', '.join(FIELDS)} or params.NAME.")
    if op not in OPERATORS:
        raise FilterError(f"{where}: unknown op {op!r}; use one of {', '.join(OPERATORS)}.")
    value = condition.get("value")
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise FilterError(f"{where}: op {op!r} needs a non-empty list as value.")
    elif op in _ORDERING:
        if field != "amount":
            raise FilterError(f"{where}: op {op!r} compares amounts only; use eq/in for {field}.")
        if _decimal(value) is None:
            raise FilterError(f"{where}: value {value!r} is not a number.")
    elif op in ("eq", "ne") and (value is None or isinstance(value, (list, dict))):
        raise FilterError(f"{where}: op {op!r} needs a single value.")
    if field == "is_first_deposit" and (op not in ("eq", "ne") or _yes_no(value) is None):
        raise FilterError(f"{where}: is_first_deposit takes op eq or ne with true or false.")


def _yes_no(value: Any) -> str | None:
    try:
        return _YES_NO.get(value.lower() if isinstance(value, str) else value)
    except TypeError:  # an unhashable value
        return None


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def event_value(event, field: str) -> Any:
    if field.startswith("params."):
        return params_merged(params=event.params, tracking_params=event.player.tracking_params).get(field[7:])
    if field == "is_first_deposit":
        return _yes_no(bool(event.is_first_deposit))
    if field == "type":
        return event.type_id
    if field == "player_id":
        return event.player_id
    if field == "partner":
        return getattr(event.partner, "slug", None) if event.partner_id else None
    return getattr(event, field)


def filters_match(filters: Iterable[dict], event) -> bool:
    return all(_condition_holds(condition, event) for condition in filters or ())


def _condition_holds(condition: dict, event) -> bool:
    op, expected = condition["op"], condition.get("value")
    actual = event_value(event, condition["field"])
    if op == "exists":
        return actual not in (None, "")
    if op == "missing":
        return actual in (None, "")
    if op in _ORDERING:
        left, right = _decimal(actual), _decimal(expected)
        return left is not None and right is not None and getattr(left, _ORDERING[op])(right)
    if op in ("in", "not_in"):
        found = _text(actual) in {_text(item) for item in expected}
        return found if op == "in" else not found
    if condition["field"] == "is_first_deposit":
        expected = _yes_no(expected)
    return (_text(actual) == _text(expected)) == (op == "eq")
