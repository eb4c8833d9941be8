"""Secrets stay secret: API keys, signing secrets and partners' credentials never show up where people look.

One realistic run (keys issued, a partner configured with a signing secret
and an ``Authorization`` header, events ingested and delivered, a test
postback sent) and then every place a secret could leak is read: API
answers, admin pages, CSV exports, attempt records and the log lines as the
production formatter writes them.
"""

import ipaddress
import json
import logging

import pytest
from django.contrib.auth.models import User

from accounts.models import ApiKey
from accounts.services import api_key_create
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import deliveries_send_due
from lib.logs import JsonFormatter, RedactingTextFormatter
from partners.signing import secret_generate
from tests.factories import PartnerFactory

PARTNER_TOKEN = "partner-token-7f3a9c1e5b"


@pytest.fixture
def run(db, httpserver, settings, caplog, client):
    """Everything a day of operation leaves behind, with the secrets it used."""
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/pb").respond_with_data("OK")
    platform, admin = (api_key_create(name=role, role=role) for role in (ApiKey.Role.PLATFORM, ApiKey.Role.ADMIN))
    signing_secret = secret_generate()
    PartnerFactory(slug="acme")
    endpoint = {
        "name": "acme pb", "url_template": f"http://127.0.0.1:{httpserver.port}/pb?click={{click_id}}",
        "method": "GET", "event_types": ["registration", "deposit"], "signing_secret": signing_secret,
        "headers": {"Authorization": f"Bearer {PARTNER_TOKEN}", "X-Campaign": "7"},
    }
    answers = [_api(client, admin.plaintext, "post", "/api/v1/partners/acme/endpoints/", endpoint)]
    endpoint_id = answers[0].json()["id"]
    for n, kind in enumerate(["registration", "deposit"]):
        body = {"event_id": f"e-{n}", "type": kind, "player_id": "p-1", "partner": "acme", "click_id": "c-1",
                "amount": "10.00", "currency": "EUR"}
        answers.append(_api(client, platform.plaintext, "post", "/api/v1/events/", body))
    deliveries_send_due(worker="secrets-test")
    base = f"/api/v1/partners/acme/endpoints/{endpoint_id}/"
    answers += [
        _api(client, admin.plaintext, "post", base + "preview/", {}),
        _api(client, admin.plaintext, "post", base + "test/", {}),
        _api(client, admin.plaintext, "patch", base, {"name": "renamed"}),
        _api(client, admin.plaintext, "post", "/api/v1/events/", {"event_id": "bad"}),
        _api(client, "pbk_00000000_wrong-key-for-the-log", "get", "/api/v1/events/", None),
    ]
    delivery = Delivery.objects.filter(is_test=False).first()
    for path in [base, "/api/v1/partners/acme/endpoints/", "/api/v1/partners/", "/api/v1/deliveries/",
                 f"/api/v1/deliveries/{delivery.pk}/", f"/api/v1/events/{delivery.event_id}/", "/api/v1/stats/",
                 "/api/v1/export/events.csv", "/api/v1/export/deliveries.csv", "/api/v1/export/stats.csv"]:
        answers.append(_api(client, admin.plaintext, "get", path, None))
    assert all(answer.status_code < 500 for answer in answers)
    assert len(httpserver.log) >= 3
    return {
        "secrets": {
            "platform key": platform.plaintext, "admin key": admin.plaintext, "signing secret": signing_secret,
            "signing key": signing_secret.removeprefix("whsec_"), "partner token": PARTNER_TOKEN,
        },
        "answers": answers, "endpoint_id": endpoint_id, "delivery": delivery, "caplog": caplog,
        "received": httpserver.log,
    }


def _api(client, key: str, method: str, path: str, body):
    kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body is not None else {}
    return getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {key}", **kwargs)


def _text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode() + json.dumps(dict(response.headers))


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


def test_the_partner_really_received_its_credentials(run):
    # Otherwise the checks below would pass for the wrong reason.
    request = run["received"][0][0]
    assert request.headers["Authorization"] == f"Bearer {PARTNER_TOKEN}"
    assert request.headers["webhook-signature"].startswith("v1,")


def test_no_api_answer_contains_a_secret(run):
    leaks = {
        answer.wsgi_request.path: _leaks(_text(answer), run["secrets"])
        for answer in run["answers"]
    }

    assert {path: found for path, found in leaks.items() if found} == {}


def test_partner_credential_headers_are_not_shown_back(run, client):
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-only"))
    api = _api(client, run["secrets"]["admin key"], "get", f"/api/v1/partners/acme/endpoints/{run['endpoint_id']}/", None)
    page = client.get(f"/admin/partners/postbackendpoint/{run['endpoint_id']}/change/")

    assert PARTNER_TOKEN not in _text(api)
    assert PARTNER_TOKEN not in _text(page)


def test_no_attempt_record_contains_a_secret(run):
    rows = [*DeliveryAttempt.objects.values(), *Delivery.objects.values()]
    records = [json.dumps(row, default=str) for row in rows]

    assert DeliveryAttempt.objects.count() >= 3
    assert [_leaks(record, run["secrets"]) for record in records if _leaks(record, run["secrets"])] == []


def test_no_log_line_contains_a_secret(run):
    records = run["caplog"].get_records("setup")
    lines = [formatter.format(record) for record in records for formatter in (JsonFormatter(), RedactingTextFormatter())]

    assert records, "the run logged nothing, so this test would prove nothing"
    assert [line for line in lines if _leaks(line, run["secrets"])] == []


def test_no_admin_page_or_admin_export_contains_a_secret(run, client):
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-only"))
    delivery = run["delivery"]
    attempt = delivery.attempts.first()
    pages = [
        f"/admin/partners/postbackendpoint/{run['endpoint_id']}/change/", "/admin/partners/postbackendpoint/",
        "/admin/partners/partner/", f"/admin/deliveries/delivery/{delivery.pk}/change/",
        "/admin/deliveries/delivery/", f"/admin/events/event/{delivery.event_id}/change/", "/admin/events/event/",
        "/admin/accounts/apikey/", f"/admin/accounts/apikey/{ApiKey.objects.first().pk}/change/",
        "/admin/deliveries/delivery/export.csv", "/admin/events/event/export.csv", "/admin/dashboard/",
        "/admin/reporting/statistics/", f"/admin/deliveries/delivery/{attempt.delivery_id}/change/",
    ]
    leaks = {}
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        leaks[page] = _leaks(_text(response), run["secrets"])

    assert {page: found for page, found in leaks.items() if found} == {}


def test_api_keys_are_stored_only_as_digests(run):
    stored = json.dumps(list(ApiKey.objects.values()), default=str)

    assert _leaks(stored, {k: v for k, v in run["secrets"].items() if k.endswith("key")}) == []
