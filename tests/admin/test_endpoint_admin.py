import ipaddress
from datetime import timedelta

import pytest
from django.utils import timezone

from deliveries.models import Delivery
from events.models import EventType
from partners.models import PostbackEndpoint
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="  # 36 bytes once decoded


@pytest.fixture
def loopback_partners(settings):
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]


def _form(endpoint: PostbackEndpoint, **changes) -> dict:
    data = {
        "partner": endpoint.partner_id,
        "name": endpoint.name,
        "event_types": list(endpoint.event_types.values_list("pk", flat=True)) if endpoint.pk else [],
        "method": endpoint.method,
        "url_template": endpoint.url_template,
        "body_format": endpoint.body_format,
        "body_template": endpoint.body_template,
        "headers": "{}",
        "filters": "[]",
        "timeout_seconds": "5",
        "max_attempts": "10",
        "circuit_failure_threshold": "50",
        "hold_hours": "0",
        "ordered_per_player": "on" if endpoint.ordered_per_player else "",
        "is_active": "on" if endpoint.is_active else "",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value != ""}


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_endpoint_page_previews_the_request_for_its_latest_event(admin_client):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb?click={click_id}&e={event_type}")
    DeliveryFactory(endpoint=endpoint, event=EventFactory(event_id="evt-seen", click_id="clk-77"))

    page = admin_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/").content.decode()

    assert "https://partner.example/pb?click=clk-77&amp;e=registration" in page
    assert "its latest event, evt-seen" in page


def test_live_preview_renders_unsaved_templates_without_saving_them(admin_client):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb")

    response = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/preview/",
        {"url_template": "https://partner.example/new?p={player_id}", "method": "GET", "headers": '{"X-Src": "{partner}"}'},
    )

    body = response.json()
    assert body["url"] == "https://partner.example/new?p=sample-player-1"
    assert body["headers"]["X-Src"] == endpoint.partner.slug
    endpoint.refresh_from_db()
    assert endpoint.url_template == "https://partner.example/pb"


def test_live_preview_names_the_field_and_the_reason_of_a_bad_template(admin_client):
    endpoint = PostbackEndpointFactory()

    response = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/preview/",
        {"url_template": "https://partner.example/pb?x={nope}", "headers": "{not json"},
    )

    errors = response.json()["errors"]
    assert list(errors) == ["headers"] and "not valid JSON" in errors["headers"]
    response = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/preview/", {"url_template": "https://partner.example/pb?x={nope}"}
    )
    assert "Unknown macro {nope}" in response.json()["errors"]["url_template"]


def test_send_test_postback_reaches_the_partner_and_shows_its_answer(manager_client, httpserver, loopback_partners):
    httpserver.expect_request("/pb").respond_with_data("OK from partner", status=200)
    endpoint = PostbackEndpointFactory(url_template=httpserver.url_for("/pb") + "?click={click_id}")

    confirm = manager_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/send-test/").content.decode()
    assert "Send a test postback?" in confirm and "never retried" in confirm and not httpserver.log
    response = manager_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/send-test/", {"confirmed": "yes"}, follow=True
    )

    summary = _messages(response)[0]
    assert summary.startswith("Test postback sent: HTTP 200 in ") and "Response: OK from partner" in summary
    request, _ = httpserver.log[0]
    assert request.args["click"] == "sample-click-1"
    page = response.content.decode()
    assert "OK from partner" in page and 'id="console-test-postbacks"' in page
    test_delivery = Delivery.objects.get(endpoint=endpoint)
    assert test_delivery.is_test and test_delivery.event.is_test


def test_marketing_cannot_send_a_test_postback(marketing_client):
    endpoint = PostbackEndpointFactory()

    page = marketing_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/").content.decode()

    assert 'id="send-test-postback"' not in page and "new_signing_secret" not in page
    assert marketing_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/send-test/", {"confirmed": "yes"}
    ).status_code == 403
    assert not Delivery.objects.exists()


def test_a_generated_signing_secret_is_shown_once_and_never_on_the_page(manager_client):
    endpoint = PostbackEndpointFactory()
    url = f"/admin/partners/postbackendpoint/{endpoint.pk}/change/"

    response = manager_client.post(url, _form(endpoint, generate_signing_secret="on", _continue="1"), follow=True)

    endpoint.refresh_from_db()
    assert endpoint.signing_secret.startswith("whsec_")
    assert any(endpoint.signing_secret in message for message in _messages(response))
    page = manager_client.get(url).content.decode()
    assert endpoint.signing_secret not in page and "Set (hidden)." in page


def test_setting_a_new_secret_rotates_the_old_one(manager_client):
    endpoint = PostbackEndpointFactory(signing_secret="whsec_" + "b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQ=")
    old = endpoint.signing_secret
    url = f"/admin/partners/postbackendpoint/{endpoint.pk}/change/"

    response = manager_client.post(url, _form(endpoint, new_signing_secret=SECRET, _continue="1"), follow=True)

    endpoint.refresh_from_db()
    assert (endpoint.signing_secret, endpoint.previous_signing_secret) == (SECRET, old)
    assert any("previous one keeps signing" in message for message in _messages(response))
    page = response.content.decode()
    assert SECRET not in page and old not in page


def test_a_malformed_secret_is_refused_with_the_reason(manager_client):
    endpoint = PostbackEndpointFactory()
    url = f"/admin/partners/postbackendpoint/{endpoint.pk}/change/"

    response = manager_client.post(url, _form(endpoint, new_signing_secret="hunter2"))

    assert response.status_code == 200
    assert "starts with whsec_" in response.content.decode()
    assert "hunter2" not in response.content.decode()


def test_saving_an_endpoint_as_inactive_pauses_it_with_a_reason(manager_client):
    endpoint = PostbackEndpointFactory()

    manager_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/", _form(endpoint, is_active=""))

    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.paused_at is not None and endpoint.pause_reason


def test_pause_and_resume_endpoint_actions_report_what_they_did(manager_client):
    running = PostbackEndpointFactory(name="Main")
    held = PostbackEndpointFactory(name="Spare", is_active=False)
    data = {"_selected_action": [running.pk, held.pk], "confirmed": "yes"}

    paused = manager_client.post("/admin/partners/postbackendpoint/", {**data, "action": "pause"}, follow=True)
    assert _messages(paused) == [
        f"Paused 1 endpoint(s): {running}; their deliveries are held, not dropped.",
        "1 already paused, left as they were.",
    ]
    resumed = manager_client.post("/admin/partners/postbackendpoint/", {**data, "action": "resume"}, follow=True)

    assert "Resumed 2 endpoint(s)" in _messages(resumed)[0]
    assert PostbackEndpoint.objects.filter(is_active=True).count() == 2


def test_pausing_endpoints_first_says_what_it_holds_then_records_who_paused(manager_client):
    endpoint = PostbackEndpointFactory(name="Main", partner=PartnerFactory(name="Acme"))
    DeliveryFactory.create_batch(3, endpoint=endpoint, partner=endpoint.partner)
    DeliveryFactory(endpoint=endpoint, partner=endpoint.partner, status=Delivery.Status.DELIVERED)
    data = {"_selected_action": [endpoint.pk], "action": "pause"}

    page = manager_client.post("/admin/partners/postbackendpoint/", data).content.decode()
    assert "Pause 1 endpoint?" in page and "(3 pending or retrying now, and every new one) are held" in page
    endpoint.refresh_from_db()
    assert endpoint.is_active
    manager_client.post("/admin/partners/postbackendpoint/", {**data, "confirmed": "yes"})

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    history = manager_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/history/").content.decode()
    assert "Paused from the endpoints list" in history and "affiliate-managers" in history


def test_pause_and_resume_partner_actions_report_what_they_did(manager_client):
    acme, other = PartnerFactory(name="Acme"), PartnerFactory(name="Other", is_active=False)

    response = manager_client.post(
        "/admin/partners/partner/", {"action": "pause", "_selected_action": [acme.pk, other.pk], "confirmed": "yes"},
        follow=True,
    )

    assert _messages(response) == [
        "Paused 1 partner(s): Acme; their deliveries are held, not dropped.",
        "1 already paused, left as they were.",
    ]
    acme.refresh_from_db()
    assert not acme.is_active


def test_new_endpoint_from_the_admin_with_macros(manager_client):
    partner = PartnerFactory()
    template = "https://partner.example/c?id={click_id}&amt={amount}"
    blank = PostbackEndpoint(partner=partner, name="Conversions", url_template=template)

    response = manager_client.post("/admin/partners/postbackendpoint/add/", _form(blank, event_types=[EventType.objects.get(slug="deposit").pk]))

    assert response.status_code == 302, response.content.decode()[:2000]
    created = PostbackEndpoint.objects.get(name="Conversions")
    assert list(created.event_types.values_list("slug", flat=True)) == ["deposit"]


def test_an_unknown_macro_is_refused_when_saving(manager_client):
    partner = PartnerFactory()
    blank = PostbackEndpoint(partner=partner, name="Bad", url_template="https://partner.example/c?id={clickid}")

    response = manager_client.post("/admin/partners/postbackendpoint/add/", _form(blank, event_types=[EventType.objects.get(slug="deposit").pk]))

    assert response.status_code == 200
    assert "Unknown macro {clickid}" in response.content.decode()


def test_live_preview_of_an_oversized_integer_names_the_field(admin_client):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb", method="POST")

    response = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/preview/",
        {"method": "POST", "body_format": "json", "body_template": '{"a": ' + "9" * 4301 + "}"},
    )

    assert response.status_code == 200 and "beyond ±2^53" in response.json()["errors"]["body_template"]


def test_event_names_are_edited_in_the_endpoint_form(admin_client):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb?s={event_name}")

    response = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/change/",
        _form(endpoint, event_names='{"registration": "lead"}'),
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.event_names == {"registration": "lead"}


def test_an_emptied_event_names_field_means_no_mapping(admin_client):
    endpoint = PostbackEndpointFactory(event_names={"registration": "lead"})

    response = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/change/", _form(endpoint) | {"event_names": ""}
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.event_names == {}


def test_the_endpoint_list_shows_an_open_circuit_with_since_when_and_the_next_probe(manager_client):
    now = timezone.now()
    PostbackEndpointFactory(name="Flaky tracker", circuit_opened_at=now, circuit_next_probe_at=now + timedelta(seconds=30))
    PostbackEndpointFactory(name="Healthy tracker")

    page = manager_client.get("/admin/partners/postbackendpoint/").content.decode()

    assert "Open</strong> since" in page and "next probe" in page
    assert page.count(">Closed<") == 1


def test_a_hold_period_is_set_by_ticking_the_held_types(admin_client):
    endpoint = PostbackEndpointFactory(event_types=[EventType.REGISTRATION, EventType.FIRST_DEPOSIT])
    page = admin_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/").content.decode()

    response = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/change/",
        _form(endpoint, hold_hours="72", hold_event_types=[EventType.FIRST_DEPOSIT]),
    )

    assert "Hold period" in page and 'value="first_deposit"' in page
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.hold_hours, endpoint.hold_event_types) == (72, [EventType.FIRST_DEPOSIT])


def test_holding_a_type_the_endpoint_does_not_receive_is_refused_on_the_form(admin_client):
    endpoint = PostbackEndpointFactory(event_types=[EventType.REGISTRATION])

    response = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/change/",
        _form(endpoint, hold_hours="72", hold_event_types=[EventType.WITHDRAWAL]),
    )

    assert response.status_code == 200
    assert "withdrawal is not among the event types this endpoint receives" in response.content.decode()


@pytest.mark.parametrize(
    "body_template, reason",
    [('{"a": ' + "9" * 4301 + "}", "beyond ±2^53"), ('{"a": NaN}', "NaN is not a JSON number"),
     ('{"a": 1e999}', "out of range"), ('{"{click_id}": "x"}', "a macro cannot be a JSON key")],
)
def test_marketing_sees_why_a_stored_body_cannot_be_sent_instead_of_an_error_page(marketing_client, body_template,
                                                                                   reason):
    # given: saved before these bodies were refused at save
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb", method="POST",
                                       body_template=body_template)

    page = marketing_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
    preview = marketing_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/preview/", {})

    assert page.status_code == 200 and reason in page.content.decode()
    assert preview.status_code == 200 and reason in preview.json()["errors"]["body_template"]
