import subprocess
import sys

from tests.support.processes import ROOT


def _import_settings(**env) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "postback_platform.settings"}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT / "tests",  # away from a developer's .env
        env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_debug_off_without_secret_key_refuses_to_start_and_names_it():
    result = _import_settings(DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY is missing" in result.stderr


def test_debug_off_with_the_example_secret_key_refuses_to_start():
    result = _import_settings(DEBUG="false", SECRET_KEY="change-me")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_malformed_allowed_networks_names_the_variable():
    result = _import_settings(SECRET_KEY="x" * 40, POSTBACK_ALLOWED_NETWORKS="10.0.0.0/8,not-a-net")

    assert result.returncode != 0
    assert "POSTBACK_ALLOWED_NETWORKS: 'not-a-net'" in result.stderr


def test_no_environment_means_sqlite_and_the_filesystem_broker():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.DEBUG)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "tests",
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "postback_platform.settings",
             "SECRET_KEY": "x" * 40},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://", "False"], result.stderr
