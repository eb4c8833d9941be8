"""The formula guard: which cells a spreadsheet could run, after whatever a reader cannot see."""

import unicodedata

import pytest
from hypothesis import given, settings

from reporting.formula_guard import FORMULA_STARTS, UNSEEN, neutralise
from tests.support.spreadsheet import formula_cells, harmless_cells

ALL_CODE_POINTS = range(0x110000)


def _covered(code_point: int, ranges) -> bool:
    return any(low <= code_point <= high for low, high in ranges)


@pytest.mark.parametrize(
    "text",
    [
        "=1+1", "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd",
        " =1+1", "  +1", "\n=1", "\u00a0=1", "\u3000-1", "\u2003@x",  # leading white space
        "\u202e=1", "\u200e+1", "\u200b=1", "\ufeff=1", "\u2066=1", "\U000e0041=1",  # invisible and bidi controls
        # full-width and small forms
        "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)", "\ufe66cmd", "\u3000\uff1dcmd",
        " \u202e\u00a0\uff1dHYPERLINK(\"http://x.example\")",
    ],
)
def test_a_formula_start_behind_white_space_or_invisible_characters_is_quoted(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["plain", "a=b", "1-2", " plain", "\u202eabc", "\u3000", "", "é=1", "'=already"])
def test_other_text_is_left_alone(text):
    assert neutralise(text) == text


@settings(max_examples=400, deadline=None)
@given(formula_cells)
def test_any_formula_start_after_any_unseen_prefix_is_quoted(text):
    assert neutralise(text) == "'" + text


@settings(max_examples=400, deadline=None)
@given(harmless_cells)
def test_text_whose_first_visible_character_starts_nothing_is_left_alone(text):
    assert neutralise(text) == text


def test_every_white_space_and_format_character_counts_as_unseen():
    missing = [
        hex(cp) for cp in ALL_CODE_POINTS
        if (chr(cp).isspace() or unicodedata.category(chr(cp)) == "Cf") and not _covered(cp, UNSEEN)
    ]

    assert missing == []


def test_every_compatibility_form_of_a_formula_character_counts_as_a_start():
    folded = {cp for cp in ALL_CODE_POINTS if unicodedata.normalize("NFKC", chr(cp)) in ("=", "+", "-", "@")}
    starts = {cp for low, high in FORMULA_STARTS for cp in range(low, high + 1)}

    assert starts == folded | {ord("\t"), ord("\r")}
