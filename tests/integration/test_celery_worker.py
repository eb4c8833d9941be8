import uuid

import pytest

from deliveries.models import Heartbeat
from postback_platform.celery import app as celery_app
from tests.support.processes import celery_worker, child_env, wait_until
from tests.support.services import child_database_url, redis_url, require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_consumes_a_task_from_redis():
    require_postgres()
    broker = redis_url()
    queue = f"it-{uuid.uuid4().hex[:8]}"
    env = child_env(DATABASE_URL=child_database_url(), CELERY_BROKER_URL=broker)

    with celery_worker(queues=queue, env=env) as worker:
        celery_app.send_task("deliveries.tasks.record_heartbeat", kwargs={"name": queue}, queue=queue)

        wait_until(
            lambda: Heartbeat.objects.filter(name=queue).exists() or worker.poll() is not None,
            timeout=60,
            message="the worker to record the heartbeat",
        )

    assert Heartbeat.objects.filter(name=queue).exists(), worker.stdout.read().decode()[-3000:]
