"""The address of the client behind the trusted proxies: what login lock-outs and API throttles key on.

Behind proxies, ``REMOTE_ADDR`` is the last proxy's address, shared by every
client. Each proxy appends the address of its own peer to
``X-Forwarded-For``, so with ``TRUSTED_PROXY_COUNT`` proxies in front of the
web processes the client is the entry that many places from the right.
Entries further left were written by the client itself and are never read:
a forged ``X-Forwarded-For`` only adds entries there. The web processes must
therefore be reachable only through those proxies (as ``BEHIND_TLS_PROXY``
already assumes for ``X-Forwarded-Proto``).
"""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    """The client's IP address for ``request`` (a Django or DRF request)."""
    peer = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count == 0:
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < count:
        # Fewer hops than proxies: the request did not come through all of them, so only the peer is known.
        return peer
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:  # a proxy that writes something else: the peer is all that is known
        return peer
