"""Event validation holds for any body hypothesis can think of.

It never raises; it either accepts an event whose content can be stored (no
NUL, no lone surrogate, bounded sizes) and hashes the same every time, or
names only real fields with a reason each. Template rendering has its own
properties in tests/deliveries/test_templating.py.
"""

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.validation import EVENT_BODY, MAX_PARAMS, Catalog, EventInput, validate_event

CATALOG = Catalog(
    amount_required={"registration": False, "deposit": True, "first_deposit": True, "withdrawal": True},
    partners={"acme": object()},
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=80))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
field_values = {
    "event_id": st.one_of(st.text(max_size=140), scalars),
    "type": st.one_of(st.sampled_from(["registration", "deposit", "first_deposit", "withdrawal", "nope"]), scalars),
    "player_id": st.one_of(st.text(max_size=140), scalars),
    "occurred_at": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat), st.text(max_size=40), scalars
    ),
    "partner": st.one_of(st.just("acme"), st.text(max_size=70), scalars),
    "click_id": st.one_of(st.text(max_size=300), scalars),
    "amount": st.one_of(st.decimals(allow_nan=True).map(str), st.floats(), st.text(max_size=30), scalars),
    "currency": st.one_of(st.sampled_from(["EUR", "JPY", "KWD", "eur", "XXX", ""]), scalars),
    "params": st.one_of(st.dictionaries(st.text(max_size=70), json_values, max_size=60), json_values),
}
bodies = st.fixed_dictionaries({}, optional=field_values) | st.dictionaries(st.text(max_size=10), json_values, max_size=4)


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_validation_accepts_only_storable_events_and_names_only_real_fields(body):
    result = validate_event(body, CATALOG)

    if isinstance(result, EventInput):
        canonical = json.dumps(result.canonical(), ensure_ascii=False)
        assert _storable(canonical)
        assert result.event_id and result.player_id and len(result.params) <= MAX_PARAMS
        assert result.content_hash == validate_event(body, CATALOG).content_hash
    else:
        assert result and all(messages for messages in result.values())
        assert set(result) <= set(EVENT_BODY.fields) | set(body) | {"non_field_errors"}


# Visible text: no control, surrogate or unassigned code points, nor invisible format characters (refused in ids).
plain_text = st.text(st.characters(blacklist_categories=["Cc", "Cs", "Cf", "Cn"]), min_size=1, max_size=100).filter(
    lambda text: text.strip() == text != ""
)
hostile_text = st.text(min_size=1, max_size=100)
param_names = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)


def _registration(texts):
    return st.fixed_dictionaries(
        {"event_id": texts, "type": st.just("registration"), "player_id": texts},
        optional={"click_id": texts, "params": st.dictionaries(param_names, texts, max_size=5)},
    )


@settings(max_examples=200, deadline=None)
@given(_registration(plain_text))
def test_printable_text_in_every_field_is_accepted(body):
    assert isinstance(validate_event(body, CATALOG), EventInput)


@settings(max_examples=300, deadline=None)
@given(_registration(hostile_text))
def test_any_text_is_either_accepted_storable_or_refused_on_its_field(body):
    result = validate_event(body, CATALOG)

    if isinstance(result, EventInput):
        assert _storable(json.dumps(result.canonical(), ensure_ascii=False))
    else:
        assert set(result) <= {"event_id", "player_id", "click_id", "params"}
