"""The endpoint editor's server side: the add page's preview of an unsaved form, the test button beside it."""

import pytest

from events.models import EventType
from partners.models import PostbackEndpoint
from tests.factories import PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

ADD_PREVIEW = "/admin/partners/postbackendpoint/add/preview/"


def _type_ids(*slugs: str) -> list[int]:
    return list(EventType.objects.filter(slug__in=slugs).values_list("pk", flat=True))


def test_the_add_page_previews_the_unsaved_form_for_its_partner_and_event_types(manager_client):
    partner = PartnerFactory(slug="acme")
    PayoutRuleFactory(partner=partner, event_type_id=EventType.REGISTRATION, value="12.50", currency="EUR")

    response = manager_client.post(ADD_PREVIEW, {
        "partner": partner.pk, "event_types": _type_ids(EventType.REGISTRATION), "method": "POST",
        "url_template": "https://partner.example/pb?e={event_type}&p={partner}", "body_format": "json",
        "body_template": '{"payout": "{payout}"}', "headers": '{"X-Click": "{click_id}"}', "event_names": "{}",
    })

    body = response.json()
    assert body["method"] == "POST" and body["url"] == "https://partner.example/pb?e=registration&p=acme"
    assert body["body"] == '{"payout":"12.50"}' and body["headers"]["X-Click"] == "sample-click-1"
    assert not PostbackEndpoint.objects.exists()


def test_the_add_page_preview_asks_for_the_partner_first(manager_client):
    response = manager_client.post(ADD_PREVIEW, {"url_template": "https://partner.example/pb", "method": "GET"})

    assert response.status_code == 200
    assert "Choose the partner" in response.json()["errors"]["partner"]


def test_the_add_page_preview_names_the_field_and_the_reason_of_a_bad_template(manager_client):
    response = manager_client.post(ADD_PREVIEW, {
        "partner": PartnerFactory().pk, "method": "GET", "url_template": "https://partner.example/pb?x={nope}",
    })

    assert "Unknown macro {nope}" in response.json()["errors"]["url_template"]


def test_the_change_page_preview_follows_the_unsaved_event_types(manager_client):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb?e={event_type}",
                                       event_types=[EventType.REGISTRATION])

    response = manager_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/preview/", {
        "url_template": endpoint.url_template, "method": "GET", "event_types": ["", *_type_ids(EventType.DEPOSIT)],
    })

    assert response.json()["url"] == "https://partner.example/pb?e=deposit"
    assert list(endpoint.event_types.values_list("slug", flat=True)) == [EventType.REGISTRATION]


def test_marketing_may_not_preview_an_unsaved_endpoint(marketing_client):
    partner = PartnerFactory()

    refused = marketing_client.post(ADD_PREVIEW, {"partner": partner.pk, "url_template": "https://partner.example/"})

    assert refused.status_code == 403


def test_the_add_preview_takes_posts_only(manager_client):
    assert manager_client.get(ADD_PREVIEW).status_code == 403


def test_the_add_page_shows_the_preview_and_a_test_button_that_asks_to_save_first(manager_client):
    page = manager_client.get("/admin/partners/postbackendpoint/add/").content.decode()

    assert f'data-preview-url="{ADD_PREVIEW}"' in page
    assert 'id="send-test-postback" disabled>Save first: the test sends the saved configuration' in page


def test_the_change_page_puts_the_test_button_beside_the_preview(manager_client):
    endpoint = PostbackEndpointFactory()

    page = manager_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/").content.decode()

    preview, button, request_fields = (page.index('id="console-preview"'), page.index('id="send-test-postback"'),
                                       page.index('id="id_event_names"'))
    assert request_fields < preview < button
    assert (f'action="/admin/partners/postbackendpoint/{endpoint.pk}/send-test/" id="console-send-test-form" '
            'class="console-inline-form">') in page
    assert 'form="console-send-test-form"' in page


def test_a_form_shown_again_with_errors_marks_the_test_as_unsaved(manager_client):
    endpoint = PostbackEndpointFactory()

    response = manager_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/", {
        "partner": endpoint.partner_id, "name": endpoint.name, "method": "GET", "url_template": "not a url {nope}",
    })

    assert response.status_code == 200
    assert 'id="console-send-test-form" class="console-inline-form" data-unsaved="true"' in response.content.decode()


def test_the_test_confirmation_says_unsaved_edits_are_not_sent(manager_client):
    endpoint = PostbackEndpointFactory()

    page = manager_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/send-test/").content.decode()

    assert "edits on the endpoint&#x27;s page that were not saved are not in it" in page


def test_the_filters_box_carries_what_its_rows_offer(manager_client):
    page = manager_client.get("/admin/partners/postbackendpoint/add/").content.decode()

    assert 'data-filter-ops="[[&quot;eq&quot;, &quot;is&quot;]' in page and "is_first_deposit" in page


@pytest.mark.parametrize("method, shown", [("GET", False), ("POST", True)])
def test_marketing_sees_body_fields_only_for_methods_with_a_body(marketing_client, method, shown):
    endpoint = PostbackEndpointFactory(method=method, body_template='{"c": "{click_id}"}')

    page = marketing_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/").content.decode()

    assert ("field-body_template" in page) is shown
    assert 'id="console-test-postbacks"' in page and 'id="send-test-postback"' not in page


def test_the_add_page_preview_without_event_types_renders_a_sample_deposit(manager_client):
    response = manager_client.post(ADD_PREVIEW, {
        "partner": PartnerFactory().pk, "method": "GET", "url_template": "https://partner.example/pb?e={event_type}",
    })

    assert response.json()["url"] == "https://partner.example/pb?e=deposit"
