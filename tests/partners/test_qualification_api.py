from decimal import Decimal

import pytest

from partners.models import Qualification, QualificationRule
from tests.factories import EventFactory, PartnerFactory, PlayerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners/acme/qualification-rules/"
RULE = {"name": "CPA 20/100/500", "currency": "EUR", "min_first_deposit": "20.00", "min_deposit_sum": "100.00",
        "min_wager_sum": "500.00", "window_days": 30, "allowed_countries": ["DE", "AT"]}


@pytest.fixture
def acme(db):
    return PartnerFactory(slug="acme")


def test_an_admin_key_creates_a_rule_and_reads_it_back(admin_client_api, acme):
    created = admin_client_api.post(URL, RULE, format="json")

    assert created.status_code == 201, created.json()
    rule = admin_client_api.get(f"{URL}{created.json()['id']}/").json()
    assert (rule["min_deposit_sum"], rule["window_start"], rule["is_active"]) == ("100.0000", "registration", True)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "nothing to meet"}, "non_field_errors"),
    ({**RULE, "currency": ""}, "currency"),
    ({**RULE, "currency": "EURO"}, "currency"),
    ({**RULE, "allowed_countries": "DE"}, "allowed_countries"),
    ({**RULE, "window_days": 0}, "window_days"),
])
def test_a_rule_that_cannot_work_is_a_400_naming_the_field(admin_client_api, acme, body, field):
    response = admin_client_api.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_platform_key_may_not_configure_rules(platform_client, acme):
    assert platform_client.post(URL, RULE, format="json").status_code == 403


def test_a_rule_that_qualified_players_is_deactivated_not_deleted(admin_client_api, acme):
    # given
    rule = QualificationRule.objects.create(partner=acme, name="x", min_deposit_count=1)
    Qualification.objects.create(rule=rule, player=PlayerFactory(), qualified_at=EventFactory().occurred_at)

    # when
    response = admin_client_api.delete(f"{URL}{rule.pk}/")

    # then
    assert response.status_code == 400
    assert "is_active" in str(response.json())
    assert QualificationRule.objects.filter(pk=rule.pk).exists()


def test_an_unused_rule_is_deleted(admin_client_api, acme):
    rule = QualificationRule.objects.create(partner=acme, name="x", min_deposit_sum=Decimal("5"), currency="EUR")

    assert admin_client_api.delete(f"{URL}{rule.pk}/").status_code == 204


@pytest.mark.parametrize("value", ["", "  ", 100])
def test_a_money_condition_that_is_not_a_decimal_string_is_a_400_not_no_condition(admin_client_api, acme, value):
    response = admin_client_api.post(URL, {**RULE, "min_deposit_sum": value}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["min_deposit_sum"]
    assert not QualificationRule.objects.exists()
