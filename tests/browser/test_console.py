"""What affiliate managers and marketing do in the admin, in a real browser."""

import csv
import io
import ipaddress
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import AFFILIATE_MANAGERS, MARKETING
from deliveries.models import Delivery
from partners.models import Partner
from reporting.exports import DELIVERY_COLUMNS
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory

from .conftest import log_in, messages, navigate, png_ink, screenshot, staff_member

# Transactional: the live server answers from its own thread. The seeded event types
# and role groups are restored for each test (a flush would drop them).
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def partner_server(httpserver, settings):
    """The partner: a local HTTP server that postbacks may reach."""
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    httpserver.expect_request("/pb").respond_with_data("OK from partner", status=200)
    httpserver.expect_request("/legacy").respond_with_data("accepted", status=200)
    return httpserver


def _failed_delivery(partner_server) -> Delivery:
    endpoint = PostbackEndpointFactory(
        partner=PartnerFactory(name="Legacy Network"), url_template=partner_server.url_for("/legacy") + "?c={click_id}"
    )
    delivery = DeliveryFactory(
        endpoint=endpoint, status=Delivery.Status.FAILED, attempt_count=1, next_attempt_at=None, last_error="HTTP 404"
    )
    delivery.attempts.create(
        number=1, outcome="failure", request_method="GET", request_url=endpoint.url_template,
        status_code=404, response_excerpt="no such campaign", duration_ms=41, error="HTTP 404",
    )
    return delivery


def test_affiliate_manager_sets_up_a_partner_tests_it_and_resends_a_failure(page, partner_server):
    # given
    failed = _failed_delivery(partner_server)
    staff_member("manager", AFFILIATE_MANAGERS)

    # logs in and finds the dashboard link
    log_in(page, "manager")
    assert page.locator("a[href='/admin/dashboard/']").is_visible()
    screenshot(page, "01-admin-index")

    # creates a partner
    page.goto("/admin/partners/partner/add/")
    page.fill("#id_name", "Acme Ads")
    navigate(page, "input[name=_save]")
    assert "was added successfully" in messages(page)[0]
    partner = Partner.objects.get(slug="acme-ads")
    screenshot(page, "02-partners")

    # creates a GET endpoint with macros, and sees the live preview follow the template
    page.goto(f"/admin/partners/postbackendpoint/add/?partner={partner.pk}")
    page.fill("#id_name", "Acme conversions")
    page.select_option("#id_event_types_from", label="registration")
    page.click("#id_event_types_add")
    page.select_option("#id_method", "GET")
    page.fill("#id_url_template", partner_server.url_for("/pb") + "?click={click_id}&event={event_type}&p={payout}")
    navigate(page, "input[name=_continue]")
    assert "was added successfully" in messages(page)[0]
    preview_url = page.locator("#console-preview [data-part=url]")
    assert "/pb?click=sample-click-1&event=registration" in preview_url.inner_text()
    page.fill("#id_url_template", partner_server.url_for("/pb") + "?click={click_id}&player={player_id}")
    page.wait_for_function("document.querySelector('#console-preview [data-part=url]').textContent.includes('player=')")
    assert "player=sample-player-1" in preview_url.inner_text()
    screenshot(page, "03-endpoint-preview")

    # sends a test postback (the saved template) and sees the partner's answer
    page.goto(page.url)  # drop the unsaved edit
    navigate(page, "#send-test-postback")
    assert "never retried" in page.locator("#console-confirmation").inner_text()
    screenshot(page, "04-test-postback-confirmation")
    navigate(page, "#console-confirm")
    summary = messages(page)[0]
    assert summary.startswith("Test postback sent: HTTP 200 in ") and "OK from partner" in summary
    assert "OK from partner" in page.locator("#console-test-postbacks").inner_text()
    request, _ = partner_server.log[-1]
    assert (request.path, request.args["click"]) == ("/pb", "sample-click-1")
    screenshot(page, "04-test-postback")

    # finds the failed delivery and resends it
    page.goto("/admin/deliveries/delivery/")
    navigate(page, "text=Failing now")
    navigate(page, f"#result_list a[href*='/delivery/{failed.pk}/change/']")
    assert "no such campaign" in page.locator("body").inner_text()
    navigate(page, "text=Resend")
    assert "Resend this delivery?" in page.locator("body").inner_text()
    navigate(page, "#console-confirm")
    assert messages(page)[0] == f"Delivery {failed.pk}: Queued to be sent again."
    failed.refresh_from_db()
    assert failed.status in (Delivery.Status.PENDING, Delivery.Status.DELIVERED)
    screenshot(page, "05-delivery-resent")

    # exports the deliveries as CSV
    page.goto(f"/admin/deliveries/delivery/?partner__id__exact={failed.partner_id}")
    with page.expect_download() as download:
        page.click("text=Export these rows as CSV")
    rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rows[0] == [column.header for column in DELIVERY_COLUMNS]
    assert [row[0] for row in rows[1:]] == [str(failed.pk)]
    screenshot(page, "06-deliveries")


def test_dashboard_draws_its_charts(page):
    now = timezone.now()
    for days_ago, event_type in [(0, "registration"), (1, "registration"), (3, "deposit"), (6, "registration")]:
        event = EventFactory(type_id=event_type, occurred_at=now - timedelta(days=days_ago), amount=5, currency="EUR")
        DeliveryFactory(event=event, status=Delivery.Status.DELIVERED, created_at=now - timedelta(days=days_ago))
    DeliveryFactory(status=Delivery.Status.FAILED, created_at=now - timedelta(days=2))
    staff_member("manager", AFFILIATE_MANAGERS)

    log_in(page, "manager")
    navigate(page, "a[href='/admin/dashboard/']")
    page.wait_for_selector("#chart-events[data-drawn=true]")
    page.wait_for_selector("#chart-deliveries[data-drawn=true]")

    assert page.locator("#chart-events rect.console-bar").count() >= 4
    assert page.locator("#chart-deliveries polyline.console-line").count() == 2
    for chart in ("#chart-events svg", "#chart-deliveries svg"):
        box = page.locator(chart).bounding_box()
        assert box["width"] > 200 and box["height"] > 80, (chart, box)
    screenshot(page, "07-dashboard")
    for chart in ("#chart-events", "#chart-deliveries"):
        ink = png_ink(page, page.locator(chart).screenshot())
        assert ink["inked"] > 0.02 and ink["colours"] >= 3, (chart, ink)


def test_marketing_sees_configuration_read_only(page):
    endpoint = PostbackEndpointFactory(
        partner=PartnerFactory(name="Acme Ads"), url_template="https://partner.example/pb?c={click_id}"
    )
    DeliveryFactory(endpoint=endpoint)
    staff_member("marketer", MARKETING)

    log_in(page, "marketer", lands="/admin/reporting/statistics/")
    page.goto(f"/admin/partners/partner/{endpoint.partner_id}/change/")
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("#id_name").count() == 0
    assert "Acme Ads" in page.locator("#content").inner_text()
    screenshot(page, "08-marketing-partner")

    page.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")
    assert page.locator("#send-test-postback").count() == 0
    assert page.locator("input[type=password], #id_url_template").count() == 0
    assert "https://partner.example/pb?c={click_id}" in page.locator("#content").inner_text()
    screenshot(page, "09-marketing-endpoint")

    page.goto("/admin/deliveries/delivery/")
    offered = page.locator("select[name=action] option").all_inner_texts()
    assert [text for text in offered if text.strip("- ")] == ["Export selected as CSV"]
    screenshot(page, "10-marketing-deliveries")


def test_a_bulk_resend_asks_first_and_leaves_delivered_postbacks_out_unless_chosen(page, partner_server):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(name="Acme Ads"), url_template=partner_server.url_for("/pb"))
    failed = DeliveryFactory(endpoint=endpoint, partner=endpoint.partner, status=Delivery.Status.FAILED)
    delivered = DeliveryFactory(endpoint=endpoint, partner=endpoint.partner, status=Delivery.Status.DELIVERED)
    staff_member("manager", AFFILIATE_MANAGERS)

    log_in(page, "manager")
    page.goto("/admin/deliveries/delivery/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "resend")
    navigate(page, "button[name=index]")
    table = page.locator(".console-confirmation-table").inner_text()
    assert "Acme Ads" in table and "ALREADY DELIVERED" in table.upper()
    assert not page.locator("#id_include_delivered").is_checked()
    screenshot(page, "12-resend-confirmation")
    navigate(page, "#console-confirm")

    assert messages(page)[:2] == [
        "Queued 1 of 2 selected deliveries to be sent again.", "1 already delivered were left out, as chosen."
    ]
    failed.refresh_from_db()
    delivered.refresh_from_db()
    # queued again (and perhaps delivered already by the sender); the delivered one was not sent again
    assert failed.status in (Delivery.Status.PENDING, Delivery.Status.DELIVERED)
    assert (delivered.status, delivered.attempts.count()) == (Delivery.Status.DELIVERED, 0)
    page.goto(f"/admin/partners/postbackendpoint/{endpoint.pk}/history/")
    assert "Resent 1 of its deliveries from the deliveries list" in page.locator("#content").inner_text()


def test_a_long_export_runs_in_the_background_with_progress_and_a_download(page, settings, tmp_path, monkeypatch):
    from reporting import tasks
    from reporting.models import ExportJob

    settings.EXPORT_INLINE_ROWS, settings.EXPORT_DIR = 1, tmp_path / "exports"
    # The worker: run the job as soon as it is queued (nothing else here consumes the queue).
    monkeypatch.setattr(tasks.run_export_job, "apply_async", lambda args, kwargs: tasks.run_export_job(*args))
    DeliveryFactory.create_batch(3, status=Delivery.Status.FAILED)
    staff_member("marketer", MARKETING)

    log_in(page, "marketer", lands="/admin/reporting/statistics/")
    page.goto("/admin/deliveries/delivery/?status__exact=failed")
    navigate(page, "text=Export these rows as CSV")
    page.locator("#console-export-download").wait_for(state="visible", timeout=10_000)
    assert page.locator("#console-export-rows").inner_text() == "3"
    screenshot(page, "13-export-ready")
    with page.expect_download() as download:
        page.click("#console-export-download")
    assert download.value.suggested_filename.startswith("deliveries_status-failed_")
    assert len(list(csv.reader(io.StringIO(download.value.path().read_text())))) == 4

    # a running export's page follows it without a reload
    running = ExportJob.objects.create(requested_by=ExportJob.objects.get().requested_by, model="deliveries.delivery",
                                       file_name="later.csv", status=ExportJob.Status.RUNNING, rows_total=10)
    page.goto(f"/admin/reporting/exportjob/{running.pk}/change/")
    ExportJob.objects.filter(pk=running.pk).update(rows_done=5)
    page.wait_for_function("document.getElementById('console-export-bar').value === 50", timeout=5_000)
    screenshot(page, "14-export-progress")


def test_a_paused_endpoint_is_resumed_from_the_dashboard_after_a_confirmation(page):
    endpoint = PostbackEndpointFactory(name="Legacy", partner=PartnerFactory(name="Acme Ads"), is_active=False,
                                       pause_reason="paused by a manager", url_template="https://partner.example/pb")
    staff_member("manager", AFFILIATE_MANAGERS)

    log_in(page, "manager")
    page.goto("/admin/dashboard/")
    assert "held on purpose" in page.locator("#held").inner_text()
    navigate(page, "#paused-endpoints .console-resume")
    assert "Resume 1 endpoint?" in page.locator("#content").inner_text()
    screenshot(page, "15-resume-confirmation")
    navigate(page, "#console-confirm")

    assert messages(page)[0].startswith("Resumed 1 endpoint(s): Acme Ads · Legacy")
    endpoint.refresh_from_db()
    assert endpoint.is_active
