"""A safety net: no test may reach beyond this machine, even when the code under test is broken.

Connections to non-loopback addresses and look-ups of real host names are
refused and recorded; the test that tried fails at teardown, even if the code
under test swallowed the error. Postbacks connect inside libcurl, not through
``socket.connect``: the socket libcurl asks ``lib.http`` for is checked
the same way. Tests that need a name to resolve patch ``socket.getaddrinfo``
themselves (``resolve_to`` helps); the HTTP module resolves through it.
"""

import contextlib
import ipaddress
import socket
from unittest import mock

import pycurl

from lib import http

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_real_open_socket = http._open_socket
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class OutboundTrafficBlocked(OSError):
    pass


def _is_loopback_host(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


class Guard:
    def __init__(self):
        self.violations: list[str] = []

    def _refuse(self, what: str):
        self.violations.append(what)
        raise OutboundTrafficBlocked(f"test tried to reach {what}: tests talk to loopback only")

    def connect(self, sock, address):
        self._check(sock, address)
        return _real_connect(sock, address)

    def connect_ex(self, sock, address):
        self._check(sock, address)
        return _real_connect_ex(sock, address)

    def _check(self, sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback_host(address[0]):
            self._refuse(f"{address[0]}:{address[1]}")

    def open_socket(self, transfer, target):
        """libcurl's socket for ``target``: given only when the product's guard and this one both let it through."""
        opened = _real_open_socket(transfer, target)
        address = target[3]
        if opened is not pycurl.SOCKET_BAD and not _is_loopback_host(address[0]):
            opened.close()
            self.violations.append(f"{address[0]}:{address[1]}")
            return pycurl.SOCKET_BAD
        return opened

    def getaddrinfo(self, host, *args, **kwargs):
        if not _is_loopback_host(host) and not _is_ip_literal(host):
            self._refuse(f"DNS name {host!r}")
        return _real_getaddrinfo(host, *args, **kwargs)


def _is_ip_literal(host) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host))
        return True
    except ValueError:
        return False


@contextlib.contextmanager
def loopback_only():
    guard = Guard()
    with (
        mock.patch.object(socket.socket, "connect", lambda sock, address: guard.connect(sock, address)),
        mock.patch.object(socket.socket, "connect_ex", lambda sock, address: guard.connect_ex(sock, address)),
        mock.patch.object(socket, "getaddrinfo", guard.getaddrinfo),
        mock.patch.object(http, "_open_socket", guard.open_socket),
    ):
        yield guard


@contextlib.contextmanager
def resolve_to(mapping: dict[str, str]):
    """Make the given host names resolve to the given IP literals, for this block only."""
    current = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        return current(mapping.get(name, name), port, *args, **kwargs)

    with mock.patch.object(socket, "getaddrinfo", fake):
        yield
