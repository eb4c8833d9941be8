"""Settings as a fresh process sees them: each test starts Python with only the variables it names."""

import pytest

from tests.support.fresh_process import DJANGO_SETUP, PRODUCTION_ENV, django_setup, run_python
from tests.support.processes import ROOT


def _settings_values(tmp_path, names: str, **env: str) -> list[str]:
    code = f"{DJANGO_SETUP}; from django.conf import settings as s; print({names})"
    result = run_python(tmp_path, "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_debug_off_without_secret_key_refuses_to_start_and_names_it(tmp_path):
    result = django_setup(tmp_path, DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY is missing" in result.stderr


def test_debug_off_with_the_example_secret_key_refuses_to_start(tmp_path):
    result = django_setup(tmp_path, DEBUG="false", SECRET_KEY="change-me")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_malformed_allowed_networks_names_the_variable(tmp_path):
    result = django_setup(tmp_path, SECRET_KEY="x" * 40, POSTBACK_ALLOWED_NETWORKS="10.0.0.0/8,not-a-net")

    assert result.returncode != 0
    assert "POSTBACK_ALLOWED_NETWORKS: 'not-a-net'" in result.stderr


def test_no_environment_means_sqlite_and_the_filesystem_broker(tmp_path):
    values = _settings_values(
        tmp_path, "s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.DEBUG", SECRET_KEY="x" * 40
    )

    assert values == ["django.db.backends.sqlite3", "filesystem://", "False"]


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    result = run_python(tmp_path, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "env, proxies",
    [({}, "0"), ({"BEHIND_TLS_PROXY": "true"}, "1"), ({"BEHIND_TLS_PROXY": "true", "TRUSTED_PROXY_COUNT": "2"}, "2"),
     ({"TRUSTED_PROXY_COUNT": ""}, "0")],
)
def test_the_trusted_proxy_count_follows_behind_tls_proxy_unless_set(tmp_path, env, proxies):
    assert _settings_values(tmp_path, "s.TRUSTED_PROXY_COUNT", SECRET_KEY="x" * 40, **env) == [proxies]


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_a_trusted_proxy_count_that_is_not_a_whole_number_names_the_variable(tmp_path, value):
    result = django_setup(tmp_path, SECRET_KEY="x" * 40, TRUSTED_PROXY_COUNT=value)

    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT must be a whole number" in result.stderr


def test_calls_to_the_shared_redis_give_up_after_the_configured_time(tmp_path):
    # A silent network must fail a throttle or version check quickly, not hold the request.
    names = "s.CACHES['default']['OPTIONS']['socket_connect_timeout'], s.CACHES['default']['OPTIONS']['socket_timeout']"
    values = _settings_values(tmp_path, names, DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/15",
                              REDIS_TIMEOUT_SECONDS="0.5")

    assert values == ["0.5", "0.5"]


@pytest.mark.parametrize("name", ["API_AUTH_FAILURE_LIMIT", "API_AUTH_FAILURE_WINDOW_SECONDS"])
def test_a_failure_throttle_below_one_refuses_to_start_and_names_it(tmp_path, name):
    result = django_setup(tmp_path, SECRET_KEY="x" * 40, **{name: "0"})

    assert result.returncode != 0
    assert "API_AUTH_FAILURE_LIMIT and API_AUTH_FAILURE_WINDOW_SECONDS must be 1 or more" in result.stderr


def test_retention_limits_follow_the_events_unless_set(tmp_path):
    values = _settings_values(
        tmp_path, "s.EVENT_RETENTION_DAYS, s.DELIVERY_RETENTION_DAYS, s.ATTEMPT_RETENTION_DAYS",
        SECRET_KEY="x" * 40, EVENT_RETENTION_DAYS="400", ATTEMPT_RETENTION_DAYS="90",
    )

    assert values == ["400", "400", "90"]


@pytest.mark.parametrize(("env", "message"), [
    ({"EVENT_RETENTION_DAYS": "365", "DELIVERY_RETENTION_DAYS": "0"},
     "DELIVERY_RETENTION_DAYS keeps rows for ever, longer than EVENT_RETENTION_DAYS=365"),
    ({"DELIVERY_RETENTION_DAYS": "90", "ATTEMPT_RETENTION_DAYS": "120"},
     "ATTEMPT_RETENTION_DAYS keeps rows 120 days, longer than DELIVERY_RETENTION_DAYS=90"),
    ({"EVENT_RETENTION_DAYS": "-1"}, "EVENT_RETENTION_DAYS must be 0 (keep for ever) or a number of days"),
    ({"POSTBACK_PARTITION_MONTHS": "5"}, "POSTBACK_PARTITION_MONTHS must divide the year"),
    ({"POSTBACK_PARTITIONS_AHEAD_MONTHS": "0"}, "POSTBACK_PARTITIONS_AHEAD_MONTHS must be 1 or more"),
])
def test_storage_settings_that_cannot_work_refuse_to_start_and_say_why(tmp_path, env, message):
    result = django_setup(tmp_path, SECRET_KEY="x" * 40, **env)

    assert result.returncode != 0
    assert message in result.stderr
