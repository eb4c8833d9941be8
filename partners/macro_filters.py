"""Macro filters: ``{NAME|filter|filter:ARG}``, applied left to right to a macro's text.

Every filter maps text to text, so one chain means the same in a URL, a
header, a form body or a JSON string. Three are not transformations but tell
the template where the value goes: ``omit`` (leave out the query or form
pair, JSON member or header when the value is empty), and ``number`` and
``bool`` (a JSON value of that type, only as the whole of a JSON string).
An empty value stays empty through every filter but ``default``, so ``omit``
and ``default`` keep their meaning after a chain.
"""

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from events.currencies import minor_units

OMIT = "omit"
NUMBER = "number"
BOOL = "bool"
TYPED = (NUMBER, BOOL)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# strftime directives that mean the same on every platform; %c, %x and the like depend on the locale.
_DATE_DIRECTIVES = set("aAbBdHIjmMpSfyYzZ%")
_DATE_DIRECTIVE = re.compile(r"%(.?)")
MAX_ARGUMENT = 200


class FilterError(ValueError):
    """A filter that does not exist or is given a wrong argument; the message names it."""


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    argument: str | None


def _on_text(transform: Callable[[str], str]) -> Callable:
    return lambda text, argument, context: transform(text) if text else ""


def _default(text: str, argument: str, context) -> str:
    return text or argument


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _moment(text: str) -> datetime | None:
    """An ISO 8601 time (``{occurred_at}``) or Unix seconds (``{timestamp}``), in UTC."""
    try:
        moment = datetime.fromisoformat(text) if not text.isdigit() else _EPOCH + timedelta(seconds=int(text))
    except (ValueError, OverflowError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _since_epoch(unit: timedelta) -> Callable:
    def apply(text: str, argument, context) -> str:
        moment = _moment(text) if text else None
        return "" if moment is None else str((moment - _EPOCH) // unit)

    return apply


def _date(text: str, pattern: str, context) -> str:
    moment = _moment(text) if text else None
    return "" if moment is None else moment.strftime(pattern)


def _cents(text: str, argument, context: "FilterContext") -> str:
    digits = minor_units(context.currency)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return ""
    if digits is None or not amount.is_finite():
        return ""
    return str(amount.scaleb(digits).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _as_is(text: str, argument, context) -> str:
    return text


def _date_pattern_error(pattern: str) -> str | None:
    directives = set(_DATE_DIRECTIVE.findall(pattern))
    if not directives:
        return "date needs a strftime pattern with at least one %-directive, e.g. date:%Y-%m-%d"
    if unknown := sorted(directives - _DATE_DIRECTIVES):
        return f"date: %{unknown[0]} is not supported; use %Y %m %d %H %M %S %f %y %j %z %Z %a %A %b %B %I %p %%"
    return None


@dataclass(frozen=True, slots=True)
class FilterKind:
    apply: Callable[[str, str | None, "FilterContext"], str]
    argument: str  # "none", or what the required argument is, for error messages
    argument_error: Callable[[str], str | None] | None = None


FILTERS: dict[str, FilterKind] = {
    "default": FilterKind(_default, argument="the value to use when empty, e.g. default:organic"),
    "lower": FilterKind(_on_text(str.lower), argument="none"),
    "upper": FilterKind(_on_text(str.upper), argument="none"),
    "trim": FilterKind(_on_text(str.strip), argument="none"),
    "sha256": FilterKind(_on_text(_sha256), argument="none"),
    "unix": FilterKind(_since_epoch(timedelta(seconds=1)), argument="none"),
    "unix_ms": FilterKind(_since_epoch(timedelta(milliseconds=1)), argument="none"),
    "unix_us": FilterKind(_since_epoch(timedelta(microseconds=1)), argument="none"),
    "date": FilterKind(_date, argument="a strftime pattern, e.g. date:%Y-%m-%d", argument_error=_date_pattern_error),
    "cents": FilterKind(_cents, argument="none"),
    OMIT: FilterKind(_as_is, argument="none"),
    NUMBER: FilterKind(_as_is, argument="none"),
    BOOL: FilterKind(_as_is, argument="none"),
}


@dataclass(frozen=True, slots=True)
class FilterContext:
    """What a filter may know beyond its text: the currency ``cents`` counts in."""

    currency: str


def filter_parse(text: str, *, macro: str) -> Filter:
    """One ``name`` or ``name:ARG`` from a macro; FilterError naming it when it is not a filter we have."""
    name, colon, argument = text.partition(":")
    kind = FILTERS.get(name)
    if kind is None:
        raise FilterError(f"Unknown filter |{name} in {{{macro}}}; use one of {', '.join(FILTERS)}.")
    if kind.argument == "none":
        if colon:
            raise FilterError(f"The filter |{name} in {{{macro}}} takes no argument.")
        return Filter(name, None)
    if not colon or (name != "default" and not argument):
        raise FilterError(f"The filter |{name} in {{{macro}}} needs {kind.argument}.")
    if len(argument) > MAX_ARGUMENT:
        raise FilterError(f"The argument of |{name} in {{{macro}}} is longer than {MAX_ARGUMENT} characters.")
    if kind.argument_error and (reason := kind.argument_error(argument)):
        raise FilterError(f"In {{{macro}}}: {reason}.")
    return Filter(name, argument)


def filters_apply(text: str, filters: tuple[Filter, ...], context: FilterContext) -> str:
    for item in filters:
        text = FILTERS[item.name].apply(text, item.argument, context)
    return text


def currency_for(macro: str, values: Mapping[str, str]) -> str:
    # A payout is counted in its rule's currency, every other amount in the event's.
    return values.get("payout_currency" if macro == "payout" else "currency") or ""
