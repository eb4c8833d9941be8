from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import AFFILIATE_MANAGERS
from monitoring.models import Alert
from tests.admin.conftest import member_of

pytestmark = pytest.mark.django_db


def test_the_dashboard_lists_open_alerts_and_those_resolved_today(client):
    now = timezone.now()
    Alert.objects.create(
        kind=Alert.Kind.FAILURE_RATE, key="failure_rate:1", summary="Acme · main: 30 of 40 attempts failed",
        opened_notified_at=now,
    )
    Alert.objects.create(
        kind=Alert.Kind.BACKLOG_AGE, key="backlog_age", summary="the backlog was old",
        opened_at=now - timedelta(hours=2), resolved_at=now - timedelta(hours=1),
    )
    Alert.objects.create(
        kind=Alert.Kind.BACKLOG_AGE, key="backlog_age", summary="last week's backlog",
        opened_at=now - timedelta(days=7), resolved_at=now - timedelta(days=6),
    )
    client.force_login(member_of(AFFILIATE_MANAGERS))

    page = client.get("/admin/dashboard/").content.decode()

    alerts = page.split('id="alerts"')[1].split("</section>")[0]
    assert "Acme · main: 30 of 40 attempts failed" in alerts and "Endpoint failure rate over threshold" in alerts
    assert "Resolved in the last 24 hours" in alerts and "the backlog was old" in alerts
    assert "last week" not in alerts


def test_managers_read_alerts_in_the_admin_but_cannot_change_them(client):
    alert = Alert.objects.create(kind=Alert.Kind.BACKLOG_AGE, key="backlog_age", summary="old backlog")
    client.force_login(member_of(AFFILIATE_MANAGERS))

    assert "old backlog" in client.get("/admin/monitoring/alert/").content.decode()
    page = client.get(f"/admin/monitoring/alert/{alert.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert client.post(f"/admin/monitoring/alert/{alert.pk}/delete/").status_code == 403
