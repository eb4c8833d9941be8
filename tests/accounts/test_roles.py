import pytest
from django.contrib.auth.models import Group, User

from accounts.roles import AFFILIATE_MANAGERS, MARKETING

pytestmark = pytest.mark.django_db


def _member_of(group_name: str) -> User:
    user = User.objects.create_user(username=group_name.lower().replace(" ", "-"), password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def test_affiliate_managers_configure_partners_and_handle_deliveries_but_not_keys():
    manager = _member_of(AFFILIATE_MANAGERS)

    assert manager.has_perms(["partners.add_partner", "partners.change_postbackendpoint", "partners.add_payoutrule"])
    assert manager.has_perms(["events.view_event", "deliveries.change_delivery", "deliveries.view_deliveryattempt"])
    assert not manager.has_perm("events.change_event")
    assert not manager.has_perm("accounts.view_apikey")


def test_marketing_only_views():
    marketing = _member_of(MARKETING)

    assert marketing.has_perms(
        ["partners.view_partner", "events.view_event", "deliveries.view_delivery", "reporting.view_statistics"]
    )
    assert not any(perm.split(".")[1].startswith(("add_", "change_", "delete_")) for perm in marketing.get_all_permissions())
    assert not marketing.has_perm("accounts.view_apikey")


def test_marketing_sees_configuration_read_only_in_the_admin(client):
    from tests.factories import PartnerFactory

    partner = PartnerFactory()
    client.force_login(_member_of(MARKETING))

    page = client.get(f"/admin/partners/partner/{partner.pk}/change/")

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get("/admin/accounts/apikey/").status_code == 403
