import unicodedata
from decimal import Decimal

import pytest

from ingest.validation import MAX_PARAMS, Catalog, EventInput, validate_event

CATALOG = Catalog(
    amount_required={"registration": False, "deposit": True, "game_activity": False, "vip_upgrade": False},
    partners={"acme": object()},
)


def valid(**overrides) -> EventInput:
    body = {"event_id": "e-1", "type": "deposit", "player_id": "p-1", "amount": "25.00", "currency": "EUR", **overrides}
    outcome = validate_event(body, CATALOG)
    assert isinstance(outcome, EventInput), outcome
    return outcome


def errors_for(**overrides) -> dict:
    body = {"event_id": "e-1", "type": "registration", "player_id": "p-1", **overrides}
    outcome = validate_event(body, CATALOG)
    assert isinstance(outcome, dict), outcome
    return outcome


def test_the_same_content_written_differently_hashes_the_same():
    a = valid(occurred_at="2026-11-23T10:00:00Z", amount="25", params={"a": 1, "b": "x"})
    b = valid(occurred_at="2026-11-23T11:00:00.000+01:00", amount=25.0, params={"b": "x", "a": 1})

    assert a.content_hash == b.content_hash
    assert a.amount == Decimal("25.00")


@pytest.mark.parametrize(
    "change", [{"amount": "25.01"}, {"currency": "USD"}, {"params": {"a": 2}}, {"occurred_at": "2026-11-23T10:00:01Z"}]
)
def test_any_change_of_content_changes_the_hash(change):
    base = {"occurred_at": "2026-11-23T10:00:00Z", "params": {"a": 1}}

    assert valid(**base).content_hash != valid(**{**base, **change}).content_hash


def test_custom_event_types_are_accepted():
    assert valid(type="vip_upgrade").type == "vip_upgrade"


def test_unknown_fields_are_named_with_the_allowed_ones():
    assert errors_for(extra=1) == {"extra": [
        "Unknown field. Event fields are: event_id, type, player_id, occurred_at, partner, click_id, amount, "
        "currency, params."
    ]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-11-23T10:00:00", "Not an RFC 3339 date-time with an offset."),
        ("2026-02-30T10:00:00Z", "Not a valid date-time"),
        (1700000000, "Not an RFC 3339 date-time with an offset."),
    ],
)
def test_occurred_at_must_be_rfc3339_with_an_offset(value, message):
    assert errors_for(occurred_at=value)["occurred_at"][0].startswith(message)


def test_fractions_finer_than_microseconds_are_cut():
    assert valid(occurred_at="2026-11-23T10:00:00.1234567Z").occurred_at.microsecond == 123456


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("0", "EUR", "Must be greater than zero."),
        ("NaN", "EUR", "Must be greater than zero."),
        (True, "EUR", "Must be a decimal number, not a boolean."),
        ("1.001", "EUR", "EUR has 2 decimal places; 1.001 has more."),
        ("1.5", "JPY", "JPY has 0 decimal places; 1.5 has more."),
        ("1" * 15, "EUR", "Too large: at most 14 digits before the decimal point."),
    ],
)
def test_amounts_are_positive_decimals_at_the_currency_precision(amount, currency, message):
    assert errors_for(type="deposit", amount=amount, currency=currency)["amount"][0].startswith(message)


def test_three_decimal_currencies_keep_their_precision():
    assert valid(amount="1.005", currency="KWD").amount == Decimal("1.005")


@pytest.mark.parametrize("currency", ["eur", "EURO", "XXX", 978])
def test_currency_must_be_an_iso_4217_code(currency):
    assert "is not an ISO 4217 currency code" in errors_for(amount="1", currency=currency)["currency"][0]


def test_an_amount_needs_a_currency():
    assert errors_for(amount="5")["currency"] == ["Required with an amount: an ISO 4217 code such as EUR."]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({f"k{n}": n for n in range(MAX_PARAMS + 1)}, f"At most {MAX_PARAMS} params"),
        ({"list": [1]}, "Param 'list' must be a flat value"),
        ({"bad name": 1}, "Param name 'bad name' is not allowed"),
        ({"long": "x" * 513}, "Param 'long' is 513 characters long"),
        ({"nul": "a\x00b"}, "Param 'nul' must not contain NUL characters."),
        (["a"], "Must be an object of name/value pairs, not an array."),
    ],
)
def test_params_are_flat_bounded_and_well_named(params, message):
    assert errors_for(params=params)["params"][0].startswith(message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "Must be a string, not a number."),
        ("x" * 129, "At most 128 characters; this one has 129."),
        ("a\nb", "Must not contain control characters"),
        (" p-1", "Must not start or end with white space."),
    ],
)
def test_ids_are_bounded_plain_strings(value, message):
    assert errors_for(player_id=value)["player_id"][0].startswith(message)


FORMAT_CHARACTERS = [chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf"]


@pytest.mark.parametrize("field", ["event_id", "player_id", "click_id"])
def test_ids_holding_any_invisible_format_character_are_refused(field):
    # Zero-width and bidi characters disguise an id (RLO can show "=1" as anything): refused, naming the field.
    refused = [char for char in FORMAT_CHARACTERS if field in errors_for(**{field: f"ab{char}=1"})]

    assert refused == FORMAT_CHARACTERS
    assert errors_for(**{field: "\u202e=1"})[field] == [
        "Must not contain invisible characters (zero-width spaces, direction marks or overrides …)."
    ]


@pytest.mark.parametrize("click_id", ["\uff1d1+1", "\uff0bcmd", "=1+1", "-abc", "@x"])
def test_visible_click_ids_are_kept_as_sent_for_the_partner_even_when_they_look_like_formulas(click_id):
    # The partner issued it and matches it back; the CSV exports quote what a spreadsheet could run.
    assert valid(click_id=click_id).click_id == click_id


def test_partner_must_be_configured():
    assert valid(partner="acme").partner == "acme"
    assert errors_for(partner="ghost")["partner"][0].startswith("Unknown partner 'ghost'.")


@pytest.mark.parametrize("value", ["1999-12-31T23:59:59Z", "2999-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"])
def test_occurred_at_far_in_the_past_or_future_is_refused(value):
    assert errors_for(occurred_at=value)["occurred_at"][0].startswith(("Must lie between", "Not a valid date-time"))
