import socket

import pytest

from tests.support.network import OutboundTrafficBlocked, resolve_to


def test_connecting_to_a_public_address_is_blocked_before_any_packet(_loopback_only):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OutboundTrafficBlocked):
            sock.connect(("192.0.2.10", 80))  # TEST-NET-1, documentation-only
    finally:
        sock.close()
    assert _loopback_only.violations == ["192.0.2.10:80"]
    _loopback_only.violations.clear()


def test_resolving_a_real_name_is_blocked(_loopback_only):
    with pytest.raises(OutboundTrafficBlocked):
        socket.getaddrinfo("partner.example", 443)
    _loopback_only.violations.clear()


def test_resolve_to_maps_a_name_to_a_loopback_literal():
    with resolve_to({"partner.example": "127.0.0.1"}):
        assert socket.getaddrinfo("partner.example", 80)[0][4][0] == "127.0.0.1"


def test_loopback_connections_are_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=2)
    client.close()
    server.close()
