"""JSON body templates: valid JSON whose strings carry macros, rendered without changing the document's shape.

The template is parsed as JSON (once per template text) and written out
again with each string filled in, so a value is always a JSON string's
content, never a key or a piece of structure. Macros may not be keys.

A string that is exactly one macro ending in ``|number`` or ``|bool``
renders as that JSON type (``"value": "{amount|number}"`` → ``"value":
25.00``), or ``null`` when the value is empty or is not one; so the template
itself stays valid JSON. A string that is exactly one ``|omit`` macro is left
out, with its key or array slot, when the value is empty.

Numbers the template writes itself are sent exactly as written; those that
most JSON parsers cannot read exactly (non-finite, beyond ±2^53 for
integers) are refused at save, as are duplicate keys.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from .macro_filters import BOOL, NUMBER
from .templating import MACRO_PATTERN, Macro, Part, TemplateError, parse, shown_text

# Far more than any partner's body needs, and far from Python's recursion limit.
MAX_JSON_DEPTH = 32
# Integers beyond this are rounded by JavaScript and by parsers that read numbers as doubles (RFC 7493).
MAX_SAFE_INTEGER = 2**53 - 1
_MAX_NUMBER_TEXT = 100
# A typed value outside double range would be read as infinity or zero.
_MAX_EXPONENT = 300
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_TOO_DEEP = f"nested more than {MAX_JSON_DEPTH} levels deep; flatten it."
_OMITTED = object()


class _Number(str):
    """A number as the template wrote it, written out unchanged."""


@dataclass(frozen=True, slots=True)
class _Filled:
    """A string of the template: its parts, and the JSON type it renders as when it is one typed macro."""

    parts: tuple[Part, ...]
    json_type: str | None
    omits: bool


def check_json(template: str) -> None:
    """TemplateError saying what is wrong when ``template`` is not a JSON body template that can be saved."""
    _compiled(template)


def render_json(template: str, values: Mapping[str, str]) -> str:
    return _written(_compiled(template), values)


@lru_cache(maxsize=1024)
def _compiled(template: str):
    document = _loaded(template)
    if _nesting_depth(document) > MAX_JSON_DEPTH:
        raise TemplateError(_TOO_DEEP)
    return _compile(document)


def _loaded(template: str):
    try:
        return json.loads(
            template, parse_int=_integer, parse_float=_fraction, parse_constant=_constant,
            object_pairs_hook=_members,
        )
    except json.JSONDecodeError as exc:
        raise TemplateError(
            f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            'macros go inside JSON strings, e.g. {"amount": "{amount}"}, or "{amount|number}" for a number.'
        ) from None
    except RecursionError:
        raise TemplateError(_TOO_DEEP) from None


def _integer(text: str) -> _Number:
    # Checked by length first: int() of a very long text is refused by Python itself, and slow.
    if len(text) > 17 or abs(int(text)) > MAX_SAFE_INTEGER:
        raise TemplateError(
            f"not sendable: the integer {text[:20]}{'…' if len(text) > 20 else ''} is beyond ±2^53, which most "
            "JSON parsers cannot read exactly; write it as a string."
        )
    return _Number(text)


def _fraction(text: str) -> _Number:
    if len(text) > _MAX_NUMBER_TEXT or float(text) in (float("inf"), float("-inf")):
        raise TemplateError(f"not sendable: the number {text[:20]} is out of range; write it as a string.")
    return _Number(text)


def _constant(text: str):
    raise TemplateError(f"not sendable: {text} is not a JSON number; write it as a string or use null.")


def _members(pairs: list[tuple[str, object]]) -> dict:
    members: dict = {}
    for key, value in pairs:
        if MACRO_PATTERN.search(key):
            raise TemplateError(
                f"a macro cannot be a JSON key ({key!r}); put it in a value, e.g. {{\"click\": \"{{click_id}}\"}}."
            )
        if key in members:
            raise TemplateError(f"the key {key!r} appears twice in one object.")
        members[key] = value
    return members


def _nesting_depth(document) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _compile(node):
    if isinstance(node, dict):
        return {key: _compile(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_compile(item) for item in node]
    if isinstance(node, str) and not isinstance(node, _Number):
        return _string(node)
    return node


def _string(text: str):
    parts = parse(text)
    macros = [part for part in parts if isinstance(part, Macro)]
    if not macros:
        return text
    whole = macros[0] if len(parts) == 1 else None
    for macro in macros:
        if macro is not whole and (macro.json_type or macro.omits):
            used = f"|{macro.json_type}" if macro.json_type else "|omit"
            raise TemplateError(
                f"{used} in {{{macro.name}}} works only on a macro that is a whole JSON value, "
                f'e.g. "value": "{{{macro.name}{used}}}", not inside other text.'
            )
    return _Filled(parts, whole.json_type if whole else None, bool(whole and whole.omits))


def _written(node, values: Mapping[str, str]) -> str:
    if isinstance(node, dict):
        members = ((key, _written(value, values)) for key, value in node.items())
        return "{" + ",".join(f"{json.dumps(key)}:{text}" for key, text in members if text is not _OMITTED) + "}"
    if isinstance(node, list):
        return "[" + ",".join(text for text in (_written(item, values) for item in node) if text is not _OMITTED) + "]"
    if isinstance(node, _Filled):
        return _filled(node, values)
    if isinstance(node, _Number):
        return node
    # ASCII output: a lone surrogate from a client's JSON stays an escape, not an unencodable body.
    return json.dumps(node)


def _filled(node: _Filled, values: Mapping[str, str]):
    text = "".join(part if isinstance(part, str) else shown_text(part, values, _raw) for part in node.parts)
    if node.omits and not text:
        return _OMITTED
    if node.json_type == NUMBER:
        return _number(text)
    if node.json_type == BOOL:
        return _boolean(text)
    return json.dumps(text)


def _raw(text: str) -> str:
    return text  # a JSON value is escaped whole, by json.dumps, once its parts are joined


def _number(text: str) -> str:
    try:
        number = Decimal(text) if len(text) <= _MAX_NUMBER_TEXT else None
    except InvalidOperation:
        return "null"
    if number is None or not number.is_finite() or abs(number.adjusted()) > _MAX_EXPONENT:
        return "null"
    # str() of a finite Decimal is always a JSON number: 25.00, -0, 1E+2.
    return str(number)


def _boolean(text: str) -> str:
    word = text.strip().lower()
    if word in _TRUE:
        return "true"
    return "false" if word in _FALSE else "null"
