"""Settings as a fresh process sees them: each test starts Python with only the variables it names."""

from tests.support.fresh_process import DJANGO_SETUP, django_setup, run_python
from tests.support.processes import ROOT

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-grade-secret-key-that-is-long-and-random-0123456789abcdef",
    "ALLOWED_HOSTS": "postbacks.example.com",
    "BEHIND_TLS_PROXY": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


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


def test_production_cookies_are_secure_and_http_only(tmp_path):
    values = _settings_values(
        tmp_path,
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.X_FRAME_OPTIONS",
        **PRODUCTION_ENV,
    )

    assert values == ["True", "True", "True", "DENY"]


def test_calls_to_the_shared_redis_give_up_after_the_configured_time(tmp_path):
    # A silent network must fail a throttle or version check quickly, not hold the request.
    names = "s.CACHES['default']['OPTIONS']['socket_connect_timeout'], s.CACHES['default']['OPTIONS']['socket_timeout']"
    values = _settings_values(tmp_path, names, DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/15",
                              REDIS_TIMEOUT_SECONDS="0.5")

    assert values == ["0.5", "0.5"]
