"""Which addresses a postback may reach: an allow-list of what is global.

An address is allowed when an operator admitted it (``POSTBACK_ALLOWED_NETWORKS``)
or when it is a globally routable unicast address outside every range of
IANA's IPv4 and IPv6 special-purpose address registries. Everything else is
refused with the range that refused it. The tables are written here rather
than taken from Python's ``is_global``, whose idea of "global" has lagged
the registries (it calls the deprecated site-local ``fec0::/10`` global).

Two IPv6 forms are only another spelling of an IPv4 address, and are judged
as that address: IPv4-mapped ``::ffff:a.b.c.d`` (how a dual-stack socket
names an IPv4 peer) and the NAT64 well-known prefix ``64:ff9b::/96``, which
DNS64 resolvers answer on IPv6-only hosts and which a translator turns into
a connection to the embedded IPv4 address. Tunnels (6to4, Teredo) and the
local-use NAT64 prefix, whose embedded address depends on a local set-up,
are refused whatever they embed.

Pure functions of the address and the allowed networks: the HTTP module asks
when it connects, endpoint validation when a URL is saved.
"""

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _table(*rows: tuple[str, str, str]) -> list[tuple[IPNetwork, str]]:
    # The most specific range first, so a reason names the narrowest range that holds the address.
    networks = [(ipaddress.ip_network(cidr), f"{what} ({cidr}, {source})") for cidr, what, source in rows]
    return sorted(networks, key=lambda row: -row[0].prefixlen)


# IANA IPv4 Special-Purpose Address Registry, the multicast space and the limited broadcast address.
_IPV4_REFUSED = _table(
    ("0.0.0.0/8", "a 'this network' address", "RFC 791"),
    ("10.0.0.0/8", "a private address", "RFC 1918"),
    ("100.64.0.0/10", "a shared carrier-grade NAT address", "RFC 6598"),
    ("127.0.0.0/8", "a loopback address", "RFC 1122"),
    ("169.254.0.0/16", "a link-local address", "RFC 3927"),
    ("172.16.0.0/12", "a private address", "RFC 1918"),
    ("192.0.0.0/24", "an IETF protocol assignment", "RFC 6890"),
    ("192.0.2.0/24", "a documentation address", "RFC 5737"),
    ("192.31.196.0/24", "an AS112 service address", "RFC 7535"),
    ("192.52.193.0/24", "an AMT relay address", "RFC 7450"),
    ("192.88.99.0/24", "a 6to4 relay anycast address", "RFC 7526"),
    ("192.168.0.0/16", "a private address", "RFC 1918"),
    ("192.175.48.0/24", "an AS112 service address", "RFC 7534"),
    ("198.18.0.0/15", "a benchmarking address", "RFC 2544"),
    ("198.51.100.0/24", "a documentation address", "RFC 5737"),
    ("203.0.113.0/24", "a documentation address", "RFC 5737"),
    ("224.0.0.0/4", "a multicast address", "RFC 5771"),
    ("240.0.0.0/4", "a reserved address", "RFC 1112"),
    ("255.255.255.255/32", "the limited broadcast address", "RFC 919"),
)

_IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
# Only this block is global unicast (RFC 4291); the rest of the IPv6 space is reserved, local or multicast.
_IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")

# IANA IPv6 Special-Purpose Address Registry, and the deprecated or scoped
# blocks outside it, each named so a refusal says what the address is.
_IPV6_REFUSED = _table(
    ("::/128", "the unspecified address", "RFC 4291"),
    ("::1/128", "the loopback address", "RFC 4291"),
    ("::/96", "an IPv4-compatible address", "deprecated, RFC 4291"),
    ("64:ff9b:1::/48", "a local-use IPv4/IPv6 translation address", "RFC 8215"),
    ("100::/64", "a discard-only address", "RFC 6666"),
    ("100:0:0:1::/64", "a dummy address", "RFC 9780"),
    ("2001::/23", "an IETF protocol assignment", "RFC 2928"),
    ("2001::/32", "a Teredo tunnel address", "RFC 4380"),
    ("2001:2::/48", "a benchmarking address", "RFC 5180"),
    ("2001:db8::/32", "a documentation address", "RFC 3849"),
    ("2002::/16", "a 6to4 tunnel address", "RFC 3056"),
    ("2620:4f:8000::/48", "an AS112 service address", "RFC 7534"),
    ("3fff::/20", "a documentation address", "RFC 9637"),
    ("5f00::/16", "an SRv6 segment identifier", "RFC 9602"),
    ("fc00::/7", "a unique-local (private) address", "RFC 4193"),
    ("fe80::/10", "a link-local address", "RFC 4291"),
    ("fec0::/10", "a site-local address", "deprecated, RFC 3879"),
    ("ff00::/8", "a multicast address", "RFC 4291"),
)


def refusal(address: IPAddress, *, allowed_networks: Iterable[IPNetwork] = ()) -> str | None:
    """Why a postback may not go to ``address``, or None when it may."""
    embedded = embedded_ipv4(address)
    reached = (address,) if embedded is None else (address, embedded)
    if any(candidate in network for network in allowed_networks for candidate in reached):
        return None
    if embedded is not None:
        what = _special_range(embedded)
        return f"{address} stands for {embedded}, {what}" if what else None
    what = _special_range(address)
    return f"{address} is {what}" if what else None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped or NAT64 (well-known prefix) address reaches, else None."""
    if address.version == 6 and (address in _IPV4_MAPPED or address in _NAT64_WELL_KNOWN):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def _special_range(address: IPAddress) -> str | None:
    """What non-global range holds ``address``, or None for a global unicast address."""
    table = _IPV4_REFUSED if address.version == 4 else _IPV6_REFUSED
    for network, what in table:
        if address in network:
            return what
    if address.version == 6 and address not in _IPV6_GLOBAL_UNICAST:
        return f"outside the global unicast block {_IPV6_GLOBAL_UNICAST}, reserved by the IETF (RFC 4291)"
    return None
