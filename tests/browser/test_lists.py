"""The busiest lists, as a manager sees them on a 1440 px screen."""

from decimal import Decimal

import pytest

from accounts.roles import AFFILIATE_MANAGERS
from deliveries.models import Delivery
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory

from .conftest import log_in, screenshot, staff_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE_SCREEN = {"width": 1440, "height": 900}
LONG_ERROR = (
    "ConnectionError: HTTPSConnectionPool(host='postbacks.partner-with-a-long-name.example', port=443): "
    "Max retries exceeded with url: /track/conversion?aff_click_id=abcdef&goal=first_deposit"
)


def _overflow(page) -> int:
    """Pixels one would have to scroll sideways, on the page or inside the list (the admin lets it scroll)."""
    return page.evaluate(
        """() => {
            const results = document.querySelector("#changelist .results");
            return Math.max(document.documentElement.scrollWidth - window.innerWidth,
                            results.scrollWidth - results.clientWidth);
        }"""
    )


def _hidden_headers(page, *headers: str) -> list[str]:
    """Headers whose right edge lies beyond what the list shows without scrolling."""
    visible = page.locator("#changelist .results").bounding_box()
    right = visible["x"] + visible["width"]
    hidden = []
    for header in headers:
        box = page.locator("#result_list thead th", has_text=header).first.bounding_box()
        if box["x"] + box["width"] > right + 0.5:
            hidden.append(header)
    return hidden


def test_the_deliveries_list_fits_a_1440_px_screen(page):
    endpoint = PostbackEndpointFactory(
        partner=PartnerFactory(name="Affiliate network with a rather long name"),
        name="Conversions endpoint for first deposits and registrations",
    )
    for n in range(5):
        DeliveryFactory(
            endpoint=endpoint, status=Delivery.Status.FAILED, attempt_count=3, last_status_code=503,
            last_error=LONG_ERROR, event=EventFactory(event_id=f"platform-event-id-that-is-rather-long-{n:04d}"),
        )
    staff_member("manager", AFFILIATE_MANAGERS)
    page.set_viewport_size(WIDE_SCREEN)

    log_in(page, "manager")
    page.goto("/admin/deliveries/delivery/")
    screenshot(page, "20-deliveries-1440")

    assert _overflow(page) <= 0
    assert _hidden_headers(page, "Status", "Tries", "Code", "Last error", "Next attempt", "Created") == []
    cut = page.locator("#result_list td.field-last_error_short span.console-cut").first
    assert cut.get_attribute("title") == LONG_ERROR
    assert len(cut.inner_text()) <= 40
    screenshot(page, "20-deliveries-1440")


def test_the_events_list_fits_a_1440_px_screen_with_money_formatted(page):
    EventFactory(type_id="deposit", amount=Decimal("12500.5000"), currency="EUR", partner=PartnerFactory())
    EventFactory(type_id="deposit", amount=Decimal("300000.0000"), currency="JPY", partner=None)
    staff_member("manager", AFFILIATE_MANAGERS)
    page.set_viewport_size(WIDE_SCREEN)

    log_in(page, "manager")
    page.goto("/admin/events/event/")

    assert _overflow(page) <= 0
    amounts = page.locator("#result_list td.field-amount_text").all_inner_texts()
    assert sorted(amounts) == ["12,500.50 EUR", "300,000 JPY"]
    assert "(unattributed)" in page.locator("#result_list").inner_text()
    assert "start with it" in page.locator("#changelist-search").inner_text()
    screenshot(page, "21-events-1440")
