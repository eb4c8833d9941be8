"""Delivery log lines carry the delivery's context and never a secret, in either log format."""

import logging

import pytest
from werkzeug import Response

from lib.logs import JsonFormatter, RedactingTextFormatter
from partners.signing import secret_generate
from tests.factories import PartnerFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

PARTNER_TOKEN = "partner-auth-token-7f3e9a"


@pytest.fixture
def signed_endpoints(httpserver):
    secret = secret_generate()
    base = f"http://127.0.0.1:{httpserver.port}"
    acme = PartnerFactory(slug="acme")
    for path in ("/ok", "/down"):
        PostbackEndpointFactory(
            partner=acme, url_template=base + path + "?c={click_id}", signing_secret=secret,
            headers={"Authorization": f"Bearer {PARTNER_TOKEN}", "X-Api-Key": PARTNER_TOKEN},
        )
    httpserver.expect_request("/ok").respond_with_data("OK")
    httpserver.expect_request("/down").respond_with_response(Response("oops", status=502))
    return secret


def _deliver_logged(client, caplog, django_capture_on_commit_callbacks) -> list[logging.LogRecord]:
    caplog.set_level(logging.DEBUG)
    event = {"event_id": "reg-9", "type": "registration", "player_id": "p-9", "partner": "acme", "click_id": "c-9"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/v1/events/", event, format="json").status_code == 201
    return caplog.records


def test_every_attempt_line_carries_event_delivery_endpoint_and_attempt(
    signed_endpoints, platform_client, caplog, django_capture_on_commit_callbacks
):
    records = _deliver_logged(platform_client, caplog, django_capture_on_commit_callbacks)

    lines = sorted((r for r in records if r.name == "deliveries.attempts"), key=lambda r: r.status_code)
    assert [record.getMessage().split(" in ")[0] for record in lines] == [
        "postback delivered: HTTP 200",
        "postback attempt failed, will retry: HTTP 502 (http_5xx)",
    ]
    assert [record.levelname for record in lines] == ["INFO", "WARNING"]
    for record in lines:
        assert (record.event_id, record.attempt, record.partner) == ("reg-9", 1, "acme")
        assert record.delivery_id and record.endpoint_id


def test_no_secret_reaches_the_logs(
    signed_endpoints, platform_client, httpserver, caplog, django_capture_on_commit_callbacks
):
    records = _deliver_logged(platform_client, caplog, django_capture_on_commit_callbacks)

    signatures = [request.headers["webhook-signature"] for request, _ in httpserver.log]
    api_key = platform_client._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    secrets = [signed_endpoints, signed_endpoints.removeprefix("whsec_"), PARTNER_TOKEN, api_key, *signatures]
    assert len(signatures) == 2 and records
    for formatter in (JsonFormatter(), RedactingTextFormatter("%(levelname)s %(name)s %(message)s")):
        text = "\n".join(formatter.format(record) for record in records)
        leaked = [secret for secret in secrets if secret in text or secret.split(",")[-1] in text]
        assert leaked == [], f"{type(formatter).__name__} wrote a secret"
