"""PostgreSQL restarted under load: 503 while it is down (never a 500), recovery by itself, nothing half-stored.

A throwaway cluster of the test's own (initdb in a temporary directory) is
stopped and started again while clients post events through real gunicorn.
Clients resend what got a 503, as the API asks; at the end every event they
sent is stored exactly once, each with its delivery, since an event and its
deliveries commit together or not at all.
"""

import threading
from unittest import mock

import psycopg2
import pytest
from django.db import OperationalError

from deliveries.models import Delivery
from events.models import Event
from tests.support.partner import partner_server
from tests.support.processes import child_env
from tests.support.services import require_programs
from tests.support.stack import PG_BIN, gunicorn, manage, postgres_cluster, tail

from .clients import post_continuously, through_an_outage, warm_up
from .conftest import FAST_RECOVERY

pytestmark = pytest.mark.faults


@pytest.mark.integration
def test_the_api_answers_503_while_postgresql_restarts_and_recovers_by_itself(own_redis, workdir):
    require_programs(str(PG_BIN / "initdb"), "runuser")
    with postgres_cluster() as cluster, partner_server() as partner:
        env = child_env(DATABASE_URL=cluster.url(), CELERY_BROKER_URL=f"{own_redis.url}/0",
                        REDIS_URL=f"{own_redis.url}/1", **FAST_RECOVERY)
        manage(env, "migrate", "--noinput", timeout=180)
        platform_key = manage(env, "create_api_key", "faults").strip().splitlines()[-1]
        admin_key = manage(env, "create_api_key", "faults-admin", "--role", "admin").strip().splitlines()[-1]
        with gunicorn(env, workdir) as base_url:
            _configure_a_global_endpoint(base_url, admin_key, partner.url)
            warm_up(base_url=base_url, key=platform_key, partner="g")
            stop = threading.Event()
            answers, clients = post_continuously(base_url=base_url, key=platform_key, partner="g", clients=3,
                                                 stop=stop, retry_unavailable=True)
            down_answers, after_answers = through_an_outage(
                answers, stop_service=cluster.stop, start_service=cluster.start, after=3.0
            )
            stop.set()
            for client in clients:
                client.join(timeout=30)
        stored = _stored_events(cluster.url())

    statuses = answers.all_statuses()
    print(f"{len(statuses)} answers, {len(down_answers)} while PostgreSQL was down: {sorted(set(down_answers))}")
    assert 500 not in statuses, tail(workdir / "gunicorn.log")
    assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
    assert down_answers.count(503) >= 5, "the clients must have been answered 503 while the database was down"
    assert 201 in after_answers, "the API must recover by itself once PostgreSQL is back"
    assert {event_id for event_id, _ in stored} == answers.stored()
    assert all(deliveries == 1 for _, deliveries in stored), "an event was stored without its delivery"


def _configure_a_global_endpoint(base_url: str, admin_key: str, partner_url: str) -> None:
    import requests

    headers = {"Authorization": f"Bearer {admin_key}"}
    partner = {"slug": "g", "name": "Global", "scope": "all"}
    endpoint = {"name": "all", "url_template": partner_url + "/pb?e={event_id}", "method": "GET",
                "event_types": ["registration"]}
    for path, body in [("/api/v1/partners/", partner), ("/api/v1/partners/g/endpoints/", endpoint)]:
        response = requests.post(base_url + path, json=body, headers=headers, timeout=10)
        assert response.status_code == 201, response.text


def _stored_events(database_url: str) -> list[tuple[str, int]]:
    """(event_id, number of deliveries) for every client event in the throwaway database."""
    events, deliveries = Event._meta.db_table, Delivery._meta.db_table
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT e.event_id, count(d.id) FROM {events} e LEFT JOIN {deliveries} d ON d.event_id = e.id "  # noqa: S608
                "WHERE e.event_id NOT LIKE 'warm-up-%%' GROUP BY e.event_id"
            )
            return cursor.fetchall()
    finally:
        connection.close()


@pytest.mark.django_db
def test_a_database_error_is_a_503_with_retry_after_not_a_500(platform_client):
    # The in-process twin of the test above.
    with mock.patch("accounts.authentication.api_key_get_active", side_effect=OperationalError("server closed")):
        response = platform_client.post("/api/v1/events/", {"event_id": "e", "type": "registration",
                                                            "player_id": "p"}, format="json")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "retry" in response.json()["detail"].lower()
