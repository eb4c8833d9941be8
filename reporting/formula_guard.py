"""Which text cells a spreadsheet could run as a formula, for the CSV writer.

A cell is neutralised (a single quote put before it) when it starts with a
formula start, after any run of characters a reader does not see:

- formula starts: ``=``, ``+``, ``-``, ``@``, tab and carriage return, and
  every character whose compatibility form (NFKC) is one of ``= + - @``
  (full-width ``＝＋－＠``, small and superscript forms), since spreadsheets
  with East Asian input read those as the ASCII ones;
- unseen: white space (space, line feed, no-break and ideographic spaces …)
  and the default-ignorable characters (zero-width, bidi controls such as
  RLO and LRM, variation selectors, fillers, tags), which some spreadsheets
  skip before looking for a formula and which hide a formula from a reader.

The rule is one regular expression built from the code point ranges below,
which the tests also draw their examples from.
"""

import re

# Code point ranges, inclusive.
FORMULA_STARTS = [
    (0x09, 0x09), (0x0D, 0x0D), (0x2B, 0x2B), (0x2D, 0x2D), (0x3D, 0x3D), (0x40, 0x40),
    (0x207A, 0x207A), (0x207C, 0x207C), (0x208A, 0x208A), (0x208C, 0x208C), (0xFB29, 0xFB29),
    (0xFE62, 0xFE63), (0xFE66, 0xFE66), (0xFE6B, 0xFE6B), (0xFF0B, 0xFF0B), (0xFF0D, 0xFF0D),
    (0xFF1D, 0xFF1D), (0xFF20, 0xFF20),
]
UNSEEN = [
    (0x09, 0x0D), (0x1C, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0xAD, 0xAD), (0x34F, 0x34F), (0x600, 0x605),
    (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x115F, 0x1160),
    (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2000, 0x200F), (0x2028, 0x202F),
    (0x205F, 0x206F), (0x3000, 0x3000), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
]


def _escape(code_point: int) -> str:
    return f"\\u{code_point:04x}" if code_point <= 0xFFFF else f"\\U{code_point:08x}"


def _bracket(ranges: list[tuple[int, int]]) -> str:
    parts = (_escape(low) if low == high else f"{_escape(low)}-{_escape(high)}" for low, high in ranges)
    return "[" + "".join(parts) + "]"


# Anchored at the start; backtracking lets a tab or CR count as a formula start even though it is also unseen.
FORMULA_PREFIX_PATTERN = f"^{_bracket(UNSEEN)}*{_bracket(FORMULA_STARTS)}"
_FORMULA_PREFIX = re.compile(FORMULA_PREFIX_PATTERN)


def neutralise(text: str) -> str:
    """``text`` with a leading single quote when a spreadsheet could read it as a formula."""
    first = text[:1]
    if first.isascii() and first.isalnum():  # most cells: no need for the expression
        return text
    return f"'{text}" if _FORMULA_PREFIX.match(text) else text
