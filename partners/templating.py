"""Postback templates: macros with filters, rendered so that no value can change the request's shape.

A macro is ``{NAME}`` or ``{params.NAME}``, optionally followed by filters:
``{params.email|trim|lower|sha256}``, ``{click_id|default:organic}``
(see ``partners.macro_filters``). The same syntax holds in URLs, headers,
form bodies and JSON bodies (``partners.json_templates``), and a template is
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
- form body: ``application/x-www-form-urlencoded`` (space is ``+``), the
  template's own text in the same canonical form as a URL's;
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
    # Filled on reversal postbacks, empty on every other.
    "original_event_id",
    "original_event_type",
    "reversal_reason",
)
PARAMS_PREFIX = "params."
# {secret.NAME}: one of the endpoint's credentials. Validation checks NAME against the endpoint's own.
SECRET_PREFIX = "secret."
# What a request shown or stored carries in place of a credential's value.
SECRET_MASK = "\u2022\u2022\u2022\u2022"


class _Masked(str):
    """The value of every {secret.NAME} when a request is rendered to be shown: written as SECRET_MASK, unescaped.

    Recognised by identity, never by comparing text, so no value a partner or an event supplies can pass for it.
    """


MASKED = _Masked(SECRET_MASK)

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

    @property
    def secret_name(self) -> str | None:
        return self.name[len(SECRET_PREFIX):] if self.name.startswith(SECRET_PREFIX) else None

    def text(self, values: Mapping[str, str]) -> str:
        text = str(values.get(self.name) or "")
        if not self.filters:
            return text
        return filters_apply(text, self.filters, FilterContext(currency=currency_for(self.name, values)))


Part = str | Macro


def is_known_macro(name: str) -> bool:
    return name in MACROS or any(
        name.startswith(prefix) and len(name) > len(prefix) for prefix in (PARAMS_PREFIX, SECRET_PREFIX)
    )


def macro_list() -> str:
    return ", ".join(f"{{{name}}}" for name in MACROS) + ", {params.NAME}, {secret.NAME}"


def secret_names(template: str) -> set[str]:
    """The credentials a URL, header, form or JSON template uses as {secret.NAME}.

    Read from the macros' own pattern, which JSON's braces never match; the template's own check
    (``parse``, ``json_templates.check_json``) judges the rest of it.
    """
    return {
        match.group(1)[len(SECRET_PREFIX):] for match in MACRO_PATTERN.finditer(template)
        if match.group(1).startswith(SECRET_PREFIX)
    }


def shown_text(macro: "Macro", values: Mapping[str, str], escape) -> str:
    """A macro's value escaped for where it lands, or the mask itself in a request rendered to be shown."""
    if values.get(macro.name) is MASKED:
        return SECRET_MASK
    return escape(macro.text(values))


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
    if any(item.name in TYPED for item in filters[:-1]):
        raise TemplateError(f"In {{{name}}}, |number and |bool must be the last filter.")
    return Macro(name, filters)


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
    """A URL template cut where values may not reach, its own text already in canonical form."""

    origin: str  # scheme://authority, as written: macros are not allowed there
    segments: tuple[tuple[Part, ...], ...]
    pairs: tuple[tuple[Part, ...], ...] | None
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
    if fragment:
        _refuse_omit(fragment[0], "a URL's fragment")
    segments = tuple(_canonical(segment) for segment in _split(path, "/"))
    if any(len(segment) == 1 and isinstance(segment[0], str) and unquote(segment[0]) in _DOT_SEGMENTS
           for segment in segments):
        raise TemplateError("the path has a '.' or '..' segment, which HTTP clients remove; write the final path.")
    return UrlTemplate(
        origin,
        segments,
        tuple(_canonical(pair) for pair in _split(query[0], "&")) if query else None,
        _canonical(fragment[0]) if fragment else None,
    )


def _origin(parts: tuple[Part, ...]) -> tuple[str, tuple[Part, ...]]:
    first = parts[0] if parts and isinstance(parts[0], str) else ""
    scheme, separator, rest = first.partition("://")
    if not separator:
        return "", parts
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority}", ((slash + path,) if slash + path else ()) + parts[1:]


def _canonical(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    return tuple(canonical_url_text(part) if isinstance(part, str) else part for part in parts)


def render_url(template: str, values: Mapping[str, str]) -> str:
    shape = url_template(template)
    url = shape.origin + "/".join(_path_segment(segment, values) for segment in shape.segments)
    if shape.pairs is not None:
        query = _pairs(shape.pairs, values, url_escape)
        # A query whose every pair was omitted goes with its "?"; one the template leaves empty stays.
        url += f"?{query}" if query or not any(map(macros_of, shape.pairs)) else ""
    if shape.fragment is not None:
        url += "#" + _filled(shape.fragment, values, url_escape)
    return url


def _path_segment(segment: tuple[Part, ...], values: Mapping[str, str]) -> str:
    text = _filled(segment, values, url_escape)
    # Literal dot segments are refused at save; here only a value can make one.
    if unquote(text) in _DOT_SEGMENTS:
        raise TemplateError(
            f"the value of {{{macros_of(segment)[0].name}}} would make the path segment {unquote(text)!r}, which "
            "moves the request to another path; it is not sent."
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


@lru_cache(maxsize=4096)
def form_template(template: str) -> tuple[tuple[Part, ...], ...]:
    """The form body's ``name=value`` pairs; TemplateError when a macro or filter is misused in it."""
    parts = parse(template)
    _refuse_typed(parts, "a form body")
    # The template's own text in the URL's canonical form too, so the body is ASCII whatever it holds.
    return tuple(_canonical(pair) for pair in _split(parts, "&"))


def render_form(template: str, values: Mapping[str, str]) -> str:
    return _pairs(form_template(template), values, form_escape)


def form_escape(value: str) -> str:
    return quote_plus(value, safe="", errors="replace")


@lru_cache(maxsize=4096)
def header_template(template: str) -> tuple[Part, ...]:
    """A header value's parts; TemplateError when its own text is not printable ASCII or a filter is misused."""
    parts = parse(template)
    _refuse_typed(parts, "a header")
    if any(isinstance(part, str) and _HEADER_SAFE.search(part) for part in parts):
        raise TemplateError(
            "a header value's own text must be printable ASCII (no line breaks or control characters); "
            "values from macros are encoded for you."
        )
    return parts


def render_header(template: str, values: Mapping[str, str]) -> str | None:
    """The header's value, or None when an ``|omit`` macro in it is empty (the header is left out)."""
    parts = header_template(template)
    if _omitted(parts, values):
        return None
    return _filled(parts, values, header_escape)


def header_escape(value: str) -> str:
    return _HEADER_SAFE.sub(lambda match: quote(match.group(0), safe="", errors="replace"), value)


# Shared


def _filled(parts: tuple[Part, ...], values: Mapping[str, str], escape) -> str:
    return "".join(part if isinstance(part, str) else shown_text(part, values, escape) for part in parts)


def _omitted(parts: tuple[Part, ...], values: Mapping[str, str]) -> bool:
    return any(macro.omits and not macro.text(values) for macro in macros_of(parts))


def _pairs(pairs: tuple[tuple[Part, ...], ...], values: Mapping[str, str], escape) -> str:
    """``name=value`` pairs joined by ``&``, leaving out each pair whose ``|omit`` macro is empty."""
    return "&".join(_filled(pair, values, escape) for pair in pairs if not _omitted(pair, values))
