"""Start a clean Python process with only the variables a test names, to see settings as start-up does."""

import subprocess
import sys

from tests.support.processes import ROOT

DJANGO_SETUP = "import django; django.setup()"
# A production deployment behind a TLS proxy, as the topology in docs/operating.md describes it.
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


def run_python(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "postback_platform.settings"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=tmp_path,  # away from a developer's .env and the tests' own packages
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def django_setup(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return run_python(tmp_path, "-c", DJANGO_SETUP, **env)
