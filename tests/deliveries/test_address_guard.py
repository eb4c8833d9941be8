"""The address guard's decision, on its own: only global unicast addresses (or admitted networks) pass.

The tables below are written from IANA's IPv4 and IPv6 Special-Purpose
Address Registries (every entry, including those IANA marks globally
reachable, such as the anycast and AS112 blocks: a partner's postback URL
never points at one), plus the ranges the registries leave to others:
multicast, limited broadcast, the deprecated IPv6 site-local and
IPv4-compatible blocks and the reserved IPv6 space outside 2000::/3.
Nothing here opens a connection: the guard is a function of an address.
"""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.address_guard import embedded_ipv4, refusal

# IANA IPv4 Special-Purpose Address Registry.
IPV4_SPECIAL_PURPOSE = {
    "0.0.0.0/8": "This network (RFC 791)",
    "0.0.0.0/32": "This host on this network (RFC 1122)",
    "10.0.0.0/8": "Private-Use (RFC 1918)",
    "100.64.0.0/10": "Shared Address Space (RFC 6598)",
    "127.0.0.0/8": "Loopback (RFC 1122)",
    "169.254.0.0/16": "Link Local (RFC 3927)",
    "172.16.0.0/12": "Private-Use (RFC 1918)",
    "192.0.0.0/24": "IETF Protocol Assignments (RFC 6890)",
    "192.0.0.0/29": "IPv4 Service Continuity Prefix (RFC 7335)",
    "192.0.0.8/32": "IPv4 dummy address (RFC 7600)",
    "192.0.0.9/32": "Port Control Protocol Anycast (RFC 7723)",
    "192.0.0.10/32": "Traversal Using Relays around NAT Anycast (RFC 8155)",
    "192.0.0.170/32": "NAT64/DNS64 Discovery (RFC 8880)",
    "192.0.0.171/32": "NAT64/DNS64 Discovery (RFC 8880)",
    "192.0.2.0/24": "Documentation (TEST-NET-1, RFC 5737)",
    "192.31.196.0/24": "AS112-v4 (RFC 7535)",
    "192.52.193.0/24": "AMT (RFC 7450)",
    "192.88.99.0/24": "Deprecated (6to4 Relay Anycast, RFC 7526)",
    "192.88.99.2/32": "6a44-relay anycast address (RFC 6751)",
    "192.168.0.0/16": "Private-Use (RFC 1918)",
    "192.175.48.0/24": "Direct Delegation AS112 Service (RFC 7534)",
    "198.18.0.0/15": "Benchmarking (RFC 2544)",
    "198.51.100.0/24": "Documentation (TEST-NET-2, RFC 5737)",
    "203.0.113.0/24": "Documentation (TEST-NET-3, RFC 5737)",
    "240.0.0.0/4": "Reserved (RFC 1112)",
    "255.255.255.255/32": "Limited Broadcast (RFC 919)",
}
# Not special-purpose entries, and not unicast.
IPV4_OTHER_REFUSED = {"224.0.0.0/4": "Multicast (RFC 5771)"}

# IANA IPv6 Special-Purpose Address Registry.
IPV6_SPECIAL_PURPOSE = {
    "::1/128": "Loopback Address (RFC 4291)",
    "::/128": "Unspecified Address (RFC 4291)",
    "::ffff:0:0/96": "IPv4-mapped Address (RFC 4291)",
    "64:ff9b::/96": "IPv4-IPv6 Translat. (RFC 6052)",
    "64:ff9b:1::/48": "IPv4-IPv6 Translat. (RFC 8215)",
    "100::/64": "Discard-Only Address Block (RFC 6666)",
    "100:0:0:1::/64": "Dummy IPv6 Prefix (RFC 9780)",
    "2001::/23": "IETF Protocol Assignments (RFC 2928)",
    "2001::/32": "TEREDO (RFC 4380)",
    "2001:1::1/128": "Port Control Protocol Anycast (RFC 7723)",
    "2001:1::2/128": "Traversal Using Relays around NAT Anycast (RFC 8155)",
    "2001:1::3/128": "DNS-SD Service Registration Protocol Anycast (RFC 9665)",
    "2001:2::/48": "Benchmarking (RFC 5180)",
    "2001:3::/32": "AMT (RFC 7450)",
    "2001:4:112::/48": "AS112-v6 (RFC 7535)",
    "2001:10::/28": "Deprecated (previously ORCHID, RFC 4843)",
    "2001:20::/28": "ORCHIDv2 (RFC 7343)",
    "2001:30::/28": "Drone Remote ID Protocol Entity Tags (RFC 9374)",
    "2001:db8::/32": "Documentation (RFC 3849)",
    "2002::/16": "6to4 (RFC 3056)",
    "2620:4f:8000::/48": "Direct Delegation AS112 Service (RFC 7534)",
    "3fff::/20": "Documentation (RFC 9637)",
    "5f00::/16": "Segment Routing (SRv6) SIDs (RFC 9602)",
    "fc00::/7": "Unique-Local (RFC 4193)",
    "fe80::/10": "Link-Local Unicast (RFC 4291)",
}
# Outside the registry: deprecated, scoped, multicast, and the IETF-reserved space outside 2000::/3.
IPV6_OTHER_REFUSED = {
    "fec0::/10": "Site-local, deprecated (RFC 3879)",
    "::/96": "IPv4-compatible, deprecated (RFC 4291)",
    "ff00::/8": "Multicast (RFC 4291)",
    "4000::/3": "Reserved by the IETF (RFC 4291)",
    "8000::/3": "Reserved by the IETF (RFC 4291)",
    "e000::/4": "Reserved by the IETF (RFC 4291)",
    "fe00::/9": "Reserved by the IETF (RFC 4291)",
}
# Judged as the IPv4 address they stand for, so left out of the range-by-range checks below.
TRANSLATED = {"::ffff:0:0/96", "64:ff9b::/96"}

REFUSED_RANGES = {
    **IPV4_SPECIAL_PURPOSE, **IPV4_OTHER_REFUSED,
    **{cidr: what for cidr, what in IPV6_SPECIAL_PURPOSE.items() if cidr not in TRANSLATED}, **IPV6_OTHER_REFUSED,
}
REFUSED_NETWORKS = [ipaddress.ip_network(cidr) for cidr in REFUSED_RANGES]

GLOBAL_UNICAST = [
    "8.8.8.8", "1.1.1.1", "9.9.9.9", "93.184.215.14",
    # Right beside special-purpose ranges.
    "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.0",
    "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "191.255.255.255", "192.0.1.0",
    "192.0.3.0", "192.88.98.255", "192.88.100.0", "192.167.255.255", "192.169.0.0", "198.17.255.255",
    "198.20.0.0", "198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0", "223.255.255.255",
    "2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001:82b::200e",
    "2000::1", "2001:200::1", "2001:db7:ffff::1", "2001:db9::1", "2003::1", "3ffe::1", "3fff:1000::1",
    "2620:4f:7fff::1", "2620:4f:8001::1", "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
]


def _edges(cidr: str) -> list[str]:
    network = ipaddress.ip_network(cidr)
    middle = network.network_address + network.num_addresses // 2
    return sorted({str(network.network_address), str(middle), str(network.broadcast_address)})


EDGE_CASES = [(cidr, address) for cidr in REFUSED_RANGES for address in _edges(cidr)]


@pytest.mark.parametrize("cidr, address", EDGE_CASES)
def test_every_special_purpose_range_is_refused_from_its_first_to_its_last_address(cidr, address):
    assert refusal(ipaddress.ip_address(address)) is not None, f"{address} in {cidr} ({REFUSED_RANGES[cidr]})"


@pytest.mark.parametrize("address", GLOBAL_UNICAST)
def test_global_unicast_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["fec0::1", "fec0::a00:1", "feff:ffff::1"])
def test_ipv6_site_local_is_refused_though_python_calls_it_global(address):
    reason = refusal(ipaddress.ip_address(address))

    assert "site-local" in reason


def test_a_reason_names_the_address_and_the_narrowest_range():
    assert refusal(ipaddress.ip_address("10.0.0.7")) == "10.0.0.7 is a private address (10.0.0.0/8, RFC 1918)"
    assert "Teredo" in refusal(ipaddress.ip_address("2001::1"))
    assert "benchmarking" in refusal(ipaddress.ip_address("2001:2::1"))


IPV4_SPECIAL_SAMPLES = [address for cidr in IPV4_SPECIAL_PURPOSE | IPV4_OTHER_REFUSED for address in _edges(cidr)]


@pytest.mark.parametrize("embedded", IPV4_SPECIAL_SAMPLES)
def test_ipv4_mapped_and_nat64_forms_of_a_special_address_are_refused(embedded):
    v4 = int(ipaddress.IPv4Address(embedded))
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | v4)
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | v4)

    assert embedded_ipv4(mapped) == embedded_ipv4(nat64) == ipaddress.IPv4Address(embedded)
    assert f"stands for {embedded}" in refusal(mapped)
    assert f"stands for {embedded}" in refusal(nat64)


@pytest.mark.parametrize("address", ["::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "64:ff9b::1.1.1.1"])
def test_ipv4_mapped_and_nat64_forms_of_a_global_address_pass(address):
    # DNS64 answers 64:ff9b::/96 for IPv4-only partners on IPv6-only hosts: the translator reaches the embedded address.
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "address",
    [
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:808:808::1",  # 6to4 of 8.8.8.8: a deprecated tunnel all the same
        "2001:0:a00:1::1",  # Teredo with server 10.0.0.1
        "2001:0:c0a8:101:0:f227:3fff:fefe",  # Teredo with server 192.168.1.1, client 192.0.1.1 (obfuscated)
        "2001:0:808:808::1",  # Teredo with a public server
        "64:ff9b:1:a00:1::",  # local-use NAT64 of 10.0.0.1
        "64:ff9b:1::808:808",  # local-use NAT64 of 8.8.8.8: its layout is local, so nothing is read from it
        "::a00:1",  # IPv4-compatible 10.0.0.1
        "::808:808",  # IPv4-compatible 8.8.8.8
    ],
)
def test_tunnel_and_local_translation_forms_are_refused_whatever_they_embed(address):
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("cidr", sorted(REFUSED_RANGES))
def test_an_admitted_network_is_allowed_whatever_its_range(cidr):
    network = ipaddress.ip_network(cidr)

    assert refusal(network.network_address, allowed_networks=[network]) is None
    assert refusal(network.broadcast_address, allowed_networks=[network]) is None


def test_an_admitted_ipv4_network_admits_its_mapped_and_nat64_forms_only():
    allowed = [ipaddress.ip_network("10.20.0.0/16")]

    assert refusal(ipaddress.ip_address("::ffff:10.20.3.4"), allowed_networks=allowed) is None
    assert refusal(ipaddress.ip_address("64:ff9b::10.20.3.4"), allowed_networks=allowed) is None
    assert refusal(ipaddress.ip_address("10.21.0.1"), allowed_networks=allowed) is not None
    assert refusal(ipaddress.ip_address("2002:a14:304::1"), allowed_networks=allowed) is not None


def _in_refused_range(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if (embedded := embedded_ipv4(address)) is not None:
        return _in_refused_range(embedded)
    global_space = address.version == 4 or address in ipaddress.ip_network("2000::/3")
    return not global_space or any(address in network for network in REFUSED_NETWORKS)


@settings(max_examples=500, deadline=None)
@given(st.ip_addresses(v=4))
def test_an_ipv4_address_is_refused_exactly_when_a_registry_range_holds_it(address):
    assert (refusal(address) is not None) is _in_refused_range(address)


def _around(cidr: str) -> st.SearchStrategy:
    network = ipaddress.ip_network(cidr)
    low, high = int(network.network_address), int(network.broadcast_address)
    return st.integers(max(0, low - 2**16), min(2**128 - 1, high + 2**16)).map(ipaddress.IPv6Address)


# Uniform IPv6 addresses would almost never fall in a small range: draw around each one too.
IPV6_ADDRESSES = st.one_of(
    st.ip_addresses(v=6),
    *(_around(cidr) for cidr in [*IPV6_SPECIAL_PURPOSE, *IPV6_OTHER_REFUSED, "2000::/3"]),
)


@settings(max_examples=1000, deadline=None)
@given(IPV6_ADDRESSES)
def test_an_ipv6_address_is_refused_exactly_when_it_is_not_global_unicast(address):
    assert (refusal(address) is not None) is _in_refused_range(address)
