"""Counters kept by real Celery prefork worker processes add up in one scrape (PROMETHEUS_MULTIPROC_DIR)."""

import uuid

import pytest

from deliveries.models import Delivery
from postback_platform.celery import app as celery_app
from tests.factories import DeliveryFactory, PartnerFactory, PostbackEndpointFactory
from tests.monitoring.conftest import samples
from tests.support.processes import celery_worker, child_env, wait_until
from tests.support.services import child_database_url, redis_url, require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
DELIVERIES = 12
SUCCESSES = ("postback_delivery_attempts_total", (("error_class", "none"), ("outcome", "success")))


def test_counters_of_worker_processes_reach_the_web_scrape(tmp_path, httpserver, client, metrics_token, monkeypatch):
    require_postgres()
    broker = redis_url()
    queue = f"it-{uuid.uuid4().hex[:8]}"
    endpoint = PostbackEndpointFactory(
        partner=PartnerFactory(slug="acme"), url_template=f"http://127.0.0.1:{httpserver.port}/pb"
    )
    httpserver.expect_request("/pb").respond_with_data("OK")
    DeliveryFactory.create_batch(DELIVERIES, endpoint=endpoint)
    env = child_env(
        DATABASE_URL=child_database_url(), CELERY_BROKER_URL=broker, PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        POSTBACK_ALLOWED_NETWORKS="127.0.0.0/8", POSTBACK_SENDER_MAX_IN_FLIGHT="2",
    )

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # this process now scrapes what the workers wrote

    def scrape() -> dict:
        return samples(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}").content.decode())

    with celery_worker(queues=queue, env=env, concurrency=2) as worker:
        for _ in range(4):
            celery_app.send_task("deliveries.tasks.send_due_deliveries", queue=queue)
        # A worker counts an attempt just after committing it, so the scrape may trail the rows for a moment.
        wait_until(
            lambda: scrape().get(SUCCESSES) == DELIVERIES or worker.poll() is not None,
            timeout=60,
            message="the workers' counters to show every postback delivered",
        )

    metrics = scrape()
    assert metrics.get(SUCCESSES) == DELIVERIES, worker.stdout.read().decode()[-3000:]
    assert Delivery.objects.filter(status="delivered").count() == DELIVERIES
    assert list(tmp_path.glob("counter_*.db")), "the workers wrote no metric files"
    assert metrics[("postback_deliveries_finished_total", (("partner", "acme"), ("status", "delivered")))] == DELIVERIES
    assert metrics[("postback_delivery_attempt_duration_seconds_count", ())] == DELIVERIES
