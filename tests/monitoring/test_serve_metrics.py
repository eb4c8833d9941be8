from io import BytesIO
from wsgiref.util import setup_testing_defaults

import pytest

from monitoring.management.commands.serve_metrics import metrics_app

pytestmark = pytest.mark.django_db


def _get(path: str, **headers) -> tuple[str, bytes]:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "REMOTE_ADDR": "10.9.8.7", "wsgi.input": BytesIO()}
    environ.update(headers)
    setup_testing_defaults(environ)
    answer = {}
    body = metrics_app(environ, lambda status, headers: answer.update(status=status))
    return answer["status"], b"".join(body)


def test_the_worker_host_server_answers_metrics_behind_the_same_token(metrics_token):
    status, body = _get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")

    assert status == "200 OK"
    assert b"# TYPE postback_delivery_attempts_total counter" in body and b"postback_deliveries_due 0.0" in body
    assert _get("/metrics")[0] == "401 Unauthorized"


def test_the_worker_host_server_serves_nothing_else(metrics_token):
    assert _get("/admin/")[0] == "404 Not Found"
