"""GET /metrics for Prometheus, open only to a bearer token or an allowed network from settings."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from .metrics import exposition


def _token_matches(request) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    token = settings.METRICS_TOKEN
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token)


def _address_allowed(request) -> bool:
    # REMOTE_ADDR is the direct peer: behind a reverse proxy, that is the proxy (see docs/operating.md, "Metrics").
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def _refusal() -> HttpResponse:
    if settings.METRICS_TOKEN:
        response = HttpResponse(
            "Metrics need Authorization: Bearer <METRICS_TOKEN>.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if settings.METRICS_ALLOWED_NETWORKS:
        return HttpResponse(
            "Metrics are served only to the networks in METRICS_ALLOWED_NETWORKS.\n",
            status=403, content_type="text/plain",
        )
    return HttpResponse(
        "Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_NETWORKS to let Prometheus in.\n",
        status=403, content_type="text/plain",
    )


@require_GET
def metrics(request):
    if not (_token_matches(request) or _address_allowed(request)):
        return _refusal()
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
