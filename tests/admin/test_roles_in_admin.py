import pytest
from django.contrib.auth.models import Group

from accounts.roles import AFFILIATE_MANAGERS, MARKETING
from tests.admin.conftest import member_of
from tests.factories import DeliveryFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def test_marketing_sees_endpoint_configuration_read_only(marketing_client):
    endpoint = PostbackEndpointFactory(url_template="https://partner.example/pb?c={click_id}")

    page = marketing_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/").content.decode()

    assert "https://partner.example/pb?c={click_id}" in page
    assert 'name="_save"' not in page and 'name="url_template"' not in page


def test_marketing_cannot_add_partners(marketing_client):
    assert marketing_client.get("/admin/partners/partner/add/").status_code == 403


def test_marketing_may_only_export_deliveries(marketing_client):
    DeliveryFactory()

    response = marketing_client.get("/admin/deliveries/delivery/")

    assert response.status_code == 200
    offered = {name for name, _ in response.context["action_form"].fields["action"].choices if name}
    assert offered == {"export_csv"}


def test_affiliate_manager_adds_a_partner(manager_client):
    response = manager_client.post(
        "/admin/partners/partner/add/",
        {
            "name": "Acme Ads",
            "slug": "acme-ads",
            "scope": "attributed",
            "is_active": "on",
            "endpoints-TOTAL_FORMS": "0",
            "endpoints-INITIAL_FORMS": "0",
            "payout_rules-TOTAL_FORMS": "0",
            "payout_rules-INITIAL_FORMS": "0",
            "qualification_rules-TOTAL_FORMS": "0",
            "qualification_rules-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    assert manager_client.get("/admin/partners/partner/").content.decode().count("Acme Ads") >= 1


def test_delivery_history_has_no_save_button(manager_client):
    delivery = DeliveryFactory()

    page = manager_client.get(f"/admin/deliveries/delivery/{delivery.pk}/change/").content.decode()

    assert 'name="_save"' not in page and 'name="_continue"' not in page


def _log_in(client, username: str, **extra):
    return client.post("/admin/login/" + extra.pop("query", ""), {
        "username": username, "password": "pw-for-tests-only", "next": extra.pop("next", "/admin/"),
    })


def test_marketing_lands_on_the_statistics_after_logging_in(client):
    member_of(MARKETING, "marketer")

    response = _log_in(client, "marketer")

    assert (response.status_code, response.url) == (302, "/admin/reporting/statistics/")
    assert client.get("/admin/").status_code == 200  # the index stays one click away


def test_marketing_still_goes_where_it_asked_to(client):
    member_of(MARKETING, "marketer")

    response = _log_in(client, "marketer", next="/admin/events/event/")

    assert response.url == "/admin/events/event/"


@pytest.mark.parametrize("roles", [[AFFILIATE_MANAGERS], [AFFILIATE_MANAGERS, MARKETING]])
def test_managers_land_on_the_index(client, roles):
    user = member_of(roles[0], "someone")
    for role in roles[1:]:
        user.groups.add(Group.objects.get(name=role))

    response = _log_in(client, "someone")

    assert response.url == "/admin/"
