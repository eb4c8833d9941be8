import ipaddress

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from partners.validation import endpoint_config_errors, signing_secret_error, url_template_error
from tests.factories import PostbackEndpointFactory


@pytest.mark.parametrize(
    "template, reason",
    [
        ("", "Enter the partner's postback URL"),
        ("ftp://p.example/pb", "must start with http:// or https://, not ftp"),
        ("p.example/pb?c={click_id}", "must start with http:// or https://"),
        ("https:///pb", "has no host name"),
        ("https://p.example/pb?c={clickid}", "Unknown macro {clickid}"),
        ("https://p.example/pb?c={click_id", "is not a macro"),
        ("https://{params.host}/pb", "not in the host name"),
        ("https://p.example:99999/pb", "port"),
        ("https://user:pw@p.example/pb", "Credentials in the URL"),
        ("https://p.example/p b", "spaces"),
        ("http://127.0.0.1/pb", "loopback"),
        ("http://10.1.2.3/pb", "private"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://[::1]:8080/pb", "loopback"),
        ("http://[fec0::1]/pb", "site-local"),
        ("http://[64:ff9b::a9fe:a9fe]/pb", "stands for 169.254.169.254"),
        ("http://[2002:a00:1::1]/pb", "6to4"),
        ("http://198.51.100.7/pb", "documentation"),
    ],
)
def test_bad_url_templates_are_refused_with_the_reason(template, reason):
    assert reason in url_template_error(template)


def test_good_url_template_passes():
    assert url_template_error("https://p.example/pb?c={click_id}&p={payout}&s={params.sub1}&t={timestamp}") is None


@pytest.mark.parametrize("host", ["203.0.114.9", "[2001:4860:4860::8888]", "[64:ff9b::808:808]"])
def test_a_global_literal_address_passes(host):
    assert url_template_error(f"http://{host}/pb") is None


def test_allowed_networks_admit_a_private_literal(settings):
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]

    assert url_template_error("http://10.1.2.3/pb") is None


def _errors(**overrides):
    config = {
        "url_template": "https://p.example/pb", "method": "POST", "body_format": "json",
        "body_template": "", "headers": {}, "filters": [],
    } | overrides
    return endpoint_config_errors(**config)


def test_body_on_get_is_refused():
    assert "GET requests have no body" in _errors(method="GET", body_template="a=b")["body_template"]


def test_json_body_must_be_json_with_macros_inside_strings():
    assert "not valid JSON" in _errors(body_template='{"amount": {amount}}')["body_template"]
    assert _errors(body_template='{"amount": "{amount}", "n": [1, 2]}') == {}


def test_form_body_with_unknown_macro_is_refused():
    errors = _errors(body_format="form", body_template="c={click}")

    assert "Unknown macro {click}" in errors["body_template"]


@pytest.mark.parametrize(
    "headers, reason",
    [
        (["X-A"], "must be an object"),
        ({"Bad Name": "v"}, "not a valid HTTP header name"),
        ({"webhook-signature": "v"}, "set by the platform"),
        ({"Accept-Encoding": "gzip"}, "set by the platform"),
        ({"X-A": 1}, "must be text"),
        ({"X-A": "a\r\nb"}, "line breaks"),
        ({"X-A": "{nope}"}, "Unknown macro {nope}"),
    ],
)
def test_bad_headers_are_refused(headers, reason):
    assert reason in _errors(headers=headers)["headers"]


def test_bad_filters_are_refused_with_the_filter_reason():
    assert "unknown field" in _errors(filters=[{"field": "colour", "op": "eq", "value": "x"}])["filters"]


@pytest.mark.django_db
def test_model_clean_refuses_the_same_things_the_api_does():
    endpoint = PostbackEndpointFactory(url_template="https://p.example/pb")
    endpoint.url_template = "https://p.example/pb?c={nope}"

    with pytest.raises(ValidationError) as caught:
        endpoint.full_clean()

    assert "Unknown macro {nope}" in caught.value.message_dict["url_template"][0]


@pytest.mark.parametrize(
    "secret, ok",
    [
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", True),
        ("plain-secret", False),
        ("whsec_not*base64", False),
        ("whsec_c2hvcnQ=", False),
    ],
)
def test_signing_secret_format(secret, ok):
    assert (signing_secret_error(secret) is None) is ok


@pytest.mark.parametrize(
    "overrides, field, reason",
    [
        ({"url_template": "https://p.example/pb?e={params.email|md5}"}, "url_template", "Unknown filter |md5"),
        ({"url_template": "https://p.example/pb?t={occurred_at|date}"}, "url_template", "|date in {occurred_at} needs"),
        ({"headers": {"X-A": "{click_id|upper:x}"}}, "headers", "takes no argument"),
        ({"headers": {"X-A": "Bearer ü"}}, "headers", "printable ASCII"),
        ({"body_format": "form", "body_template": "v={amount|number}"}, "body_template", "means nothing in a form"),
        ({"body_template": '{"a": NaN}'}, "body_template", "NaN is not a JSON number"),
        ({"body_template": '{"a": 1e999}'}, "body_template", "out of range"),
        ({"body_template": '{"a": ' + "1" * 4301 + "}"}, "body_template", "beyond ±2^53"),
        ({"body_template": '{"{click_id}": 1}'}, "body_template", "a macro cannot be a JSON key"),
        ({"body_template": '{"e": "{sha256:params.email}"}'}, "body_template", "is not a macro"),
        ({"event_names": ["lead"]}, "event_names", "must be an object"),
        ({"event_names": {"registration": "x" * 201}}, "event_names", "at most 200 characters"),
        ({"event_names": {"no such type!": "x"}}, "event_names", "is not an event type"),
        ({"event_names": {"registration": "a\nb"}}, "event_names", "line breaks"),
    ],
)
def test_misused_macros_filters_and_names_are_refused_naming_them(overrides, field, reason):
    assert reason in _errors(**overrides)[field]


def test_filters_typed_json_and_event_names_that_fit_are_accepted():
    errors = _errors(
        url_template="https://p.example/pb?c={click_id|default:organic}&s={params.s|omit}&t={occurred_at|date:%Y%m%d}",
        body_template='{"v": "{amount|number}", "fd": "{is_first_deposit|bool}", "u": {"em": ["{params.em|sha256}"]}}',
        headers={"X-Sub": "{params.sub1|omit}"},
        event_names={"registration": "lead", "first_deposit": "sale"},
    )

    assert errors == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)
template_texts = st.text(max_size=60) | st.builds(
    "".join, st.lists(st.sampled_from(["https://", "p.example", "/", "?a=", "{click_id}", "{params.x|default:y}",
                                       "{amount|number}", "{", "}", "|omit", ":", "[::1]", "%", " ", "#"]), max_size=10)
)


@settings(max_examples=300, deadline=None)
@given(
    url=template_texts, method=st.sampled_from(["GET", "POST", "PUT", ""]), body_format=st.sampled_from(["json", "form", "x"]),
    body=template_texts, headers=json_values, filters=json_values, event_names=json_values,
)
def test_any_configuration_is_saved_or_refused_with_reasons_never_an_exception(
    url, method, body_format, body, headers, filters, event_names
):
    errors = endpoint_config_errors(url_template=url, method=method, body_format=body_format, body_template=body,
                                    headers=headers, filters=filters, event_names=event_names)

    assert all(isinstance(reason, str) and reason for reason in errors.values())
