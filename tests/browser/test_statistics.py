"""Marketing reads its numbers: the statistics page in a real browser."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import MARKETING
from deliveries.models import Delivery
from events.models import EventType
from reporting.rollup import stats_rollup_refresh
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PlayerFactory

from .conftest import log_in, navigate, screenshot, staff_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _a_week_of_activity():
    acme = PartnerFactory(slug="acme", name="Acme Media")
    now = timezone.now()
    for days_ago in range(7):
        moment = now - dt.timedelta(days=days_ago)
        player = PlayerFactory(partner=acme, registered_at=moment, first_deposit_at=moment if days_ago % 2 else None)
        EventFactory(partner=acme, player=player, type_id=EventType.REGISTRATION, occurred_at=moment)
        deposit = EventFactory(partner=acme, player=player, type_id=EventType.DEPOSIT, amount=Decimal("1250.5"),
                               currency="EUR", is_first_deposit=bool(days_ago % 2), occurred_at=moment)
        DeliveryFactory(event=deposit, status=Delivery.Status.DELIVERED)
    EventFactory(partner=None, type_id=EventType.REGISTRATION, occurred_at=now)
    stats_rollup_refresh()


def test_marketing_lands_on_statistics_and_reads_them(page):
    _a_week_of_activity()
    staff_member("marketer", MARKETING)
    page.set_viewport_size({"width": 1440, "height": 900})

    log_in(page, "marketer", lands="/admin/reporting/statistics/")
    navigate(page, "#stats-presets >> text=Last 7 days")
    page.wait_for_selector("#stats-chart-events[data-drawn=true]")
    page.wait_for_selector("#stats-chart-deliveries[data-drawn=true]")

    screenshot(page, "22-statistics")

    # the table speaks marketing's language
    headers = page.locator("#result_list thead th").evaluate_all("(cells) => cells.map((cell) => cell.textContent)")
    assert headers[:3] == ["Partner", "Events", "Players"]
    assert "Conversion" in headers and "Deposits EUR" in headers
    assert page.locator("#result_list thead th", has_text="Conversion").get_attribute("title").startswith("Of the players")
    body = page.locator("#result_list tbody").inner_text()
    assert "Acme Media" in body and "(unattributed)" in body and "8,753.50 EUR" in body
    assert "%" in body
    assert "Last 7 days" in page.locator("#stats-presets a.selected").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # the charts have value axes with ticks and answer a hover with the day's values
    ticks = page.evaluate(
        """() => Chart.getChart("stats-chart-events").scales.y.ticks.map((tick) => tick.value)"""
    )
    assert len(ticks) >= 3, ticks
    box = page.locator("#stats-chart-events").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 30, box["y"] + box["height"] / 2)
    tooltip = page.evaluate(
        """() => { const tip = Chart.getChart("stats-chart-events").tooltip;
                   return {opacity: tip.opacity, lines: tip.body.map((part) => part.lines.join(" "))}; }"""
    )
    assert tooltip["opacity"] > 0 and any(line.startswith("Registrations: ") for line in tooltip["lines"]), tooltip
    screenshot(page, "22-statistics")
