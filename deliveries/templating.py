"""Postback templates: macros with filters, rendered so that no value can change the request's shape.

A macro is ``{NAME}`` or ``{params.NAME}``, optionally followed by filters:
``{params.email|trim|lower|sha256}``, ``{click_id|default:organic}``
(see ``deliveries.macro_filters``). The same syntax holds in URLs, headers,
form bodies and JSON bodies (``deliveries.json_templates``), and a template is
checked once, when it is saved, for unknown macros, unknown filters and
filters used where they mean nothing.

Every value is encoded once, for the place it lands in, into the form that no
HTTP client encodes again, so the bytes signed are the bytes sent:

- URL: the template's own text is put in canonical form (upper-case percent
  escapes, characters a URL cannot hold escaped) and a macro's value keeps
  only RFC 3986 unreserved characters raw; everything else, ``/ ? & = # %``
  included, is escaped. A value cannot add a path segment or a query
  parameter, and a path segment made of a value cannot be ``.`` or ``..``:
  such a postback is refused rather than sent somewhere else;
- form body: ``application/x-www-form-urlencoded`` (space is ``+``);
- header value: printable ASCII as is, every other character percent-encoded
  (UTF-8), so a value can neither start a new header nor fail to send.

``|omit`` leaves out the query or form pair, or the header, whose macro
renders empty. A macro whose value is missing renders empty. This module is
pure: callers build the macro values (see ``deliveries.rendering``).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, quote_plus, unquote

from .macro_filters import OMIT, TYPED, Filter, FilterContext, FilterError, currency_for, filter_parse, filters_apply

MACROS = (
    "click_id",
    "event_type",
    "event_name",
    "event_id",
    "player_id",
    "partner",
    "amount",
    "currency",
    "payout",
    "payout_currency",
    "is_first_deposit",
    "occurred_at",
    "timestamp",
    "delivery_id",
)
PARAMS_PREFIX = "params."

# Braces around an identifier (optionally params.NAME) and its filters. Anything else in
# braces, such as JSON's own ``{"a": 1}``, is not a macro.
MACRO_PATTERN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)?)((?:\|[^|{}]*)*)\}")
_HEADER_SAFE = re.compile(r"[^\x20-\x7e]")
# In the template's own URL text: a percent escape (upper-cased), or a character no URL may hold raw.
_URL_LITERAL = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]|%")
_DOT_SEGMENTS = (".", "..")


class TemplateError(ValueError):
    """A template that cannot be rendered; the message says why."""


@dataclass(frozen=True, slots=True)
class Macro:
    name: str
    filters: tuple[Filter, ...]

    @property
    def omits(self) -> bool:
        return any(item.name == OMIT for item in self.filters)

    @property
    def json_type(self) -> str | None:
        return self.filters[-1].name if self.filters and self.filters[-1].name in TYPED else None

    def text(self, values: Mapping[str, str]) -> str:
        context = FilterContext(currency=currency_for(self.name, values))
        return filters_apply(str(values.get(self.name) or ""), self.filters, context)


Part = str | Macro


def is_known_macro(name: str) -> bool:
    return name in MACROS or (name.startswith(PARAMS_PREFIX) and len(name) > len(PARAMS_PREFIX))


def macro_list() -> str:
    return ", ".join(f"{{{name}}}" for name in MACROS) + ", {params.NAME}"


@lru_cache(maxsize=4096)
def parse(template: str) -> tuple[Part, ...]:
    """Literal text and macros, in order; TemplateError for an unknown macro or filter, or a stray brace."""
    parts: list[Part] = []
    position = 0
    for match in MACRO_PATTERN.finditer(template):
        parts.extend(_literal(template[position:match.start()]))
        parts.append(_macro(match.group(1), match.group(2)))
        position = match.end()
    parts.extend(_literal(template[position:]))
    return tuple(parts)


def _literal(text: str) -> list[str]:
    if "{" in text or "}" in text:
        stray = re.search(r"\{[^{}]*\}?|\}", text).group(0)
        raise TemplateError(
            f"{stray!r} is not a macro; write {{NAME}} or {{NAME|filter|filter:ARG}}, e.g. {{click_id}} "
            "or {params.email|trim|lower|sha256}."
        )
    return [text] if text else []


def _macro(name: str, filter_text: str) -> Macro:
    if not is_known_macro(name):
        raise TemplateError(f"Unknown macro {{{name}}}; use one of {macro_list()}.")
    try:
        filters = tuple(filter_parse(item, macro=name) for item in filter_text.split("|")[1:])
    except FilterError as exc:
        raise TemplateError(str(exc)) from None
    macro = Macro(name, filters)
    if any(item.name in TYPED for item in filters[:-1]):
        raise TemplateError(f"In {{{name}}}, |number and |bool must be the last filter.")
    return macro


def macros_of(parts: tuple[Part, ...]) -> list[Macro]:
    return [part for part in parts if isinstance(part, Macro)]


def _refuse_typed(parts: tuple[Part, ...], where: str) -> None:
    for macro in macros_of(parts):
        if macro.json_type:
            raise TemplateError(
                f"|{macro.json_type} in {{{macro.name}}} makes a JSON {macro.json_type} and means nothing in {where}; "
                f'use it in a JSON body as a whole value, e.g. "value": "{{amount|number}}".'
            )


def _refuse_omit(parts: tuple[Part, ...], where: str) -> None:
    for macro in macros_of(parts):
        if macro.omits:
            raise TemplateError(
                f"|omit in {{{macro.name}}} cannot be used in {where}; it leaves out a query or form pair, "
                "a JSON member or a header."
            )


def _split(parts: tuple[Part, ...], separator: str, limit: int = -1) -> list[tuple[Part, ...]]:
    """``parts`` cut at ``separator`` in their literal text (never inside a macro's value)."""
    pieces: list[list[Part]] = [[]]
    for part in parts:
        if isinstance(part, Macro):
            pieces[-1].append(part)
            continue
        remaining = -1 if limit < 0 else limit - (len(pieces) - 1)
        for index, chunk in enumerate(part.split(separator, remaining)):
            if index:
                pieces.append([])
            if chunk:
                pieces[-1].append(chunk)
    return [tuple(piece) for piece in pieces]


# URLs


@dataclass(frozen=True, slots=True)
class UrlTemplate:
    origin: str  # scheme://authority, taken as written: macros are not allowed there
    path: tuple[Part, ...]
    query: tuple[Part, ...] | None
    fragment: tuple[Part, ...] | None


@lru_cache(maxsize=4096)
def url_template(template: str) -> UrlTemplate:
    """The URL template's parts; TemplateError when a macro or filter is misused anywhere in it."""
    parts = parse(template)
    before_fragment, *fragment = _split(parts, "#", 1)
    before_query, *query = _split(before_fragment, "?", 1)
    origin, path = _origin(before_query)
    _refuse_typed(parts, "a URL")
    _refuse_omit(path, "a URL's path")
    for segment in _split(path, "/"):
        if segment in ((".",), ("..",)):
            raise TemplateError("the path has a '.' or '..' segment, which HTTP clients remove; write the final path.")
    if fragment:
        _refuse_omit(fragment[0], "a URL's fragment")
    return UrlTemplate(origin, path, query[0] if query else None, fragment[0] if fragment else None)


def _origin(parts: tuple[Part, ...]) -> tuple[str, tuple[Part, ...]]:
    first = parts[0] if parts and isinstance(parts[0], str) else ""
    scheme, separator, rest = first.partition("://")
    if not separator:
        return "", parts
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority}", ((slash + path,) if slash + path else ()) + parts[1:]


def render_url(template: str, values: Mapping[str, str]) -> str:
    shape = url_template(template)
    url = shape.origin + "/".join(_path_segment(segment, values) for segment in _split(shape.path, "/"))
    if shape.query is not None:
        query = _pairs(shape.query, values, url_escape, canonical_url_text)
        # A query whose every pair was omitted goes with its "?"; one the template leaves empty stays.
        url += f"?{query}" if query or not macros_of(shape.query) else ""
    if shape.fragment is not None:
        url += "#" + _filled(shape.fragment, values, url_escape, canonical_url_text)
    return url


def _path_segment(segment: tuple[Part, ...], values: Mapping[str, str]) -> str:
    text = _filled(segment, values, url_escape, canonical_url_text)
    macros = macros_of(segment)
    if macros and unquote(text) in _DOT_SEGMENTS:
        raise TemplateError(
            f"the value of {{{macros[0].name}}} would make the path segment {unquote(text)!r}, which moves the "
            "request to another path; it is not sent."
        )
    return text


def canonical_url_text(text: str) -> str:
    """The template's own URL text as no HTTP client re-encodes it: escapes upper-cased, the rest escaped."""
    return _URL_LITERAL.sub(lambda match: match.group(0).upper() if len(match.group(0)) == 3 else url_escape(
        match.group(0)), text)


def url_escape(value: str) -> str:
    # Only unreserved characters stay raw; quote escapes in upper case and never escapes them.
    return quote(value, safe="", errors="replace")


# Form bodies and headers


def check_form(template: str) -> None:
    _refuse_typed(parse(template), "a form body")


def render_form(template: str, values: Mapping[str, str]) -> str:
    return _pairs(parse(template), values, form_escape, str)


def form_escape(value: str) -> str:
    return quote_plus(value, safe="", errors="replace")


def check_header(template: str) -> None:
    parts = parse(template)
    _refuse_typed(parts, "a header")
    for literal in (part for part in parts if isinstance(part, str)):
        if _HEADER_SAFE.search(literal):
            raise TemplateError(
                "a header value's own text must be printable ASCII (no line breaks or control characters); "
                "values from macros are encoded for you."
            )


def render_header(template: str, values: Mapping[str, str]) -> str | None:
    """The header's value, or None when an ``|omit`` macro in it is empty (the header is left out)."""
    parts = parse(template)
    if _omitted(parts, values):
        return None
    return _filled(parts, values, header_escape, _header_literal)


def header_escape(value: str) -> str:
    return _HEADER_SAFE.sub(lambda match: quote(match.group(0), safe="", errors="replace"), value)


def _header_literal(text: str) -> str:
    if _HEADER_SAFE.search(text):
        raise TemplateError("a header value's own text must be printable ASCII.")
    return text


# Shared


def _filled(parts: tuple[Part, ...], values: Mapping[str, str], escape, literal) -> str:
    return "".join(literal(part) if isinstance(part, str) else escape(part.text(values)) for part in parts)


def _omitted(parts: tuple[Part, ...], values: Mapping[str, str]) -> bool:
    return any(macro.omits and not macro.text(values) for macro in macros_of(parts))


def _pairs(parts: tuple[Part, ...], values: Mapping[str, str], escape, literal) -> str:
    """``name=value`` pairs joined by ``&``, leaving out each pair whose ``|omit`` macro is empty."""
    kept = (pair for pair in _split(parts, "&") if not _omitted(pair, values))
    return "&".join(_filled(pair, values, escape, literal) for pair in kept)
