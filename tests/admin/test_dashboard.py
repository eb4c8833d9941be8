import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone

from console.dashboard import SERIES_CACHE_KEY
from deliveries.models import Delivery
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def _chart(response, name) -> dict:
    """The chart's data as the page's script reads it."""
    page = response.content.decode()
    opening = f'<script id="{name}-data" type="application/json">'
    start = page.index(opening) + len(opening)
    return json.loads(page[start : page.index("</script>", start)])


def test_admin_index_links_to_the_dashboard(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert 'href="/admin/dashboard/"' in page


def test_dashboard_charts_two_weeks_of_events_by_type_and_deliveries_by_outcome(admin_client):
    EventFactory(type_id="registration", occurred_at=timezone.now() - timedelta(days=2))
    EventFactory(type_id="registration")
    EventFactory(type_id="deposit", amount=10, currency="EUR")
    EventFactory(type_id="deposit", amount=10, currency="EUR", occurred_at=timezone.now() - timedelta(days=20))
    EventFactory(type_id="registration", is_test=True)
    DeliveryFactory(status=Delivery.Status.DELIVERED)
    DeliveryFactory(status=Delivery.Status.FAILED)
    DeliveryFactory(status=Delivery.Status.DELIVERED, is_test=True)

    response = admin_client.get("/admin/dashboard/")

    events = _chart(response, "events")
    assert len(events["labels"]) == 14
    totals = {series["name"]: sum(series["values"]) for series in events["series"]}
    # 2 registrations + 1 deposit in the window, and the 3 registrations the deliveries belong to.
    assert totals == {"registration": 5, "deposit": 1}
    assert events["series"][0]["values"][-1] >= 1
    deliveries = {series["name"]: sum(series["values"]) for series in _chart(response, "deliveries")["series"]}
    assert deliveries == {"Delivered": 1, "Failed": 1}
    page = response.content.decode()
    assert 'id="events-data"' in page and "console/charts.js" in page


def test_dashboard_lists_failing_and_paused_endpoints_and_the_backlog(admin_client):
    failing = PostbackEndpointFactory(name="Flaky tracker", consecutive_failures=7)
    DeliveryFactory(endpoint=failing, status=Delivery.Status.RETRYING, last_error="HTTP 503 Service Unavailable")
    PostbackEndpointFactory(name="Held tracker", is_active=False, pause_reason="partner asked for a pause")
    PostbackEndpointFactory(name="Quiet tracker", partner=PartnerFactory(is_active=False))
    PostbackEndpointFactory(name="Healthy tracker")
    DeliveryFactory(next_attempt_at=timezone.now() - timedelta(minutes=5))
    DeliveryFactory(next_attempt_at=timezone.now() + timedelta(minutes=5))

    response = admin_client.get("/admin/dashboard/")

    assert [endpoint.name for endpoint in response.context["failing"]] == ["Flaky tracker"]
    assert {endpoint.name for endpoint in response.context["paused"]} == {"Held tracker", "Quiet tracker"}
    assert response.context["backlog"].due == 2  # the retrying one is due now too
    page = response.content.decode()
    assert "HTTP 503 Service Unavailable" in page and "partner asked for a pause" in page


def test_marketing_sees_the_dashboard(marketing_client):
    assert marketing_client.get("/admin/dashboard/").status_code == 200


def test_staff_without_a_role_cannot_see_the_dashboard(client):
    client.force_login(User.objects.create_user(username="newcomer", password="x", is_staff=True))

    assert client.get("/admin/dashboard/").status_code == 403


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/admin/dashboard/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_past_days_come_from_the_cache_and_today_is_counted_live(admin_client):
    EventFactory(type_id="registration", occurred_at=timezone.now() - timedelta(days=3))
    admin_client.get("/admin/dashboard/")
    EventFactory(type_id="registration", occurred_at=timezone.now() - timedelta(days=3))
    EventFactory(type_id="registration")
    cache.delete(SERIES_CACHE_KEY)  # the minute-long cache of the whole chart has run out

    values = _chart(admin_client.get("/admin/dashboard/"), "events")["series"][0]["values"]

    assert (values[-4], values[-1]) == (1, 1)


def test_held_deliveries_are_counted_apart_from_the_backlog_and_paused_endpoints_can_be_resumed(manager_client):
    paused = PostbackEndpointFactory(name="Paused one", is_active=False)
    DeliveryFactory.create_batch(2, endpoint=paused, partner=paused.partner)
    release = timezone.now() + timedelta(hours=72)
    DeliveryFactory(held_until=release, next_attempt_at=release)  # in its hold period
    due = DeliveryFactory()

    page = manager_client.get("/admin/dashboard/").content.decode()

    text = " ".join(page.split())
    assert "1 deliveries due now" in text and "3 held on purpose, apart from the backlog" in text
    assert 'name="action" value="resume"' in page and f'name="_selected_action" value="{paused.pk}"' in page
    held_list = manager_client.get("/admin/deliveries/delivery/", {"health": "held"}).context["cl"].result_list
    due_list = manager_client.get("/admin/deliveries/delivery/", {"health": "due"}).context["cl"].result_list
    assert len(held_list) == 3 and [delivery.pk for delivery in due_list] == [due.pk]


def test_marketing_sees_paused_endpoints_without_a_resume_button(marketing_client):
    PostbackEndpointFactory(is_active=False)

    page = marketing_client.get("/admin/dashboard/").content.decode()

    assert "Paused endpoints" in page and 'value="resume"' not in page
