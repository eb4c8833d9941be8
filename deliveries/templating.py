"""Postback templates: macros, and rendering them safely into URLs, bodies and headers.

A macro is ``{name}`` or ``{params.NAME}``. Every value is escaped for the
place it lands in, so no value can add a query parameter, break a JSON body
or start a new header line:

- URL: percent-encoded with nothing left "safe" (``&``, ``=``, ``#``, ``/``
  and ``?`` are encoded too);
- JSON body: the template is parsed as JSON and macros are replaced inside its
  strings, then the whole document is serialised again;
- form body: ``application/x-www-form-urlencoded`` encoding (space is ``+``);
- header value: control characters (CR, LF, …) are removed.

A macro whose value is missing renders empty. This module is pure: callers
build the macro values (see ``deliveries.rendering``).
"""

import json
import re
from collections.abc import Callable, Mapping
from urllib.parse import quote, quote_plus

MACROS = (
    "click_id",
    "event_type",
    "event_id",
    "player_id",
    "partner",
    "amount",
    "currency",
    "payout",
    "occurred_at",
    "timestamp",
    "delivery_id",
    # Filled on reversal postbacks, empty on every other.
    "original_event_id",
    "original_event_type",
    "reversal_reason",
)
PARAMS_PREFIX = "params."

# Braces around an identifier (optionally params.NAME). Anything else in
# braces, such as JSON's own ``{"a": 1}``, is left alone.
MACRO_PATTERN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)?)\}")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class TemplateError(ValueError):
    """A template that cannot be rendered; the message says why."""


def macro_names(template: str) -> list[str]:
    return MACRO_PATTERN.findall(template or "")


def unknown_macros(template: str) -> list[str]:
    return [name for name in macro_names(template) if not is_known_macro(name)]


def is_known_macro(name: str) -> bool:
    return name in MACROS or (name.startswith(PARAMS_PREFIX) and len(name) > len(PARAMS_PREFIX))


def substitute(template: str, values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """Replace every known macro with its escaped value; unknown ones stay as written."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if not is_known_macro(name):
            return match.group(0)
        return escape(str(values.get(name) or ""))

    return MACRO_PATTERN.sub(replace, template or "")


def url_escape(value: str) -> str:
    return quote(value, safe="", errors="replace")


def form_escape(value: str) -> str:
    return quote_plus(value, safe="", errors="replace")


def header_escape(value: str) -> str:
    return _CONTROL_CHARS.sub("", value)


def render_url(template: str, values: Mapping[str, str]) -> str:
    return substitute(template, values, url_escape)


def render_form(template: str, values: Mapping[str, str]) -> str:
    return substitute(template, values, form_escape)


def render_header(template: str, values: Mapping[str, str]) -> str:
    # Control characters go from the whole line, the template's own and the values' alike.
    return header_escape(substitute(template, values, str))


# Far more than any partner's body needs, and far from Python's recursion limit,
# which rendering (recursive) would otherwise hit in the sender.
MAX_JSON_DEPTH = 32
_TOO_DEEP = f"nested more than {MAX_JSON_DEPTH} levels deep; flatten it."


def parse_json_template(template: str):
    """The JSON document a body template describes; TemplateError with the position if it is not JSON."""
    document = _loaded(template)
    if _nesting_depth(document) > MAX_JSON_DEPTH:
        raise TemplateError(_TOO_DEEP)
    return document


def _loaded(template: str):
    try:
        return json.loads(template)
    except json.JSONDecodeError as exc:
        raise TemplateError(
            f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            'macros go inside JSON strings, e.g. {"amount": "{amount}"}.'
        ) from None
    except RecursionError:
        raise TemplateError(_TOO_DEEP) from None


def _nesting_depth(document) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def render_json(template: str, values: Mapping[str, str]) -> str:
    # One walk per postback: the fill checks the depth that parse_json_template checks at save.
    document = _fill_json(_loaded(template), values, depth=1)
    # ASCII output: a lone surrogate from a client's JSON stays an escape, not an unencodable body.
    return json.dumps(document, separators=(",", ":"))


def _fill_json(node, values: Mapping[str, str], *, depth: int):
    if isinstance(node, str):
        return substitute(node, values, str)
    if isinstance(node, (list, dict)) and depth > MAX_JSON_DEPTH:
        raise TemplateError(_TOO_DEEP)
    if isinstance(node, list):
        return [_fill_json(item, values, depth=depth + 1) for item in node]
    if isinstance(node, dict):
        return {substitute(key, values, str): _fill_json(item, values, depth=depth + 1) for key, item in node.items()}
    return node
