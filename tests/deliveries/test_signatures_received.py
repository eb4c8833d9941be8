"""Every signature verifies on the partner's side, over the bytes the partner actually received.

Generated macro values (any Unicode, reserved and unreserved characters,
percent signs, empty values) go through the real sender to a local partner
server; each received request is checked with ``standardwebhooks``' own
verifier and with the verification snippets of docs/receiving.md.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events
from partners.signing import secret_generate
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

RECEIVING = Path(__file__).resolve().parents[2] / "docs" / "receiving.md"
# What an event can hold (ingest refuses NUL and lone surrogates), weighted towards what URLs treat specially.
macro_values = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
    st.text(alphabet="%/?#&=+;:@!$'()*,[]|~-._ \t\"\\<>^`{}é日🙂", max_size=12),
    st.sampled_from(["", "%", "%7e", "%2F", "a+b", "~", "x|y", "é"]),
)
example_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture
def secret():
    return secret_generate()


@pytest.fixture
def receive(httpserver, secret):
    """Send one event's postback to a new endpoint; the request the partner server received, and the one rendered."""
    httpserver.expect_request(re.compile("/.*")).respond_with_data("OK")
    partner = PartnerFactory(slug="acme")

    def receive_for(url_path: str, *, click: str, sub1: str, **endpoint_fields):
        httpserver.clear_log()
        endpoint = PostbackEndpointFactory(
            partner=partner, url_template=f"http://127.0.0.1:{httpserver.port}{url_path}", signing_secret=secret,
            **endpoint_fields,
        )
        event = EventFactory(partner=partner, click_id=click, params={"sub1": sub1})
        (delivery,) = deliveries_create_for_events(events=[event])
        deliveries_send_due(worker="test-worker")
        rendered_url = delivery.attempts.get().request_url
        endpoint.delete()
        ((request, _response),) = httpserver.log
        return request, rendered_url

    return receive_for


def _sent_uri(request) -> str:
    return request.environ.get("REQUEST_URI") or request.environ["RAW_URI"]


def _utf8(value: str) -> str:
    return value.encode("utf-8", "replace").decode()


@example_settings
@given(click=macro_values, sub1=macro_values)
def test_signed_get_postbacks_verify_over_the_query_string_received(receive, secret, click, sub1):
    request, rendered_url = receive(
        "/pb/c-{click_id}/%7e?c={click_id}&s={params.sub1}&h={params.sub1|trim|lower|sha256}&o={params.sub1|omit}"
        "&lit=x|y",
        click=click, sub1=sub1, headers={"X-Sub": "{params.sub1}"},
    )

    query = request.query_string.decode("ascii")
    Webhook(secret).verify(query, dict(request.headers), json_parse=False)
    assert rendered_url.endswith(_sent_uri(request))
    received = parse_qs(query, keep_blank_values=True)
    assert (received["c"], received["s"]) == ([_utf8(click)], [_utf8(sub1)])
    assert ("o" in received) is bool(sub1)


@example_settings
@given(click=macro_values, sub1=macro_values, form=st.booleans())
def test_signed_post_postbacks_verify_over_the_body_received(receive, secret, click, sub1, form):
    body_template = "c={click_id}&s={params.sub1}" if form else '{"c": "{click_id}", "s": ["{params.sub1}"]}'
    request, _ = receive(
        "/pb?c={click_id}", click=click, sub1=sub1, method="POST", body_format="form" if form else "json",
        body_template=body_template,
    )

    body = request.get_data(as_text=True)
    Webhook(secret).verify(body, dict(request.headers), json_parse=False)
    if form:
        assert parse_qs(body, keep_blank_values=True) == {"c": [_utf8(click)], "s": [_utf8(sub1)]}
    else:
        assert json.loads(body) == {"c": click, "s": [sub1]}


def test_the_documented_python_snippet_verifies_a_received_get_and_refuses_a_changed_one(receive, secret):
    request, _ = receive("/pb?c={click_id}&s={params.sub1}", click="a|b c", sub1="日本~%")
    is_genuine = _documented_python(secret)

    query = request.query_string.decode()
    assert is_genuine(dict(request.headers), query)
    assert not is_genuine(dict(request.headers), query + "&x=1")


@pytest.mark.skipif(shutil.which("node") is None, reason="the documented Node.js snippet needs node on PATH")
def test_the_documented_node_snippet_verifies_a_received_post(receive, secret):
    request, _ = receive("/pb", click="é", sub1="x", method="POST", body_template='{"c": "{click_id}"}')
    script = _documented_block("js") + (
        "\nconst [secret, headers, payload] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "\nprocess.stdout.write(String(isGenuine(secret, headers, payload)));"
    )
    headers = {name.lower(): value for name, value in request.headers.items()}

    def node_says(payload: str) -> str:
        given_input = json.dumps([secret, headers, payload])
        return subprocess.run(["node", "-e", script], input=given_input, capture_output=True, text=True,
                              timeout=30, check=True).stdout

    assert node_says(request.get_data(as_text=True)) == "true"
    assert node_says(request.get_data(as_text=True) + " ") == "false"


def _documented_block(language: str) -> str:
    section = RECEIVING.read_text().split("\n## Verifying the signature\n", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", section, re.DOTALL).group(1)


def _documented_python(secret: str):
    namespace: dict = {}
    exec(_documented_block("python").replace('"whsec_..."', repr(secret)), namespace)  # noqa: S102 - the docs' own code
    return namespace["is_genuine"]
