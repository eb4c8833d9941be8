"""The event body a platform sends, as one declarative definition that validates it and states it as JSON Schema.

``EVENT_BODY`` lists the fields; each one checks a value (every message names
the reason and what to send instead) and describes what it takes as JSON
Schema. The OpenAPI documentation of the ingest routes is generated from the
same definition (``ingest.api_docs``), so what is documented is what is
enforced. ``BATCH_BODY`` does the same for the ``{"events": [...]}`` envelope.

Plain Python rather than a DRF serializer: a batch of 1,000 events is
validated in a few milliseconds this way, where a serializer costs many times
as much per event. Looking up event types and partners needs the database, so
the caller loads them once (``Catalog``) and passes them in.
"""

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, Protocol

from events.currencies import MINOR_UNITS, minor_units, smallest_unit
from events.models import CLICK_ID_MAX_LENGTH, CONTROL_CHARACTERS, ID_MAX_LENGTH, EventType
from lib.api_docs import MONTH_DAY, OFFSET

PARTNER_MAX_LENGTH = 64
MAX_PARAMS = 50
PARAM_NAME_MAX_LENGTH = 64
PARAM_VALUE_MAX_LENGTH = 512
MAX_BATCH_SIZE = 1000
# Events from before online gaming platforms, or far ahead of the receiving
# clock, are mistakes (a wrong unit or time zone), not history.
EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_AHEAD = timedelta(days=1)
# Event.amount is DECIMAL(18, 4): 14 digits before the point.
AMOUNT_MAX_INTEGER_DIGITS = 14

_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})$"
)
_PARAM_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# Format characters (Unicode category Cf: zero-width, bidi controls, tags) are never
# part of a real id; in one they only disguise it, on admin pages and in exported
# files, where a right-to-left override or a zero-width space can hide a formula.
# Visible characters, full-width ones included, are the partner's and go back to it
# as sent; exports neutralise what a spreadsheet could run (reporting.formula_guard).
INVISIBLE_CHARACTERS = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# The same rule for JSON Schema readers: printed first and last characters, no control characters
# (JSON Schema patterns cannot name every invisible character's class; the check above does).
_PRINTED = r"[^\s\x00-\x1f\x7f]"
TEXT_PATTERN = rf"^{_PRINTED}(?:[^\x00-\x1f\x7f]*{_PRINTED})?$"

Errors = dict[str, list[str]]
Checked = tuple[Any, str | None]


@dataclass(frozen=True)
class Catalog:
    """What validation needs from the database: event types and the partners the input names."""

    amount_required: Mapping[str, bool]
    partners: Mapping[str, Any]

    @property
    def ingestible_types(self) -> dict[str, bool]:
        """The types a platform may send, each with whether it needs an amount."""
        return {slug: needs for slug, needs in sorted(self.amount_required.items()) if slug not in EventType.DERIVED}


@dataclass(frozen=True)
class EventInput:
    """A validated event body. ``occurred_at`` is None when the platform did not send it."""

    event_id: str
    type: str
    player_id: str
    occurred_at: datetime | None = None
    partner: str = ""
    click_id: str = ""
    amount: Decimal | None = None
    currency: str = ""
    params: dict = field(default_factory=dict)

    def canonical(self) -> dict:
        """The submitted content in one normal form: times in UTC, decimals at the currency's precision."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "player_id": self.player_id,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat() if self.occurred_at else None,
            "partner": self.partner or None,
            "click_id": self.click_id or None,
            "amount": str(self.amount) if self.amount is not None else None,
            "currency": self.currency or None,
            "params": self.params,
        }

    @cached_property
    def content_hash(self) -> str:
        """Computed once: a batch compares it with the stored event and stores it."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


class FieldDef(Protocol):
    """One field of a body: how a sent value is checked, and how that is stated as JSON Schema."""

    def check(self, value: Any, catalog: Catalog) -> Checked: ...

    def json_schema(self, catalog: Catalog) -> dict: ...


@dataclass(frozen=True)
class Text:
    """Plain visible text, bounded: an id the platform or the partner made."""

    max_length: int
    description: str = ""
    what: str = "a string"

    def check(self, value: Any, catalog: Catalog) -> Checked:
        return _text(value, self.max_length, self.what)

    def json_schema(self, catalog: Catalog) -> dict:
        return _described({"type": "string", "maxLength": self.max_length, "pattern": TEXT_PATTERN}, self.description)


@dataclass(frozen=True)
class PartnerSlug(Text):
    """The slug of a partner configured on the platform."""

    def check(self, value: Any, catalog: Catalog) -> Checked:
        slug, problem = super().check(value, catalog)
        if problem:
            return "", problem
        if slug not in catalog.partners:
            return "", (
                f"Unknown partner {slug!r}. Send the slug of a partner configured on the platform, or leave it out."
            )
        return slug, None


@dataclass(frozen=True)
class EventTypeSlug:
    """A built-in or custom event type; the derived ones (reversal, qualified) are made here, never sent."""

    description: str = ""

    def check(self, value: Any, catalog: Catalog) -> Checked:
        if value == EventType.REVERSAL:
            return "", "Reversals are not ingested: POST /api/v1/events/{id}/reverse/ reverses a stored event."
        if value == EventType.QUALIFIED:
            return "", "Qualified events are made by the partners' qualification rules, not ingested."
        if isinstance(value, str) and value in catalog.amount_required:
            return value, None
        return "", f"Unknown event type {value!r}. Allowed types: {', '.join(catalog.ingestible_types)}."

    def json_schema(self, catalog: Catalog) -> dict:
        return _described({"type": "string", "enum": list(catalog.ingestible_types)}, self.description)


@dataclass(frozen=True)
class Moment:
    """An RFC 3339 date-time with an offset, from 2000-01-01 to a day from now."""

    description: str = ""

    def check(self, value: Any, catalog: Catalog) -> Checked:
        hint = "Send an RFC 3339 time with an offset, such as 2026-11-23T10:00:00Z or 2026-11-23T12:00:00+02:00."
        match = _RFC3339.match(value) if isinstance(value, str) else None
        if not match:
            return None, f"Not an RFC 3339 date-time with an offset. {hint}"
        # Python keeps microseconds; finer fractions are cut, not rounded, so a replay hashes the same.
        fraction = (match["fraction"] or "")[:6].ljust(6, "0")
        offset = "+00:00" if match["offset"] in ("Z", "z") else match["offset"]
        try:
            moment = datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}{offset}")
            in_utc = moment.astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            return None, f"Not a valid date-time ({exc}). {hint}"
        if not EARLIEST_OCCURRED_AT <= in_utc <= datetime.now(UTC) + MAX_CLOCK_AHEAD:
            return None, "Must lie between 2000-01-01 and one day from now; check the platform's clock and time zone."
        # In UTC: RFC 3339 offsets go to ±23:59, PostgreSQL's stop at ±15:59.
        return in_utc, None

    def json_schema(self, catalog: Catalog) -> dict:
        # The years that lie wholly within the accepted span; leap days and this year are left
        # out of the pattern, still accepted.
        years = "|".join(str(year) for year in range(EARLIEST_OCCURRED_AT.year + 1, datetime.now(UTC).year))
        seconds = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
        return _described(
            {"type": "string", "pattern": rf"^(?:{years})-{MONTH_DAY}T{seconds}{OFFSET}$"}, self.description
        )


@dataclass(frozen=True)
class Amount:
    """A positive decimal; its precision is the currency's, checked with it (``_money``)."""

    description: str = ""

    def check(self, value: Any, catalog: Catalog) -> Checked:
        hint = 'Send a positive decimal, preferably as a string such as "25.00".'
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return None, f"Must be a decimal number, not {_json_type(value)}. {hint}"
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None, f"{str(value)[:40]!r} is not a number. {hint}"
        if not number.is_finite() or number <= 0:
            return None, f"Must be greater than zero. {hint}"
        if number.adjusted() >= AMOUNT_MAX_INTEGER_DIGITS:
            return None, f"Too large: at most {AMOUNT_MAX_INTEGER_DIGITS} digits before the decimal point."
        return number, None

    def json_schema(self, catalog: Catalog) -> dict:
        pattern = rf"^[0-9]{{1,{AMOUNT_MAX_INTEGER_DIGITS}}}(?:\.[0-9]{{1,4}})?$"
        return _described({"type": "string", "minLength": 1, "pattern": pattern}, self.description)


@dataclass(frozen=True)
class Currency:
    """An ISO 4217 code."""

    description: str = ""

    def check(self, value: Any, catalog: Catalog) -> Checked:
        if isinstance(value, str) and minor_units(value) is not None:
            return value, None
        return "", f"{value!r} is not an ISO 4217 currency code. Use upper case, e.g. EUR, USD, BRL."

    def json_schema(self, catalog: Catalog) -> dict:
        schema = {"type": "string", "minLength": 3, "maxLength": 3, "enum": [*sorted(MINOR_UNITS), None]}
        return _described(schema, self.description)


@dataclass(frozen=True)
class Params:
    """Up to ``MAX_PARAMS`` flat, named values (``{params.NAME}`` in templates)."""

    description: str = ""

    def check(self, value: Any, catalog: Catalog) -> Checked:
        if not isinstance(value, dict):
            return {}, f"Must be an object of name/value pairs, not {_json_type(value)}."
        if len(value) > MAX_PARAMS:
            return {}, f"At most {MAX_PARAMS} params; this object has {len(value)}."
        for name, item in value.items():
            problem = _param_problem(name, item)
            if problem:
                return {}, problem
        return value, None

    def json_schema(self, catalog: Catalog) -> dict:
        value = {
            "nullable": True,
            "anyOf": [{"type": "string", "maxLength": PARAM_VALUE_MAX_LENGTH, "pattern": r"^[^\x00]*$"},
                      {"type": "number"}, {"type": "boolean"}],
        }
        return _described(
            {"type": "object", "maxProperties": MAX_PARAMS, "additionalProperties": value}, self.description
        )


@dataclass(frozen=True, eq=False)  # hashed by identity: drf-spectacular keys its components by the definition
class EventBody:
    """An event body: its fields in order, which are required, and the rule that ties amount to currency."""

    name: str
    description: str
    fields: Mapping[str, FieldDef]
    required: tuple[str, ...]

    def validate(self, raw: Any, catalog: Catalog) -> EventInput | Errors:
        """The validated event, or every problem found as ``{field: [message]}``."""
        if not isinstance(raw, dict):
            return {"non_field_errors": [f"Each event must be a JSON object, not {_json_type(raw)}."]}
        errors: Errors = {}
        for name in raw.keys() - self.fields.keys():
            errors[name] = [f"Unknown field. Event fields are: {', '.join(self.fields)}."]
        if len(errors) > 1:
            errors = dict(sorted(errors.items()))
        values = {}
        for name, definition in self.fields.items():
            value = raw.get(name)
            if value is None or value == "":
                if name in self.required:
                    errors[name] = ["This field is required."]
                continue
            checked, problem = definition.check(value, catalog)
            if problem:
                errors[name] = [problem]
            else:
                values[name] = checked
        _money(raw, values, errors, catalog)
        return errors or EventInput(**values)

    def json_schema(self, catalog: Catalog) -> dict:
        properties = {name: definition.json_schema(catalog) for name, definition in self.fields.items()}
        for name, schema in properties.items():
            if name in self.required:
                schema["minLength"] = 1
            else:
                _optional(schema)
        monetary = [slug for slug, needs in catalog.ingestible_types.items() if needs]
        return {
            "type": "object",
            "description": self.description,
            "properties": properties,
            "required": list(self.required),
            "additionalProperties": False,  # an unknown field is a 400
            # amount and currency are required for the types that need an amount. Said with "not" so
            # that drf-spectacular's enum hook, which names each "enum" under "properties", leaves it as is.
            "anyOf": [{"not": {"properties": {"type": {"enum": monetary}}}}, {"required": ["amount", "currency"]}],
        }


def _optional(schema: dict) -> None:
    """Left out, null and (for text) empty all mean "not sent"."""
    schema["nullable"] = True
    if schema.get("pattern") == TEXT_PATTERN:
        schema["pattern"] = f"^$|{TEXT_PATTERN}"


def _money(raw: dict, values: dict, errors: Errors, catalog: Catalog) -> None:
    """amount and currency go together, are required for monetary event types, and the amount has the currency's
    precision."""
    event_type = values.get("type")
    if catalog.amount_required.get(event_type) and raw.get("amount") in (None, ""):
        errors.setdefault("amount", [f"Required for {event_type} events, e.g. \"25.00\"."])
    if raw.get("amount") not in (None, "") and raw.get("currency") in (None, ""):
        errors.setdefault("currency", ["Required with an amount: an ISO 4217 code such as EUR."])
    if "amount" not in values:
        return
    number = values.pop("amount")
    step = smallest_unit(values.get("currency", ""))
    if step is None:  # no currency, or not one: named under currency
        return
    if number != number.quantize(step):
        errors["amount"] = [f"{values['currency']} has {minor_units(values['currency'])} decimal places; "
                            f"{raw['amount']} has more."]
    else:
        values["amount"] = number.quantize(step)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _text(value: Any, max_length: int, what: str = "a string") -> tuple[str, str | None]:
    if not isinstance(value, str):
        return "", f"Must be {what}, not {_json_type(value)}."
    if len(value) > max_length:
        return "", f"At most {max_length} characters; this one has {len(value)}."
    if CONTROL_CHARACTERS.search(value):
        return "", "Must not contain control characters (tabs, line breaks …)."
    if INVISIBLE_CHARACTERS.search(value):
        return "", "Must not contain invisible characters (zero-width spaces, direction marks or overrides …)."
    if value.strip() != value:
        return "", "Must not start or end with white space."
    return value, None


def _param_problem(name: str, item: Any) -> str | None:
    if not (0 < len(name) <= PARAM_NAME_MAX_LENGTH and _PARAM_NAME.match(name)):
        return (
            f"Param name {name[:80]!r} is not allowed: use 1 to {PARAM_NAME_MAX_LENGTH} letters, digits, "
            "'_' or '-'."
        )
    if isinstance(item, (dict, list)):
        return f"Param {name!r} must be a flat value (string, number, boolean or null), not {_json_type(item)}."
    if isinstance(item, float) and not math.isfinite(item):
        return f"Param {name!r} must be a finite number."
    if isinstance(item, str) and "\x00" in item:
        # PostgreSQL cannot store NUL in JSON text.
        return f"Param {name!r} must not contain NUL characters."
    if isinstance(item, str) and len(item) > PARAM_VALUE_MAX_LENGTH:
        return f"Param {name!r} is {len(item)} characters long; at most {PARAM_VALUE_MAX_LENGTH} are allowed."
    return None


def _described(schema: dict, description: str) -> dict:
    return {**schema, "description": description} if description else schema


EVENT_BODY = EventBody(
    name="EventInput",
    description="The event body a platform sends.",
    fields={
        "event_id": Text(ID_MAX_LENGTH, "The platform's unique id for this event."),
        "type": EventTypeSlug("registration, first_deposit, deposit, game_activity, withdrawal, conversion, or a "
                              "custom type configured on the platform."),
        "player_id": Text(ID_MAX_LENGTH),
        "occurred_at": Moment("RFC 3339 with an offset; defaults to the time of receipt."),
        "partner": PartnerSlug(
            PARTNER_MAX_LENGTH, "Slug of the partner that brought the player; binds the player on its first event.",
            what="a partner slug (a string)",
        ),
        "click_id": Text(CLICK_ID_MAX_LENGTH),
        "amount": Amount("Positive decimal at the currency's precision; required for deposit, first_deposit, "
                         "withdrawal."),
        "currency": Currency("ISO 4217 code, with amount."),
        "params": Params(f"Up to {MAX_PARAMS} flat values (string, number, boolean)."),
    },
    required=("event_id", "type", "player_id"),
)


def validate_event(raw: Any, catalog: Catalog) -> EventInput | Errors:
    """Return the validated event, or every problem found as ``{field: [message]}``."""
    return EVENT_BODY.validate(raw, catalog)


@dataclass(frozen=True, eq=False)
class BatchBody:
    """The envelope of a batch. Its items are checked one by one as events: one bad item gets its own
    error result and never rejects the others, so the envelope takes any item."""

    name: str
    max_items: int

    def validate(self, raw: Any) -> list | Errors:
        """The submitted items, or what is wrong with the envelope as ``{"events": [message]}``."""
        if not isinstance(raw, dict) or raw.keys() != {"events"}:
            return {"events": ['Send {"events": [event, …]}: an object whose only key is events.']}
        items = raw["events"]
        if not isinstance(items, list) or not items:
            return {"events": ["Must be a non-empty list of events."]}
        if len(items) > self.max_items:
            return {"events": [f"At most {self.max_items:,} events per batch; this one has {len(items):,}. Split it."]}
        return items

    def json_schema(self, item: dict) -> dict:
        """``item`` is the schema of one event (a reference to ``EVENT_BODY``'s)."""
        return {
            "type": "object",
            "additionalProperties": False,
            "required": ["events"],
            "properties": {
                "events": {
                    "type": "array", "minItems": 1, "maxItems": self.max_items,
                    "items": {"anyOf": [item, {}],
                              "description": "An event as POST /api/v1/events/ takes it; anything else is an error "
                                             "result."},
                },
            },
        }


BATCH_BODY = BatchBody(name="EventBatchInput", max_items=MAX_BATCH_SIZE)


def differing_fields(event_input: EventInput, stored) -> list[str]:
    """Fields in which a reused event_id's content visibly differs from the stored event."""
    differing = [
        name
        for name, mine, theirs in (
            ("type", event_input.type, stored.type_id),
            ("player_id", event_input.player_id, stored.player_id),
            ("amount", event_input.amount, stored.amount),
            ("currency", event_input.currency, stored.currency),
            ("params", event_input.params, stored.params),
        )
        if mine != theirs
    ]
    if event_input.occurred_at is not None and event_input.occurred_at != stored.occurred_at:
        differing.append("occurred_at")
    return differing
