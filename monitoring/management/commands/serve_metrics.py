"""``manage.py serve_metrics``: GET /metrics on a host that runs Celery workers but no web server.

The workers' counters live in that host's PROMETHEUS_MULTIPROC_DIR; this
small server adds them up for Prometheus, behind the same METRICS_TOKEN or
METRICS_ALLOWED_NETWORKS gate as the web app's /metrics.
"""

from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.handlers.wsgi import WSGIRequest
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from monitoring.views import metrics


def metrics_app(environ, start_response):
    """A WSGI app that answers /metrics through the web app's own view, and nothing else."""
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"Only /metrics is served here.\n"]
    try:
        response = metrics(WSGIRequest(environ))
    finally:
        close_old_connections()
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return [response.content]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature wsgiref calls
        """A scrape every few seconds is not news; failures show in Prometheus as a down target."""


class Command(BaseCommand):
    help = "Serve GET /metrics for this host's processes (for worker hosts that run no web server)."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=9464, help="Port to listen on (default 9464).")

    def handle(self, *args, address: str, port: int, **options):
        server = make_server(address, port, metrics_app, server_class=_Server, handler_class=_QuietHandler)
        self.stdout.write(f"Serving /metrics on http://{address}:{port}/metrics")
        with server:
            server.serve_forever()
