import ipaddress

import pytest
from django.core.exceptions import ValidationError

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
        ("https://p.example/pb?c={click_id", "brace is not part of a macro"),
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
