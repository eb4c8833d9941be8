import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User

from events.models import EventType
from reporting.rollup import stats_rollup_refresh
from tests.factories import EventFactory, PartnerFactory, PlayerFactory

pytestmark = pytest.mark.django_db

URL = "/admin/reporting/statistics/"
RANGE = {"applied": "1", "from": "2026-11-19", "to": "2026-11-21"}


@pytest.fixture
def events():
    acme = PartnerFactory(slug="acme", name="Acme Media")
    noon = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    EventFactory(partner=acme, type_id=EventType.REGISTRATION, occurred_at=noon)
    EventFactory(partner=acme, type_id=EventType.REGISTRATION, occurred_at=noon)
    stats_rollup_refresh()


def _chart(page: str) -> dict:
    match = re.search(r'<script id="stats-chart-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def _labels(response) -> list[str]:
    return [column.label for column in response.context["columns"]]


def _series(chart: dict, group: str, label: str) -> list[int]:
    return next(one["values"] for one in chart[group] if one["label"] == label)


def test_statistics_page_shows_the_table_totals_and_daily_charts(admin_client, events):
    response = admin_client.get(URL, {**RANGE, "group_by": ["partner", "event_type"]})

    assert response.status_code == 200
    page = response.content.decode()
    assert _labels(response)[:3] == ["Partner", "Event type", "Events"]
    assert response.context["rows"][0][:3] == ["Acme Media", "registration", "2"]
    assert "<tfoot>" in page and "reporting/stats-chart.js" in page
    assert "reporting/vendor/chartjs/chart.umd.min.js" in page
    chart = _chart(page)
    assert chart["days"] == ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert _series(chart, "events", "Registrations") == [0, 2, 0]
    assert [one["label"] for one in chart["deliveries"]] == ["Postbacks delivered", "Postbacks failed"]
    assert "Counted up to " in page


def test_first_visit_groups_by_partner_and_charts_every_day(admin_client, events):
    response = admin_client.get(URL, {"from": "2026-11-19", "to": "2026-11-21"})

    assert _labels(response)[:2] == ["Partner", "Events"]
    assert _series(_chart(response.content.decode()), "events", "Events") == [0, 2, 0]


def test_every_column_has_a_human_label_and_a_definition_on_the_page(admin_client, events):
    response = admin_client.get(URL, RANGE)

    page = response.content.decode()
    for column in response.context["columns"]:
        assert "_" not in column.label and column.definition
        assert f'title="{column.definition}"' in page.replace("&#x27;", "'")
    assert 'id="stats-glossary"' in page and "deliveries_delivered" not in page


def test_unattributed_events_are_named_so(admin_client):
    EventFactory(partner=None, type_id=EventType.REGISTRATION, occurred_at=dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))
    stats_rollup_refresh()

    response = admin_client.get(URL, {**RANGE, "group_by": "partner"})

    assert response.context["rows"][0][0] == "(unattributed)"


def test_conversion_is_the_share_of_a_registration_cohort_that_deposited(admin_client):
    # given: three players registered in the range, two of whom deposited; one deposit came from an older player
    acme = PartnerFactory(slug="acme", name="Acme Media")
    noon = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    for n in range(3):
        PlayerFactory(partner=acme, registered_at=noon, first_deposit_at=noon if n < 2 else None)
    PlayerFactory(partner=acme, registered_at=noon - dt.timedelta(days=60), first_deposit_at=noon)
    for n in range(3):
        EventFactory(partner=acme, type_id=EventType.DEPOSIT, is_first_deposit=True, amount=5, currency="EUR",
                     occurred_at=noon)
    stats_rollup_refresh()

    # when
    response = admin_client.get(URL, {**RANGE, "group_by": "partner"})

    # then: 2 of 3, although there were 3 first deposits and no registration event at all
    conversion = _labels(response).index("Conversion")
    assert response.context["rows"][0][conversion] == "66.7 %"


def test_the_totals_row_converts_every_partners_cohort_together(admin_client):
    noon = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    acme, other = PartnerFactory(slug="acme", name="Acme Media"), PartnerFactory(slug="other", name="Other")
    for n in range(3):
        PlayerFactory(partner=acme, registered_at=noon, first_deposit_at=noon if n < 2 else None)
    PlayerFactory(partner=other, registered_at=noon + dt.timedelta(days=1), first_deposit_at=noon)
    EventFactory(partner=acme, type_id=EventType.REGISTRATION, occurred_at=noon)
    stats_rollup_refresh()

    response = admin_client.get(URL, {**RANGE, "group_by": ["day", "partner"], "applied": "1"})

    # 3 of 4 players of the range deposited, whichever day and partner they came in on
    conversion = _labels(response).index("Conversion") - response.context["group_columns"]
    assert response.context["totals"][conversion] == "75.0 %"


def test_money_shows_only_currencies_in_use_with_separators(admin_client):
    noon = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    acme, other = PartnerFactory(slug="acme", name="Acme Media"), PartnerFactory(slug="other", name="Other")
    EventFactory(partner=acme, type_id=EventType.DEPOSIT, amount=Decimal("12345.5"), currency="EUR", occurred_at=noon)
    EventFactory(partner=other, type_id=EventType.DEPOSIT, amount=Decimal("300"), currency="USD", occurred_at=noon)
    stats_rollup_refresh()

    response = admin_client.get(URL, {**RANGE, "group_by": "partner"})

    labels = _labels(response)
    assert [label for label in labels if label.startswith(("Deposits", "Payouts"))] == ["Deposits EUR", "Deposits USD"]
    rows = {row[0]: row for row in response.context["rows"]}
    assert rows["Acme Media"][labels.index("Deposits EUR")] == "12,345.50 EUR"
    assert rows["Acme Media"][labels.index("Deposits USD")] == ""


def test_date_presets_keep_the_filters_and_mark_the_range_shown(admin_client, events):
    response = admin_client.get(URL, {"applied": "1", "group_by": ["day", "partner"]})

    presets = {preset["label"]: preset for preset in response.context["presets"]}
    assert list(presets) == ["Today", "Last 7 days", "Last 30 days", "This month", "Last month"]
    assert presets["Last 30 days"]["current"]
    assert "group_by=day&group_by=partner" in presets["Today"]["query"]


@pytest.mark.parametrize(("today", "shown", "current"), [
    (dt.date(2026, 12, 7), ("2026-12-01", "2026-12-07"), "Last 7 days"),  # also this month
    (dt.date(2026, 12, 1), ("2026-12-01", "2026-12-01"), "Today"),  # also this month
])
def test_one_preset_is_current_when_two_name_the_same_days(admin_client, monkeypatch, today, shown, current):
    monkeypatch.setattr("console.reporting.reporting_today", lambda: today)

    response = admin_client.get(URL, {"applied": "1", "from": shown[0], "to": shown[1], "group_by": "partner"})

    assert [preset["label"] for preset in response.context["presets"] if preset["current"]] == [current]
    assert response.content.decode().count('aria-current="true"') == 1


def test_a_bad_range_keeps_the_grouping_chosen(admin_client):
    response = admin_client.get(URL, {"applied": "1", "from": "2026-11-21", "to": "2026-11-19", "group_by": "day"})

    page = response.content.decode()
    assert 'value="day" checked' in page and 'value="partner" checked' not in page


def test_statistics_page_offers_the_same_numbers_as_csv(admin_client, events):
    response = admin_client.get(URL, {**RANGE, "group_by": "partner", "download": "csv"})

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeffpartner,events,")
    assert text.splitlines()[1].startswith("acme,2,")


def test_statistics_page_explains_bad_filters(admin_client):
    response = admin_client.get(URL, {"applied": "1", "from": "yesterday"})

    assert response.status_code == 200
    assert "from: &#x27;yesterday&#x27; is not a date" in response.content.decode()


def test_statistics_page_needs_the_view_permission(client):
    staff = User.objects.create_user("marketer", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_statistics"))
    assert client.get(URL).status_code == 200
