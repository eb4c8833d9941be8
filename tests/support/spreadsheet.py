"""Hypothesis strategies for text a spreadsheet may run as a formula, and text it may not."""

from hypothesis import strategies as st

from reporting.formula_guard import FORMULA_STARTS, UNSEEN


def _from_ranges(ranges: list[tuple[int, int]]) -> st.SearchStrategy[str]:
    return st.sampled_from(ranges).flatmap(lambda span: st.integers(*span)).map(chr)


unseen = _from_ranges(UNSEEN)
formula_start = _from_ranges(FORMULA_STARTS)
# PostgreSQL text holds no NUL; everything else may follow.
rest = st.text(st.characters(blacklist_characters="\x00"), max_size=12)

formula_cells = st.builds(lambda hidden, start, tail: "".join(hidden) + start + tail,
                          st.lists(unseen, max_size=6), formula_start, rest)
# A first visible character that starts nothing: a letter, a digit, punctuation, any other script.
harmless_start = st.characters(blacklist_characters="\x00").filter(
    lambda char: not any(low <= ord(char) <= high for low, high in [*FORMULA_STARTS, *UNSEEN])
)
harmless_cells = st.builds(lambda hidden, start, tail: "".join(hidden) + start + tail,
                           st.lists(unseen.filter(lambda char: char not in "\t\r"), max_size=6), harmless_start, rest)
