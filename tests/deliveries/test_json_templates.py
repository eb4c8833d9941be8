import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partners.json_templates import MAX_JSON_DEPTH, check_json, render_json
from partners.templating import TemplateError

values_text = st.text(max_size=40)


def test_values_are_json_escaped_inside_strings():
    body = render_json('{"click": "{click_id}", "n": 1, "list": ["{currency}"]}', {
        "click_id": 'say "hi"\\\n', "currency": "EUR",
    })

    assert json.loads(body) == {"click": 'say "hi"\\\n', "n": 1, "list": ["EUR"]}


def test_numbers_the_template_writes_are_sent_as_written():
    assert render_json('{"a": 1.10, "b": -0, "c": 2E3, "d": [true, null]}', {}) == '{"a":1.10,"b":-0,"c":2E3,"d":[true,null]}'


def test_a_typed_macro_renders_as_a_json_number_or_boolean():
    template = '{"value": "{amount|number}", "cents": "{amount|cents|number}", "fd": "{is_first_deposit|bool}"}'

    body = render_json(template, {"amount": "25.00", "currency": "EUR", "is_first_deposit": "1"})

    assert body == '{"value":25.00,"cents":2500,"fd":true}'


@pytest.mark.parametrize("value", ["", "abc", "NaN", "Infinity", "1e999999", "1" * 200])
def test_a_typed_number_without_a_finite_number_renders_null(value):
    assert render_json('{"value": "{params.v|number}"}', {"params.v": value}) == '{"value":null}'


@pytest.mark.parametrize("value, expected", [("yes", "true"), ("0", "false"), ("FALSE", "false"), ("", "null"),
                                             ("maybe", "null")])
def test_a_typed_boolean(value, expected):
    assert render_json('{"b": "{params.b|bool}"}', {"params.b": value}) == f'{{"b":{expected}}}'


def test_omit_leaves_out_a_member_or_array_item_when_empty():
    template = '{"user": {"em": ["{params.em|sha256|omit}"], "ph": "{params.ph|omit}"}, "id": "{event_id}"}'

    assert render_json(template, {"event_id": "e1"}) == '{"user":{"em":[]},"id":"e1"}'


def test_nested_objects_and_arrays_are_filled():
    template = '{"events": [{"name": "{event_name}", "params": {"value": "{amount|number}", "c": "{currency}"}}]}'

    body = render_json(template, {"event_name": "purchase", "amount": "9.5", "currency": "EUR"})

    assert json.loads(body) == {"events": [{"name": "purchase", "params": {"value": 9.5, "c": "EUR"}}]}


@pytest.mark.parametrize(
    "template, message",
    [
        ('{"amount": {amount}}', "line 1, column"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ('{"a": 1e999}', "out of range"),
        ('{"a": ' + "9" * 5000 + "}", "beyond ±2^53"),
        ('{"a": 9007199254740992}', "beyond ±2^53"),
        ('{"{click_id}": "x"}', "a macro cannot be a JSON key"),
        ('{"a": 1, "a": 2}', "appears twice"),
        ('{"a": "{sha256:params.email}"}', "is not a macro"),
        ('{"a": "{params.email|md5}"}', "Unknown filter |md5"),
        ('{"a": "x {amount|number}"}', "works only on a macro that is a whole JSON value"),
        ('{"a": "{params.a|omit} {params.b}"}', "works only on a macro that is a whole JSON value"),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "nested more than"),
    ],
)
def test_templates_that_cannot_be_saved_are_refused_saying_why(template, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        check_json(template)


def test_the_largest_safe_integer_is_accepted():
    check_json('{"a": 9007199254740991, "b": -9007199254740991}')


def test_rendering_refuses_a_body_nested_deeper_than_a_saved_one_may_be():
    within = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH

    assert render_json(within, {}) == within
    with pytest.raises(TemplateError, match="nested more than"):
        render_json("[" + within + "]", {})


def test_lone_surrogates_from_client_json_stay_escapes():
    assert json.loads(render_json('{"c": "{click_id}"}', {"click_id": "a\ud800b"})) == {"c": "a\ud800b"}


@settings(max_examples=150)
@given(click=values_text, country=values_text, amount=values_text)
def test_no_value_can_become_a_key_or_change_the_structure(click, country, amount):
    template = '{"click": "{click_id}", "meta": {"country": "{params.country}", "v": "{amount|number}"}, "k": [1]}'

    body = render_json(template, {"click_id": click, "params.country": country, "amount": amount})

    document = json.loads(body)
    assert body.isascii()
    assert set(document) == {"click", "meta", "k"} and set(document["meta"]) == {"country", "v"}
    assert (document["click"], document["meta"]["country"], document["k"]) == (click, country, [1])
    assert document["meta"]["v"] is None or isinstance(document["meta"]["v"], (int, float))


def _strictly_parsed(body: str):
    """The body as a strict reader takes it: no NaN or Infinity, no integer it would round, no key twice."""

    def refuse(text):
        raise AssertionError(f"{text} is not JSON")

    def exact_integer(text):
        assert len(text.lstrip("-")) <= 16 or abs(int(text)) <= 2**53 - 1, f"{text[:20]}… would be rounded"
        return int(text)

    def unique(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"a key appears twice: {keys}"
        return dict(pairs)

    return json.loads(body, parse_constant=refuse, parse_int=exact_integer, object_pairs_hook=unique)


_tokens = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "1e999", "-1E400", "9" * 4301, "-" + "1" * 5000, "9007199254740992", "1.5", "-0",
    "true", "null", '"{click_id}"', '"{amount|number}"', '"{params.x|omit}"', '"x {event_id}"', '"{"',
])
_leaves = _tokens | st.integers().map(str) | st.floats().map(repr) | values_text.map(json.dumps)
_keys = st.sampled_from(['"a"', '"{click_id}"', '"{params.k}"', '"{amount|number}"']) | values_text.map(json.dumps)
json_template_texts = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
        | st.lists(st.tuples(_keys, children), max_size=4).map(
            lambda members: "{" + ",".join(f"{key}: {value}" for key, value in members) + "}"
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(template=json_template_texts, click=values_text, amount=values_text)
def test_a_json_body_is_refused_at_save_or_renders_json_any_reader_takes_exactly(template, click, amount):
    try:
        check_json(template)
    except TemplateError as refusal:
        assert str(refusal)  # says why
        return

    body = render_json(template, {"click_id": click, "amount": amount, "params.x": click, "event_id": amount})

    _strictly_parsed(body)
