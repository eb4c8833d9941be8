"""The one way out: every postback request goes through this module.

Here, and only here: the per-endpoint timeout, no redirects, the fixed
User-Agent, and the private-address guard, checked on the address a name
actually resolves to and pinned for the connection, so DNS cannot swap in
an internal target between the check and the connect.
"""

import ipaddress

from django.conf import settings
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_refusal(address: IPAddress) -> str | None:
    """Why a postback may not go to ``address``, or None when it may.

    Loopback, private, link-local, multicast, reserved and unspecified
    addresses (and the extra ranges requests-hardened knows of, such as
    CG-NAT) are refused unless ``POSTBACK_ALLOWED_NETWORKS`` admits them.
    """
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in settings.POSTBACK_ALLOWED_NETWORKS):
        return None
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if any(address in network for network in EXTRA_BLOCKED_NET_RANGES):
        return f"{address} is in a non-public range"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
