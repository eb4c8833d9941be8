import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partners.macro_filters import FILTERS, FilterContext, FilterError, filter_parse, filters_apply


def _apply(text: str, chain: str, currency: str = "EUR") -> str:
    filters = tuple(filter_parse(item, macro="m") for item in chain.split("|"))
    return filters_apply(text, filters, FilterContext(currency=currency))


@pytest.mark.parametrize(
    "text, chain, expected",
    [
        ("", "default:organic", "organic"),
        ("c1", "default:organic", "c1"),
        ("AbC", "lower", "abc"),
        ("AbC", "upper", "ABC"),
        ("  a b ", "trim", "a b"),
        ("2026-11-23T10:00:00Z", "unix", "1795428000"),
        ("2026-11-23T10:00:00.123456Z", "unix_ms", "1795428000123"),
        ("2026-11-23T10:00:00.123456Z", "unix_us", "1795428000123456"),
        ("1795428000", "unix_ms", "1795428000000"),
        ("2026-11-23T10:00:00Z", "date:%Y-%m-%d %H:%M", "2026-11-23 10:00"),
        ("2026-11-23T12:00:00+02:00", "date:%H", "10"),
        ("not a time", "unix", ""),
        ("", "unix", ""),
        ("", "sha256", ""),
        ("", "default:x|upper", "X"),
    ],
)
def test_filters(text, chain, expected):
    assert _apply(text, chain) == expected


def test_sha256_is_the_hex_digest_of_the_utf8_bytes_after_normalising():
    assert _apply("  Ann@Example.COM ", "trim|lower|sha256") == hashlib.sha256(b"ann@example.com").hexdigest()
    assert _apply("ü", "sha256") == hashlib.sha256("ü".encode()).hexdigest()


@pytest.mark.parametrize(
    "amount, currency, cents",
    [("25.00", "EUR", "2500"), ("25.005", "EUR", "2501"), ("1500", "JPY", "1500"), ("1.5", "KWD", "1500"),
     ("abc", "EUR", ""), ("25.00", "", ""), ("25.00", "XYZ", "")],
)
def test_cents_counts_minor_units_of_the_currency(amount, currency, cents):
    assert _apply(amount, "cents", currency) == cents


@pytest.mark.parametrize(
    "text, message",
    [
        ("shout", "Unknown filter |shout in {m}"),
        ("lower:x", "takes no argument"),
        ("default", "needs the value to use when empty"),
        ("date", "needs a strftime pattern"),
        ("date:%Y-%c", "%c is not supported"),
        ("date:plain", "at least one %-directive"),
        ("default:" + "x" * 201, "longer than 200"),
    ],
)
def test_unknown_filters_and_wrong_arguments_are_named(text, message):
    with pytest.raises(FilterError, match=message):
        filter_parse(text, macro="m")


@settings(max_examples=100)
@given(text=st.text(max_size=30), name=st.sampled_from(sorted(set(FILTERS) - {"default", "date"})))
def test_every_filter_maps_any_text_to_text_and_keeps_empty_empty(text, name):
    assert isinstance(_apply(text, name), str)
    assert _apply("", name) == ""
