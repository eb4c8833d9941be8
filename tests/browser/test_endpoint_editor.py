"""The endpoint editor in a real browser: preview and test beside the templates, on the add page too; stale
previews cleared; headers and filters as rows; body fields by method. Any JavaScript error fails a test."""

import json

import pytest

from accounts.roles import AFFILIATE_MANAGERS
from events.models import EventType
from partners.models import PostbackEndpoint
from tests.factories import PartnerFactory, PostbackEndpointFactory

from .conftest import log_in, messages, navigate, screenshot, staff_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNSAVED = "Save first: the test sends the saved configuration"
PREVIEW = "#console-preview"


@pytest.fixture
def js_errors(page):
    """Every console error and uncaught exception on the pages visited, with the address it came from."""
    errors = []

    def kept(message):
        if message.type == "error":
            errors.append((message.location.get("url", ""), message.text))

    page.on("console", kept)
    page.on("pageerror", lambda error: errors.append((page.url, str(error))))
    return errors


@pytest.fixture
def manager(page, js_errors):
    staff_member("manager", AFFILIATE_MANAGERS)
    log_in(page, "manager")
    return page


def _state(page) -> str:
    return page.locator(PREVIEW).get_attribute("data-state")


def _wait_for_state(page, state: str) -> None:
    page.wait_for_function(f"document.querySelector('{PREVIEW}').dataset.state === '{state}'")


def test_the_add_page_previews_the_unsaved_form_and_asks_to_save_before_testing(manager, js_errors):
    partner = PartnerFactory(name="Acme Ads", slug="acme")

    manager.goto(f"/admin/partners/postbackendpoint/add/?partner={partner.pk}")
    manager.fill("#id_name", "Acme conversions")
    manager.select_option("#id_event_types_from", label="registration")
    manager.click("#id_event_types_add")
    manager.fill("#id_url_template", "https://partner.example/pb?c={click_id}&e={event_type}&p={partner}")
    _wait_for_state(manager, "current")

    assert manager.locator(f"{PREVIEW} [data-part=url]").inner_text() == (
        "https://partner.example/pb?c=sample-click-1&e=registration&p=acme")
    button = manager.locator("#send-test-postback")
    assert button.is_disabled() and button.inner_text() == UNSAVED
    # Preview and test come right after the request's fields, in one fieldset.
    fieldset = manager.locator("fieldset:has(#console-preview)")
    assert fieldset.locator("h2").inner_text() == "Preview and test"
    assert fieldset.locator("#send-test-postback").count() == 1
    screenshot(manager, "endpoint-editor-01-add-preview")

    navigate(manager, "input[name=_continue]")
    assert "was added successfully" in messages(manager)[0]
    assert manager.locator("#send-test-postback").is_enabled()
    assert manager.locator("#send-test-postback").inner_text() == "Send test postback"
    assert js_errors == []


def test_unsaved_edits_hold_the_test_back_until_they_are_saved(manager, js_errors):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb?c={click_id}")
    manager.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
    button = manager.locator("#send-test-postback")
    assert button.is_enabled()

    manager.fill("#id_url_template", "https://partner.example/new?c={click_id}")
    assert button.is_disabled() and button.inner_text() == UNSAVED
    assert "unsaved edits" in manager.locator("#console-test-note").inner_text()
    screenshot(manager, "endpoint-editor-02-unsaved-test")

    manager.fill("#id_url_template", "https://partner.example/pb?c={click_id}")
    manager.wait_for_function("!document.getElementById('send-test-postback').disabled")

    manager.select_option("#id_event_types_to", label="deposit")
    manager.click("#id_event_types_remove")
    manager.wait_for_function("document.getElementById('send-test-postback').disabled")

    navigate(manager, "input[name=_continue]")
    assert button.is_enabled()
    navigate(manager, "#send-test-postback")
    assert "not saved are not in it" in manager.locator("#console-confirmation").inner_text()
    assert js_errors == []


def test_an_invalid_template_replaces_the_preview_with_its_errors(manager, js_errors):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb?c={click_id}")
    manager.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
    _wait_for_state(manager, "current")
    request = manager.locator(f"{PREVIEW} .console-preview-request")
    assert request.is_visible()

    manager.fill("#id_url_template", "https://partner.example/pb?c={nope}")
    _wait_for_state(manager, "invalid")

    assert not request.is_visible()
    assert "Unknown macro {nope}" in manager.locator(f"{PREVIEW} .console-preview-errors").inner_text()
    screenshot(manager, "endpoint-editor-03-invalid-preview")

    manager.fill("#id_url_template", "https://partner.example/pb?p={player_id}")
    _wait_for_state(manager, "current")
    assert not manager.locator(f"{PREVIEW} .console-preview-errors").is_visible()
    assert "p=sample-player-1" in request.inner_text()
    assert js_errors == []


def test_a_preview_that_cannot_be_fetched_is_marked_out_of_date_then_cleared(manager, js_errors):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb?c={click_id}")
    manager.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
    _wait_for_state(manager, "current")
    held = []
    manager.route("**/preview/", lambda route: held.append(route))

    manager.fill("#id_url_template", "https://partner.example/pb?p={player_id}")
    for _ in range(50):
        if held:
            break
        manager.wait_for_timeout(100)

    # given: the request is on its way, so what shows is the old preview
    assert held and _state(manager) == "loading"
    assert "out of date" in manager.locator(f"{PREVIEW} [data-part=status]").inner_text()
    screenshot(manager, "endpoint-editor-04-preview-loading")
    held[0].fulfill(status=500, body="Server Error")
    _wait_for_state(manager, "failed")

    assert not manager.locator(f"{PREVIEW} .console-preview-request").is_visible()
    assert "could not be updated (HTTP 500)" in manager.locator(f"{PREVIEW} .console-preview-errors").inner_text()
    screenshot(manager, "endpoint-editor-05-preview-failed")
    # The browser reports the refused request itself; nothing else may have gone wrong.
    assert [text for url, text in js_errors if not (url.endswith("/preview/") and "500" in text)] == []


def test_headers_and_filters_are_edited_as_rows_and_credentials_stay_hidden(manager, js_errors):
    endpoint = PostbackEndpointFactory(
        url_template="https://partner.example/pb", headers={"Authorization": "Bearer sk-live-123", "X-Click": "{click_id}"},
        filters=[{"field": "params.country", "op": "in", "value": ["DE", "AT"]}],
    )
    manager.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
    headers, filters = manager.locator("#console-rows-headers"), manager.locator("#console-rows-filters")

    assert not manager.locator("#id_headers").is_visible() and not manager.locator("#id_filters").is_visible()
    assert "sk-live-123" not in manager.content()
    assert headers.locator("tbody tr").count() == 2
    assert filters.locator("tbody tr input").nth(1).input_value() == "DE, AT"

    names = [row.locator("input").nth(0).input_value() for row in headers.locator("tbody tr").all()]
    assert sorted(names) == ["Authorization", "X-Click"]
    assert headers.locator("tbody tr").nth(names.index("Authorization")).locator("input").nth(1).input_value() == (
        "********")
    headers.locator("tbody tr").nth(names.index("X-Click")).locator("text=Remove").click()
    headers.locator("text=Add a header").click()
    headers.locator("tbody tr").nth(1).locator("input").nth(0).fill("X-Source")
    headers.locator("tbody tr").nth(1).locator("input").nth(1).fill("{partner}")
    filters.locator("text=Add a condition").click()
    new_filter = filters.locator("tbody tr").nth(1)
    new_filter.locator("input").nth(0).fill("amount")
    new_filter.locator("select").select_option("gte")
    new_filter.locator("input").nth(1).fill("20")
    filters.locator("text=Add a condition").click()
    presence = filters.locator("tbody tr").nth(2)
    presence.locator("input").nth(0).fill("click_id")
    presence.locator("select").select_option("exists")
    assert presence.locator("input").nth(1).is_disabled()
    manager.wait_for_function(
        f"document.querySelector('{PREVIEW} [data-part=headers]').textContent.includes('X-Source: "
        f"{endpoint.partner.slug}')")
    screenshot(manager, "endpoint-editor-06-rows")
    navigate(manager, "input[name=_continue]")

    endpoint.refresh_from_db()
    assert endpoint.headers == {"Authorization": "Bearer sk-live-123", "X-Source": "{partner}"}
    assert endpoint.filters == [{"field": "params.country", "op": "in", "value": ["DE", "AT"]},
                                {"field": "amount", "op": "gte", "value": "20"}, {"field": "click_id", "op": "exists"}]
    assert "sk-live-123" not in manager.content()
    assert js_errors == []


TYPED_FILTERS = [
    {"field": "params.vip", "op": "eq", "value": True},
    {"field": "params.score", "op": "eq", "value": 5.0},
    {"field": "params.country", "op": "in", "value": ["DE", 7, True, 2.50]},
    {"field": "amount", "op": "gte", "value": 20.0},
]


def _typed(filters) -> str:
    # 5.0 == 5 and True == 1 in Python: the JSON text tells the types apart, as the server's comparisons do.
    return json.dumps(filters, sort_keys=True)


def test_saving_without_touching_the_filters_keeps_their_values_and_types(manager, js_errors):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb", filters=TYPED_FILTERS)
    manager.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")

    assert manager.locator("#console-rows-filters tbody tr").count() == len(TYPED_FILTERS)
    assert manager.locator("#console-rows-filters tbody tr").nth(2).locator("input").nth(1).input_value() == (
        "DE, 7, true, 2.5")
    manager.fill("#id_name", "Renamed endpoint")
    navigate(manager, "input[name=_continue]")

    endpoint.refresh_from_db()
    assert endpoint.name == "Renamed endpoint"
    assert _typed(endpoint.filters) == _typed(TYPED_FILTERS)
    assert js_errors == []


def test_editing_one_filter_keeps_the_others_and_the_type_of_its_value(manager, js_errors):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb", filters=TYPED_FILTERS)
    manager.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
    rows = manager.locator("#console-rows-filters tbody tr")

    rows.nth(0).locator("input").nth(1).fill("false")
    rows.nth(2).locator("input").nth(1).fill("DE, 7, AT")
    navigate(manager, "input[name=_continue]")

    endpoint.refresh_from_db()
    assert _typed(endpoint.filters) == _typed([
        {"field": "params.vip", "op": "eq", "value": False}, TYPED_FILTERS[1],
        {"field": "params.country", "op": "in", "value": ["DE", 7, "AT"]}, TYPED_FILTERS[3],
    ])
    assert js_errors == []


def test_putting_a_filter_back_as_it_was_is_no_unsaved_edit(manager, js_errors):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb", filters=TYPED_FILTERS)
    manager.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
    value = manager.locator("#console-rows-filters tbody tr").nth(1).locator("input").nth(1)
    button = manager.locator("#send-test-postback")
    original = manager.locator("#id_filters").input_value()

    value.fill("6")
    manager.wait_for_function("document.getElementById('send-test-postback').disabled")
    value.fill("5.0")
    manager.wait_for_function("!document.getElementById('send-test-postback').disabled")

    assert button.is_enabled() and manager.locator("#id_filters").input_value() == original
    assert js_errors == []


def test_without_javascript_the_json_boxes_remain(browser, live_server, js_errors):
    endpoint = PostbackEndpointFactory(headers={"X-Click": "{click_id}"})
    staff_member("manager", AFFILIATE_MANAGERS)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, "manager")
        page.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
        assert page.locator("#id_headers").is_visible() and page.locator("#id_filters").is_visible()
        assert page.locator("#console-rows-headers").count() == 0
        assert '"X-Click"' in page.locator("#id_headers").input_value()
    finally:
        context.close()


def test_body_fields_show_only_for_methods_with_a_body_and_keep_their_value(manager, js_errors):
    partner = PartnerFactory(name="Acme Ads")
    manager.goto(f"/admin/partners/postbackendpoint/add/?partner={partner.pk}")
    body_rows = manager.locator(".form-row.field-body_template, .form-row.field-body_format")

    manager.select_option("#id_method", "GET")
    assert body_rows.nth(0).is_hidden() and body_rows.nth(1).is_hidden()
    assert "has no body" in manager.locator("#console-no-body-note").inner_text()
    screenshot(manager, "endpoint-editor-07-get-without-body")

    manager.select_option("#id_method", "POST")
    assert body_rows.nth(0).is_visible() and body_rows.nth(1).is_visible()
    manager.fill("#id_body_template", '{"click": "{click_id}"}')
    manager.fill("#id_url_template", "https://partner.example/pb")
    manager.fill("#id_name", "Acme JSON")
    manager.select_option("#id_event_types_from", label="registration")
    manager.click("#id_event_types_add")
    _wait_for_state(manager, "current")
    assert '"click":"sample-click-1"' in manager.locator(f"{PREVIEW} [data-part=body]").inner_text()
    screenshot(manager, "endpoint-editor-08-post-with-body")

    manager.select_option("#id_method", "GET")
    assert body_rows.nth(1).is_hidden()
    assert manager.locator("#id_body_template").input_value() == '{"click": "{click_id}"}'
    manager.select_option("#id_method", "POST")
    navigate(manager, "input[name=_save]")

    assert "was added successfully" in messages(manager)[0]
    endpoint = PostbackEndpoint.objects.get(name="Acme JSON")
    assert (endpoint.method, endpoint.body_template) == ("POST", '{"click": "{click_id}"}')
    assert list(endpoint.event_types.values_list("slug", flat=True)) == [EventType.REGISTRATION]
    assert js_errors == []
