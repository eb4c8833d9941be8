import json
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deliveries import templating

values_text = st.text(max_size=40)


def test_url_values_are_percent_encoded_including_separators():
    url = templating.render_url("https://p.example/pb?c={click_id}&s={params.sub1}", {
        "click_id": "a&b=c#d?e/f g", "params.sub1": "ü",
    })

    assert url == "https://p.example/pb?c=a%26b%3Dc%23d%3Fe%2Ff%20g&s=%C3%BC"


def test_missing_values_render_empty():
    assert templating.render_url("https://p.example/?c={click_id}&x={params.nope}", {}) == "https://p.example/?c=&x="


def test_json_body_escapes_quotes_and_backslashes():
    body = templating.render_json('{"click": "{click_id}", "n": 1, "list": ["{currency}"]}', {
        "click_id": 'say "hi"\\\n', "currency": "EUR",
    })

    assert json.loads(body) == {"click": 'say "hi"\\\n', "n": 1, "list": ["EUR"]}


def test_form_body_is_form_encoded():
    body = templating.render_form("click={click_id}&amount={amount}", {"click_id": "a b&c=d", "amount": "10.00"})

    assert parse_qsl(body) == [("click", "a b&c=d"), ("amount", "10.00")]
    assert body == "click=a+b%26c%3Dd&amount=10.00"


def test_header_values_lose_line_breaks():
    assert templating.render_header("Bearer {click_id}", {"click_id": "x\r\nX-Evil: 1"}) == "Bearer xX-Evil: 1"


def test_unknown_macros_are_reported_and_json_braces_are_not_macros():
    assert templating.unknown_macros('{"a": "{click_id}", "b": "{clickid}", "c": "{params.sub1}"}') == ["clickid"]


def test_json_template_that_is_not_json_says_where():
    with pytest.raises(templating.TemplateError, match="line 1, column"):
        templating.render_json('{"amount": {amount}}', {})


@given(click=values_text, sub=values_text)
def test_no_value_can_add_or_change_query_parameters(click, sub):
    url = templating.render_url("https://p.example/pb?click={click_id}&sub={params.sub1}#frag", {
        "click_id": click, "params.sub1": sub,
    })

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "p.example", "/pb", "frag")
    assert parse_qs(parts.query, keep_blank_values=True) == {
        key: [value] for key, value in (("click", click), ("sub", sub))
    }


@given(click=values_text, country=values_text)
def test_no_value_can_break_the_json_body(click, country):
    body = templating.render_json('{"click": "{click_id}", "meta": {"country": "{params.country}"}}', {
        "click_id": click, "params.country": country,
    })

    assert json.loads(body) == {"click": click, "meta": {"country": country}}


@given(click=values_text)
def test_no_value_can_add_a_form_field(click):
    body = templating.render_form("click={click_id}&kind=sale", {"click_id": click})

    assert parse_qsl(body, keep_blank_values=True) == [("click", click), ("kind", "sale")]


@given(value=st.text(max_size=40))
def test_no_value_can_start_a_new_header_line(value):
    rendered = templating.render_header("token {click_id}", {"click_id": value})

    assert "\r" not in rendered and "\n" not in rendered


def test_lone_surrogates_from_client_json_cannot_break_rendering():
    values = {"click_id": "a\ud800b"}

    assert templating.render_url("https://p.example/?c={click_id}", values) == "https://p.example/?c=a%3Fb"
    assert json.loads(templating.render_json('{"c": "{click_id}"}', values)) == {"c": "a\ud800b"}


def test_rendering_refuses_a_body_nested_deeper_than_a_saved_one_may_be():
    within = "[" * templating.MAX_JSON_DEPTH + "]" * templating.MAX_JSON_DEPTH
    beyond = "[" + within + "]"

    assert templating.render_json(within, {}) == within
    with pytest.raises(templating.TemplateError, match="nested more than"):
        templating.render_json(beyond, {})
