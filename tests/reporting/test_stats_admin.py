import datetime as dt
import json
import re

import pytest
from django.contrib.auth.models import Permission, User

from events.models import EventType
from reporting.rollup import stats_rollup_refresh
from tests.factories import EventFactory, PartnerFactory

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


def test_statistics_page_shows_the_table_totals_and_a_daily_chart(admin_client, events):
    response = admin_client.get(URL, {**RANGE, "group_by": ["partner", "event_type"]})

    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["header"][:3] == ["partner", "event_type", "events"]
    assert response.context["rows"][0][:3] == ["acme", "registration", "2"]
    assert "<tfoot>" in page and "reporting/stats-chart.js" in page
    chart = _chart(page)
    assert chart["days"] == ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert chart["series"]["registrations"] == [0, 2, 0]
    assert "Counted up to " in page


def test_first_visit_groups_by_everything_and_charts_the_same_days(admin_client, events):
    response = admin_client.get(URL, {"from": "2026-11-19", "to": "2026-11-21"})

    assert response.context["header"][:3] == ["day", "partner", "event_type"]
    assert _chart(response.content.decode())["series"]["events"] == [0, 2, 0]


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
