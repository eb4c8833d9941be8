import csv
import io

import pytest
from django.utils import timezone

from django.contrib.admin.models import LogEntry

from deliveries.models import Delivery
from partners.models import PostbackEndpoint
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/deliveries/delivery/"


def _act(client, action, deliveries, confirmed="yes", **extra):
    data = {"action": action, "_selected_action": [delivery.pk for delivery in deliveries], "confirmed": confirmed, **extra}
    return client.post(CHANGELIST, data, follow=True)


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_resend_action_queues_failed_deliveries_and_says_how_many(manager_client):
    failed = DeliveryFactory.create_batch(2, status=Delivery.Status.FAILED, next_attempt_at=None)

    response = _act(manager_client, "resend", failed)

    assert "Queued 2 of 2 selected deliveries to be sent again." in _messages(response)
    for delivery in failed:
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at is not None


def test_resend_leaves_a_delivery_being_sent_alone_and_says_so(manager_client):
    in_flight = DeliveryFactory(claimed_until=timezone.now() + timezone.timedelta(minutes=5))

    response = _act(manager_client, "resend", [in_flight])

    assert "Queued 0 of 1 selected deliveries to be sent again." in _messages(response)
    assert any("were being sent at that moment" in message for message in _messages(response))


def test_cancel_action_stops_open_deliveries_and_explains_the_rest(manager_client):
    retrying = DeliveryFactory(status=Delivery.Status.RETRYING)
    delivered = DeliveryFactory(status=Delivery.Status.DELIVERED)

    response = _act(manager_client, "cancel", [retrying, delivered])

    retrying.refresh_from_db()
    delivered.refresh_from_db()
    assert (retrying.status, delivered.status) == (Delivery.Status.CANCELLED, Delivery.Status.DELIVERED)
    shown = _messages(response)
    assert "Cancelled 1 deliveries; they stay on record and can be resent." in shown
    assert any("1 were not cancelled" in message and "delivered" in message for message in shown)


def test_resend_button_on_the_delivery_page(manager_client):
    failed = DeliveryFactory(status=Delivery.Status.FAILED)

    response = manager_client.post(f"/admin/deliveries/delivery/{failed.pk}/resend/", {"confirmed": "yes"}, follow=True)

    failed.refresh_from_db()
    assert failed.status == Delivery.Status.PENDING
    assert f"Delivery {failed.pk}: Queued to be sent again." in _messages(response)


def test_cancelling_a_delivered_delivery_from_its_page_explains_why_not(manager_client):
    delivered = DeliveryFactory(status=Delivery.Status.DELIVERED)

    response = manager_client.post(f"/admin/deliveries/delivery/{delivered.pk}/cancel/", {"confirmed": "yes"}, follow=True)

    assert any("Only pending or retrying deliveries can be cancelled" in m for m in _messages(response))


def test_marketing_cannot_resend(marketing_client):
    failed = DeliveryFactory(status=Delivery.Status.FAILED)

    assert marketing_client.post(f"/admin/deliveries/delivery/{failed.pk}/resend/", {"confirmed": "yes"}).status_code == 403
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.FAILED


def test_opening_the_resend_address_only_asks_for_confirmation(manager_client):
    delivered = DeliveryFactory(status=Delivery.Status.DELIVERED, delivered_at=timezone.now())

    page = manager_client.get(f"/admin/deliveries/delivery/{delivered.pk}/resend/").content.decode()

    assert "Resend this delivery?" in page and "may count the conversion twice" in page
    delivered.refresh_from_db()
    assert delivered.status == Delivery.Status.DELIVERED
    assert not LogEntry.objects.exists()


def test_export_action_streams_the_selected_deliveries_as_csv(marketing_client):
    chosen = DeliveryFactory(status=Delivery.Status.FAILED, last_error="=HYPERLINK(1)")
    DeliveryFactory()

    response = marketing_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [chosen.pk]})

    assert response["Content-Type"].startswith("text/csv")
    rows = _rows(response)
    assert [(row["id"], row["status"]) for row in rows] == [(str(chosen.pk), "failed")]
    assert rows[0]["last_error"] == "'=HYPERLINK(1)"


def test_export_button_streams_the_list_as_filtered(marketing_client):
    failed = DeliveryFactory(status=Delivery.Status.FAILED)
    DeliveryFactory(status=Delivery.Status.DELIVERED)

    page = marketing_client.get(CHANGELIST, {"status__exact": "failed"}).content.decode()
    assert "/admin/deliveries/delivery/export.csv?status__exact=failed" in page
    response = marketing_client.get("/admin/deliveries/delivery/export.csv", {"status__exact": "failed"})

    assert [row["id"] for row in _rows(response)] == [str(failed.pk)]


def test_event_export_uses_the_events_csv_columns(admin_client):
    EventFactory(event_id="evt-exported", click_id="c-1")

    response = admin_client.get("/admin/events/event/export.csv", {"q": "evt-exported"})

    rows = _rows(response)
    assert [(row["event_id"], row["click_id"]) for row in rows] == [("evt-exported", "c-1")]
    assert 'filename="events_search-evt-exported_' in response["Content-Disposition"]


def test_staff_without_a_role_cannot_export(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user(username="newcomer", password="x", is_staff=True))

    assert client.get("/admin/deliveries/delivery/export.csv").status_code == 403


def test_resend_first_shows_how_many_whose_and_how_many_were_delivered_and_changes_nothing(manager_client):
    acme, zeta = PostbackEndpointFactory(partner=PartnerFactory(name="Acme")), PostbackEndpointFactory(
        partner=PartnerFactory(name="Zeta"))
    failed = DeliveryFactory.create_batch(2, endpoint=acme, partner=acme.partner, status=Delivery.Status.FAILED)
    delivered = DeliveryFactory(endpoint=zeta, partner=zeta.partner, status=Delivery.Status.DELIVERED)

    page = _act(manager_client, "resend", [*failed, delivered], confirmed="").content.decode()

    assert "Resend deliveries?" in page
    assert "Resend 3 selected deliveries of 2 partners (Acme, Zeta)" in page
    assert "1 of them were already delivered: they are left out unless you tick the box below." in page
    assert 'name="include_delivered"' in page and "may count the conversions twice" in page
    assert page.count('name="_selected_action"') == 3 and 'name="confirmed" value="yes"' in page
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.FAILED, Delivery.Status.DELIVERED}


def test_confirmed_resend_leaves_delivered_ones_out_and_writes_each_endpoints_history(manager_client):
    endpoint = PostbackEndpointFactory()
    failed = DeliveryFactory(endpoint=endpoint, partner=endpoint.partner, status=Delivery.Status.FAILED)
    delivered = DeliveryFactory(endpoint=endpoint, partner=endpoint.partner, status=Delivery.Status.DELIVERED)

    response = _act(manager_client, "resend", [failed, delivered])

    assert "Queued 1 of 2 selected deliveries to be sent again." in _messages(response)
    assert "1 already delivered were left out, as chosen." in _messages(response)
    delivered.refresh_from_db()
    assert delivered.status == Delivery.Status.DELIVERED
    entry = LogEntry.objects.get()
    assert (entry.user.username, entry.object_id, entry.content_type.model_class()) == (
        "affiliate-managers", str(endpoint.pk), PostbackEndpoint)
    assert entry.change_message == "Resent 1 of its deliveries from the deliveries list (already delivered ones left out)"


def test_resending_delivered_ones_is_an_explicit_choice(manager_client):
    delivered = DeliveryFactory(status=Delivery.Status.DELIVERED)

    response = _act(manager_client, "resend", [delivered], include_delivered="on")

    assert "Queued 1 of 1 selected deliveries to be sent again." in _messages(response)
    delivered.refresh_from_db()
    assert delivered.status == Delivery.Status.PENDING
    assert "(already delivered ones included)" in LogEntry.objects.get().change_message


def test_cancel_confirmation_counts_what_can_be_cancelled_and_the_action_is_recorded(manager_client):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(name="Acme"))
    pending = DeliveryFactory.create_batch(2, endpoint=endpoint, partner=endpoint.partner)
    failed = DeliveryFactory(endpoint=endpoint, partner=endpoint.partner, status=Delivery.Status.FAILED)

    page = _act(manager_client, "cancel", [*pending, failed], confirmed="").content.decode()
    assert "Cancel 2 pending or retrying deliveries of the 3 selected, of 1 partner (Acme)" in page
    assert "1 are delivered, failed or cancelled already and are left as they are." in page
    _act(manager_client, "cancel", [*pending, failed])

    assert Delivery.objects.filter(status=Delivery.Status.CANCELLED).count() == 2
    assert LogEntry.objects.get().change_message == "Cancelled 2 of its deliveries from the deliveries list"


def test_a_single_resend_from_the_delivery_page_is_in_its_history(manager_client):
    failed = DeliveryFactory(status=Delivery.Status.FAILED)

    manager_client.post(f"/admin/deliveries/delivery/{failed.pk}/resend/", {"confirmed": "yes"})

    page = manager_client.get(f"/admin/deliveries/delivery/{failed.pk}/history/").content.decode()
    assert "Resent from its page" in page
