from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Alert
from postback_platform.celery import app as celery_app
from tests.factories import DeliveryFactory
from tests.support.fresh_process import django_setup


def test_a_malformed_metrics_network_names_the_variable(tmp_path):
    result = django_setup(tmp_path, SECRET_KEY="x" * 40, METRICS_ALLOWED_NETWORKS="10.0.0.0/8,prometheus")

    assert result.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS: 'prometheus' is not a CIDR network" in result.stderr


@pytest.mark.parametrize("threshold", ["0", "1.5", "-0.2"])
def test_a_failure_rate_threshold_outside_zero_to_one_refuses_to_start(tmp_path, threshold):
    result = django_setup(tmp_path, SECRET_KEY="x" * 40, ALERT_FAILURE_RATE_THRESHOLD=threshold)

    assert result.returncode != 0
    assert "ALERT_FAILURE_RATE_THRESHOLD must be a fraction above 0 and at most 1" in result.stderr


@pytest.mark.django_db
def test_beat_runs_the_alert_evaluation(settings):
    (entry,) = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"].startswith("monitoring.")]
    settings.ALERT_BACKLOG_AGE_SECONDS = 60
    DeliveryFactory(next_attempt_at=timezone.now() - timedelta(minutes=5))
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery finds the task

    celery_app.tasks[entry["task"]].delay()

    assert entry["schedule"] == 60.0
    assert Alert.objects.get().kind == Alert.Kind.BACKLOG_AGE
