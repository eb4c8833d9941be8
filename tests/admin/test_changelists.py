from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.paginator import CappedCountPaginator
from deliveries.models import Delivery
from tests.factories import (
    DeliveryFactory,
    EventFactory,
    PartnerFactory,
    PayoutRuleFactory,
    PlayerFactory,
    PostbackEndpointFactory,
)

pytestmark = pytest.mark.django_db


def _page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_delivery_changelist_never_counts_the_whole_table(admin_client):
    DeliveryFactory.create_batch(3)

    with CaptureQueriesContext(connection) as queries:
        _page(admin_client, "/admin/deliveries/delivery/")

    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the page shows how many rows there are"
    assert all("LIMIT" in sql.upper() for sql in counts), counts


def test_delivery_changelist_loads_related_rows_in_one_query(admin_client):
    DeliveryFactory.create_batch(5)

    with CaptureQueriesContext(connection) as few:
        _page(admin_client, "/admin/deliveries/delivery/")
    DeliveryFactory.create_batch(10)
    with CaptureQueriesContext(connection) as many:
        _page(admin_client, "/admin/deliveries/delivery/")

    assert len(many) == len(few)


def test_a_list_longer_than_the_cap_says_more_than_instead_of_counting(admin_client, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    DeliveryFactory.create_batch(5)

    page = _page(admin_client, "/admin/deliveries/delivery/")

    assert "More than 3 deliveries" in page


def test_failing_now_shows_retrying_and_recently_failed_deliveries_only(admin_client):
    retrying = DeliveryFactory(status=Delivery.Status.RETRYING)
    failed_today = DeliveryFactory(status=Delivery.Status.FAILED)
    failed_long_ago = DeliveryFactory(status=Delivery.Status.FAILED, created_at=timezone.now() - timedelta(days=3))
    delivered = DeliveryFactory(status=Delivery.Status.DELIVERED)

    response = admin_client.get("/admin/deliveries/delivery/?health=failing")

    shown = {delivery.pk for delivery in response.context["cl"].result_list}
    assert shown == {retrying.pk, failed_today.pk}
    assert failed_long_ago.pk not in shown and delivered.pk not in shown


def test_delivery_filters_by_partner_endpoint_type_and_time(admin_client):
    endpoint = PostbackEndpointFactory()
    wanted = DeliveryFactory(endpoint=endpoint, event=EventFactory(type_id="deposit", amount=5, currency="EUR"))
    DeliveryFactory(created_at=timezone.now() - timedelta(days=2))
    query = f"partner__id__exact={endpoint.partner_id}&endpoint__id__exact={endpoint.pk}&event_type__slug__exact=deposit&recent=24h"

    response = admin_client.get(f"/admin/deliveries/delivery/?{query}")

    assert [delivery.pk for delivery in response.context["cl"].result_list] == [wanted.pk]


@pytest.mark.parametrize("term", ["evt-wanted", "p-wanted", "click-wanted"])
def test_events_are_found_by_exact_event_player_or_click_id(admin_client, term):
    EventFactory(event_id="evt-wanted", player=PlayerFactory(player_id="p-wanted"), click_id="click-wanted")
    EventFactory(event_id="evt-wanted-not")

    response = admin_client.get("/admin/events/event/", {"q": term})

    assert [event.event_id for event in response.context["cl"].result_list] == ["evt-wanted"]


def test_event_page_lists_its_deliveries(admin_client):
    delivery = DeliveryFactory(status=Delivery.Status.FAILED, last_error="HTTP 500 from partner")

    page = _page(admin_client, f"/admin/events/event/{delivery.event_id}/change/")

    assert "HTTP 500 from partner" in page
    assert f"/admin/deliveries/delivery/{delivery.pk}/change/" in page


def test_delivery_page_shows_attempt_history(admin_client):
    delivery = DeliveryFactory(status=Delivery.Status.RETRYING)
    delivery.attempts.create(
        number=1,
        outcome="retry",
        request_method="GET",
        request_url="https://partner.example/pb?click=c-1",
        status_code=503,
        response_excerpt="upstream busy",
        duration_ms=812,
        error="HTTP 503",
    )

    page = _page(admin_client, f"/admin/deliveries/delivery/{delivery.pk}/change/")

    for shown in ["https://partner.example/pb?click=c-1", "503", "upstream busy", "812", "HTTP 503"]:
        assert shown in page


def test_partner_list_shows_last_24h_activity_success_rate_and_last_error(admin_client):
    partner = PartnerFactory(name="Acme Ads")
    endpoint = PostbackEndpointFactory(partner=partner)
    for _ in range(3):
        DeliveryFactory(endpoint=endpoint, event=EventFactory(partner=partner), status=Delivery.Status.DELIVERED)
    DeliveryFactory(
        endpoint=endpoint, event=EventFactory(partner=partner), status=Delivery.Status.FAILED, last_error="HTTP 404"
    )
    EventFactory(partner=partner, occurred_at=timezone.now() - timedelta(days=2))
    # A test postback: its event has no partner, its delivery is marked as a test.
    DeliveryFactory(endpoint=endpoint, event=EventFactory(is_test=True), is_test=True, status=Delivery.Status.FAILED)

    response = admin_client.get("/admin/partners/partner/")

    activity = response.context["cl"].result_list[0].activity
    assert (activity.events, activity.deliveries.delivered, activity.deliveries.failed) == (4, 3, 1)
    page = response.content.decode()
    assert "75.0%" in page and "HTTP 404" in page


def test_endpoint_page_shows_the_macro_reference_beside_the_template(admin_client):
    endpoint = PostbackEndpointFactory()

    page = _page(admin_client, f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")

    for macro in ["{click_id}", "{payout}", "{timestamp}", "{params.NAME}", "{event_name}", "|sha256", "|omit"]:
        assert macro in page


@pytest.mark.parametrize("by", ["delivery id", "event id"])
def test_deliveries_are_found_by_exact_delivery_or_event_id(admin_client, by):
    wanted = DeliveryFactory(event=EventFactory(event_id="evt-42"))
    DeliveryFactory(event=EventFactory(event_id="evt-420"))
    term = str(wanted.pk) if by == "delivery id" else "evt-42"

    response = admin_client.get("/admin/deliveries/delivery/", {"q": term})

    assert [delivery.pk for delivery in response.context["cl"].result_list] == [wanted.pk]


def test_event_search_is_case_sensitive_equality_not_upper(admin_client):
    EventFactory(event_id="EVT-Case")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/events/event/", {"q": "evt-case"})

    assert list(response.context["cl"].result_list) == []
    assert not any("UPPER(" in query["sql"] for query in queries)


def test_players_are_found_by_exact_player_id(admin_client):
    PlayerFactory(player_id="p-exact")
    PlayerFactory(player_id="p-exact-2")

    response = admin_client.get("/admin/events/player/", {"q": "p-exact"})

    assert [player.player_id for player in response.context["cl"].result_list] == ["p-exact"]


def test_event_changelist_loads_related_rows_in_one_query(admin_client):
    EventFactory.create_batch(3, partner=PartnerFactory())

    with CaptureQueriesContext(connection) as few:
        _page(admin_client, "/admin/events/event/")
    EventFactory.create_batch(10, partner=PartnerFactory())
    with CaptureQueriesContext(connection) as many:
        _page(admin_client, "/admin/events/event/")

    assert len(many) == len(few)


def test_event_amounts_show_with_thousands_separators_and_currency(admin_client):
    EventFactory(type_id="deposit", amount=Decimal("1000.5000"), currency="EUR")

    page = _page(admin_client, "/admin/events/event/")

    assert "1,000.50 EUR" in page and "1000.5000" not in page


def test_unattributed_events_say_so_in_the_list_and_the_partner_filter(admin_client):
    EventFactory(partner=None)
    EventFactory(partner=PartnerFactory())

    page = _page(admin_client, "/admin/events/event/")

    assert page.count("(unattributed)") >= 2  # the row and the filter's choice


@pytest.mark.parametrize(
    ("term", "found"),
    [("evt-4", {"evt-42", "evt-420"}), ("evt-42", {"evt-42"}), ("p-sea", {"evt-42"}), ("EVT-4", set())],
)
def test_events_are_found_by_id_prefix_when_nothing_matches_exactly(admin_client, term, found):
    EventFactory(event_id="evt-42", player=PlayerFactory(player_id="p-search"))
    EventFactory(event_id="evt-420")
    EventFactory(event_id="other-evt-4")

    response = admin_client.get("/admin/events/event/", {"q": term})

    assert {event.event_id for event in response.context["cl"].result_list} == found


def test_prefix_search_is_a_case_sensitive_like_an_index_serves(admin_client):
    EventFactory(event_id="evt-prefix-1")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/events/event/", {"q": "evt-pre"})

    assert [event.event_id for event in response.context["cl"].result_list] == ["evt-prefix-1"]
    sql = " ".join(query["sql"] for query in queries)
    assert "LIKE 'evt-pre%'" in sql
    assert "UPPER(" not in sql and "ILIKE" not in sql.upper().replace("UPPER(", "")


def test_the_search_box_says_how_it_matches(admin_client):
    page = _page(admin_client, "/admin/events/event/")

    assert "that start with it (case-sensitive)" in page


def test_players_are_found_by_id_prefix(admin_client):
    PlayerFactory(player_id="p-prefix-1")
    PlayerFactory(player_id="q-prefix-2")

    response = admin_client.get("/admin/events/player/", {"q": "p-pre"})

    assert [player.player_id for player in response.context["cl"].result_list] == ["p-prefix-1"]


def test_deliveries_are_found_by_event_id_prefix(admin_client):
    wanted = DeliveryFactory(event=EventFactory(event_id="dep-77-a"))
    DeliveryFactory(event=EventFactory(event_id="reg-77-b"))

    response = admin_client.get("/admin/deliveries/delivery/", {"q": "dep-77"})

    assert [delivery.pk for delivery in response.context["cl"].result_list] == [wanted.pk]


def test_delivery_list_cuts_the_last_error_and_keeps_it_whole_on_hover(admin_client):
    error = "ConnectTimeout: connection to partner.example timed out after 10.0 seconds while sending"
    DeliveryFactory(status=Delivery.Status.FAILED, last_error=error, last_status_code=None)
    DeliveryFactory(status=Delivery.Status.FAILED, last_error="HTTP 404", last_status_code=404)

    page = _page(admin_client, "/admin/deliveries/delivery/")

    assert f'title="{error}"' in page
    assert f">{error[:39].rstrip()}…<" in page
    assert "HTTP 404" in page and ">404<" in page


def test_a_partners_payout_rules_say_what_they_pay_in_its_currency(admin_client):
    partner = PartnerFactory()
    PayoutRuleFactory(partner=partner, value=Decimal("1500.0000"), currency="EUR")
    PayoutRuleFactory(partner=partner, event_type_id="deposit", kind="percent", value=Decimal("12.5000"))

    page = _page(admin_client, f"/admin/partners/partner/{partner.pk}/change/")

    assert "1,500.00 EUR per event" in page
    assert "12.5 % of the event&#x27;s amount" in page


def test_a_prefix_search_that_finds_events_never_looks_up_click_ids(admin_client):
    # Click ids have no index: looking one up scans the events table, so it comes after the indexed prefix tiers.
    EventFactory(event_id="evt-indexed-1", click_id="click-1")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/events/event/", {"q": "evt-indexed"})

    assert [event.event_id for event in response.context["cl"].result_list] == ["evt-indexed-1"]
    searched = [query["sql"] for query in queries if "evt-indexed" in query["sql"]]
    assert any("LIKE 'evt-indexed%'" in sql for sql in searched)
    assert not any('"click_id" =' in sql for sql in searched)


def test_a_click_id_is_found_only_when_no_event_or_player_id_starts_with_it(admin_client):
    EventFactory(event_id="c-100", click_id="other")
    EventFactory(event_id="evt-9", click_id="c-1")

    response = admin_client.get("/admin/events/event/", {"q": "c-1"})

    assert [event.event_id for event in response.context["cl"].result_list] == ["c-100"]
