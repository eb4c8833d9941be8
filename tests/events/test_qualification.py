"""Qualified players through ingest: a derived event, once per player and rule, to the partner's endpoints."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from deliveries.models import Delivery
from events.models import Event, EventType
from partners.models import Qualification, QualificationRule
from reporting.rollup import stats_rollup_refresh
from reporting.selectors import StatsQuery, reporting_today, stats_rows
from tests.factories import PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory
from tests.support.services import require_postgres

URL = "/api/v1/events/"


@pytest.fixture
def partner(db):
    partner = PartnerFactory(slug="acme")
    QualificationRule.objects.create(
        partner=partner, name="CPA 20/100", currency="EUR", min_first_deposit=Decimal("20"),
        min_deposit_sum=Decimal("100"),
    )
    return partner


@pytest.fixture
def endpoint(partner):
    return PostbackEndpointFactory(partner=partner, event_types=[EventType.QUALIFIED])


def _event(event_id: str, kind: str = "deposit", amount: str | None = "60.00", **fields) -> dict:
    body = {"event_id": event_id, "type": kind, "player_id": "p-1", **fields}
    if amount:
        body |= {"amount": amount, "currency": "EUR"}
    return body


def _post(client, *bodies) -> None:
    for body in bodies:
        response = client.post(URL, body, format="json")
        assert response.status_code == 201, response.json()


REGISTRATION = _event("reg", "registration", amount=None, partner="acme", click_id="clk-7")


@pytest.mark.django_db
def test_a_player_meeting_the_rule_gets_one_qualified_event_that_reaches_the_partner(
    platform_client, partner, endpoint, sender_asleep
):
    # given
    PayoutRuleFactory(partner=partner, event_type_id=EventType.QUALIFIED, value=Decimal("150.00"))

    # when
    _post(platform_client, REGISTRATION, _event("dep-1"))
    assert not Event.objects.filter(type_id=EventType.QUALIFIED).exists()
    _post(platform_client, _event("dep-2"), _event("dep-3"))

    # then
    qualified = Event.objects.get(type_id=EventType.QUALIFIED)
    assert (qualified.partner_id, qualified.click_id, qualified.params) == (partner.pk, "clk-7", {"rule": "CPA 20/100"})
    qualification = Qualification.objects.get()
    assert qualification.event == qualified and qualification.met_by == ["reg", "dep-1", "dep-2"]
    assert Delivery.objects.get(event=qualified).endpoint == endpoint


@pytest.mark.django_db
def test_changing_a_rule_never_qualifies_a_player_again(platform_client, partner, endpoint, sender_asleep):
    # given
    _post(platform_client, REGISTRATION, _event("dep-1"), _event("dep-2"))

    # when
    QualificationRule.objects.update(min_deposit_sum=Decimal("150"))
    _post(platform_client, _event("dep-3"))

    # then
    assert Event.objects.filter(type_id=EventType.QUALIFIED).count() == 1


@pytest.mark.django_db
def test_a_reversed_deposit_does_not_count_toward_qualification(platform_client, partner, endpoint, sender_asleep):
    # given
    _post(platform_client, REGISTRATION, _event("dep-1"))
    first = Event.objects.get(event_id="dep-1")
    platform_client.post(f"/api/v1/events/{first.pk}/reverse/", {"reason": "chargeback"}, format="json")

    # when
    _post(platform_client, _event("dep-2"))

    # then
    assert not Qualification.objects.exists()


@pytest.mark.django_db
def test_a_player_of_another_partner_is_not_judged_by_this_partners_rules(platform_client, partner, sender_asleep):
    PartnerFactory(slug="other")

    _post(platform_client, {**REGISTRATION, "partner": "other"}, _event("dep-1"), _event("dep-2"))

    assert not Qualification.objects.exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_deposits_arriving_at_once_qualify_a_player_exactly_once(platform_client, partner, sender_asleep):
    # given: registered with 60 EUR deposited; any one of the next deposits qualifies it
    require_postgres()
    _post(platform_client, REGISTRATION, _event("dep-0"))
    key = platform_client._credentials["HTTP_AUTHORIZATION"]
    barrier = threading.Barrier(6, timeout=10)

    def post(n: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=key)
        try:
            barrier.wait()
            return client.post(URL, _event(f"dep-at-once-{n}"), format="json").status_code
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(post, range(6), timeout=30))

    # then
    assert statuses == [201] * 6
    assert Qualification.objects.count() == 1
    assert Event.objects.filter(type_id=EventType.QUALIFIED).count() == 1


@pytest.mark.django_db
def test_the_statistics_show_the_funnel_registration_first_deposit_qualified(
    platform_client, partner, endpoint, sender_asleep
):
    # given
    _post(platform_client, REGISTRATION, _event("dep-1"), _event("dep-2"))

    # when
    stats_rollup_refresh(rebuild=True)
    (row,) = stats_rows(StatsQuery(date_from=reporting_today(), date_to=reporting_today(), group_by=("partner",)))

    # then
    assert (row.partner, row.registrations, row.first_deposits, row.qualified) == ("acme", 1, 1, 1)
