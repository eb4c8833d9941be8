"""The one way out: every postback request goes through this module.

Here, and only here: the per-endpoint timeout (for the whole exchange, not
each read), no redirects, the fixed
User-Agent, and the private-address guard, checked on the address a name
actually resolves to and pinned for the connection, so DNS cannot swap in
an internal target between the check and the connect.

The client is the standard library's ``http.client`` over keep-alive
connections this module pools by the checked address: sending is most of a
sender's work, and this costs half the CPU per request of urllib3's pools
(about 0.1 ms against 0.22 ms, guard and classification included). HTTPS verifies certificates
against the system's trust store, or ``POSTBACK_CA_BUNDLE``.
"""

import contextlib
import http.client as http_client
import ipaddress
import logging
import os
import re
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import partial

import urllib3
from django.conf import settings

from . import address_guard

logger = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Enough to match a success marker and keep proof of receipt; a partner's
# large page is cut off rather than read into memory.
MAX_RESPONSE_BYTES = 64 * 1024
RESPONSE_EXCERPT_CHARS = 1000


def address_refusal(address: IPAddress) -> str | None:
    """Why a postback may not go to ``address``, or None when it may (see ``address_guard``)."""
    return address_guard.refusal(address, allowed_networks=settings.POSTBACK_ALLOWED_NETWORKS)


# The numeric spellings inet_aton reads as IPv4 (2130706433, 0x7f.1, 0177.0.0.1, 127.1):
# a resolver connects to them without any DNS look-up, so they are addresses too.
_LEGACY_IPV4 = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address, in any spelling a resolver reads as one; None for a name."""
    host = host.strip("[]").removesuffix(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _LEGACY_IPV4.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


class Verdict(StrEnum):
    SUCCESS = "success"
    TRANSIENT = "transient"  # worth retrying: 5xx, 408, 429, timeouts, connection errors
    PERMANENT = "permanent"  # retrying cannot help: other 4xx, redirects, refused targets


@dataclass(frozen=True)
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: str = ""
    timeout_seconds: float = 5.0
    success_body_contains: str = ""


@dataclass(frozen=True)
class HttpResult:
    verdict: Verdict
    duration_ms: int
    status_code: int | None = None
    response_excerpt: str = ""
    error: str = ""
    error_class: str = ""
    retry_after_seconds: float | None = None


class TransportError(Exception):
    """A request that got no HTTP answer; ``error_class`` says why and ``permanent`` whether retrying can help."""

    def __init__(self, message: str, *, error_class: str, permanent: bool = False):
        super().__init__(message)
        self.error_class, self.permanent = error_class, permanent


def resolve_allowed(hostname: str, port: int) -> IPAddress:
    """The address ``hostname`` resolves to, if postbacks may go there; TransportError otherwise."""
    address = literal_address(hostname)
    if address is None:
        try:
            infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise TransportError(f"could not resolve {hostname}: {exc}", error_class="dns") from None
        address = ipaddress.ip_address(infos[0][4][0].split("%")[0])
    if reason := address_refusal(address):
        raise TransportError(
            f"refused target {hostname}: {reason} (see POSTBACK_ALLOWED_NETWORKS)",
            error_class="refused_address",
            permanent=True,
        )
    return address


class _HTTPSConnection(http_client.HTTPSConnection):
    """TLS to the checked address, the certificate verified against the host name (and SNI sent for it)."""

    def __init__(self, address: str, port: int, *, hostname: str, context: ssl.SSLContext, timeout: float):
        super().__init__(address, port, timeout=timeout, context=context)
        self.server_hostname = hostname

    def connect(self) -> None:
        http_client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.server_hostname)


class _Pools:
    """Idle keep-alive connections per (scheme, checked address, port, host name, CA bundle), shared by the sender's threads.

    A connection goes to the address the guard checked, never to a fresh DNS
    answer. Each key keeps at most POSTBACK_SENDER_THREADS idle connections,
    and the oldest keys are closed beyond MAX_POOLS, so DNS churn cannot grow
    them without end.
    """

    MAX_POOLS = 256

    def __init__(self):
        self._idle: dict[tuple, list[http_client.HTTPConnection]] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple, timeout: float) -> http_client.HTTPConnection:
        # Only the pop holds the lock every sender thread shares; the poll and the close are system calls.
        while (connection := self._pop_idle(key)) is not None:
            if not _dropped(connection):
                connection.sock.settimeout(timeout)
                return connection
            connection.close()
        return self._new(*key, timeout=timeout)

    def _pop_idle(self, key: tuple) -> http_client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give_back(self, key: tuple, connection: http_client.HTTPConnection) -> None:
        closing = []
        with self._lock:
            idle = self._idle.setdefault(key, [])
            (idle if len(idle) < settings.POSTBACK_SENDER_THREADS else closing).append(connection)
            if len(self._idle) > self.MAX_POOLS:
                closing.extend(self._idle.pop(next(iter(self._idle))))
        for extra in closing:
            extra.close()

    def _new(self, scheme: str, address: IPAddress, port: int, hostname: str, ca_bundle: str, *, timeout: float):
        if scheme == "https":
            return _HTTPSConnection(str(address), port, hostname=hostname, context=self._context(ca_bundle),
                                    timeout=timeout)
        return http_client.HTTPConnection(str(address), port, timeout=timeout)

    def _context(self, ca_bundle: str) -> ssl.SSLContext:
        with self._lock:
            if ca_bundle not in self._contexts:
                self._contexts[ca_bundle] = ssl.create_default_context(cafile=ca_bundle or None)
            return self._contexts[ca_bundle]


def _dropped(connection: http_client.HTTPConnection) -> bool:
    """An idle connection the partner has closed (or written to out of turn) polls readable; it must not be reused."""
    if connection.sock is None:
        return True
    poller = select.poll()
    poller.register(connection.sock, select.POLLIN)
    return bool(poller.poll(0))


class _Deadlines:
    """Shuts the socket of any exchange still running at its deadline.

    A socket timeout bounds each read, not the exchange: a partner that drips
    its status line or headers a byte at a time would hold a sender's thread,
    and through lease renewal its whole batch, for as long as it likes. One
    thread per process checks every TICK seconds; the blocked read then fails
    and the attempt is reported as a timeout.
    """

    TICK = 0.1

    def __init__(self):
        self._running: dict[int, tuple[float, http_client.HTTPConnection]] = {}
        self._cut: set[int] = set()
        self._lock = threading.Lock()
        self._owner_pid: int | None = None

    def watch(self, connection: http_client.HTTPConnection, deadline: float) -> None:
        with self._lock:
            if self._owner_pid != os.getpid():  # none yet, or this is a forked child without it
                self._owner_pid = os.getpid()
                threading.Thread(target=self._loop, name="postback-deadlines", daemon=True).start()
            self._running[id(connection)] = (deadline, connection)

    def release(self, connection: http_client.HTTPConnection) -> bool:
        """Stop watching ``connection``; True when its deadline came first and its socket was cut."""
        with self._lock:
            self._running.pop(id(connection), None)
            if id(connection) in self._cut:
                self._cut.discard(id(connection))
                return True
            return False

    def _loop(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            # Under the lock: a connection released in the meantime may already serve another request.
            with self._lock:
                for key, (deadline, connection) in self._running.items():
                    if deadline <= now and key not in self._cut and connection.sock is not None:
                        self._cut.add(key)
                        with contextlib.suppress(OSError):
                            connection.sock.shutdown(socket.SHUT_RDWR)


_pools = _Pools()
_deadlines = _Deadlines()


def _timed_out() -> TransportError:
    return TransportError("no complete answer within the timeout", error_class="timeout")


def send(request: OutboundRequest) -> HttpResult:
    """Send one postback and classify what happened; never raises for network trouble."""
    started = time.monotonic()
    try:
        status, headers, body = _exchange(request, deadline=started + request.timeout_seconds)
    except TransportError as exc:
        verdict = Verdict.PERMANENT if exc.permanent else Verdict.TRANSIENT
        return HttpResult(
            verdict=verdict, duration_ms=_elapsed_ms(started), error=_describe(exc), error_class=exc.error_class
        )
    except Exception as exc:  # noqa: BLE001 - one malformed request must not sink its whole batch
        logger.exception("unexpected error sending a postback")
        return HttpResult(
            verdict=Verdict.TRANSIENT, duration_ms=_elapsed_ms(started), error=_describe(exc), error_class="internal"
        )
    return classify_response(
        status_code=status,
        body=body.decode("utf-8", errors="replace"),
        headers=headers,
        success_body_contains=request.success_body_contains,
        duration_ms=_elapsed_ms(started),
    )


def _exchange(request: OutboundRequest, *, deadline: float) -> tuple[int, object, bytes]:
    parts = _parse(request.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    key = (parts.scheme, resolve_allowed(parts.host, port), port, parts.host, settings.POSTBACK_CA_BUNDLE)
    headers = {
        **request.headers,
        "Host": parts.netloc.rpartition("@")[2],
        "User-Agent": settings.POSTBACK_USER_AGENT,
    }
    connection = _pools.take(key, request.timeout_seconds)
    _deadlines.watch(connection, deadline)
    try:
        connection.request(
            request.method, parts.request_uri, body=request.body.encode() if request.body else None, headers=headers
        )
        response = connection.getresponse()
        body, complete = _read_body(response, deadline=deadline)
    except (http_client.HTTPException, OSError) as exc:
        connection.close()
        if _deadlines.release(connection):
            raise _timed_out() from None
        raise _transport_error(exc) from None
    except BaseException:
        _deadlines.release(connection)
        connection.close()
        raise
    # A cut in the middle of the headers can read as a short, complete answer: it is still a timeout.
    if _deadlines.release(connection):
        connection.close()
        raise _timed_out()
    # A connection is kept only when its response was read to the end and the partner keeps it open.
    if complete and not response.will_close:
        response.close()  # read to the end, but http.client only marks that on one more read
        _pools.give_back(key, connection)
    else:
        connection.close()
    return response.status, response.headers, body


def _parse(url: str) -> urllib3.util.Url:
    try:
        parts = urllib3.util.parse_url(url)
    except urllib3.exceptions.LocationParseError as exc:
        raise TransportError(
            f"the URL cannot be parsed: {exc}", error_class="invalid_request", permanent=True
        ) from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise TransportError(f"not an http(s) URL: {url[:200]}", error_class="invalid_request", permanent=True)
    return parts


def _read_body(response, *, deadline: float) -> tuple[bytes, bool]:
    """Up to MAX_RESPONSE_BYTES of the body, and whether that was all of it.

    ``read1`` returns what has arrived, so a partner dripping bytes past the
    timeout is caught between arrivals even without chunked framing.
    """
    chunks, size = [], 0
    while chunk := response.read1(8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            return b"".join(chunks)[:MAX_RESPONSE_BYTES], False
        if time.monotonic() > deadline:
            raise TransportError("the response body was still arriving when the timeout ran out", error_class="timeout")
    # read1 ends quietly where the connection did; bytes still owed by Content-Length mean a cut-off answer.
    if response.length:
        raise TransportError(
            f"the connection closed {response.length} bytes before the end of the response", error_class="connection"
        )
    return b"".join(chunks), True


def _transport_error(exc: Exception) -> TransportError:
    if isinstance(exc, TimeoutError):
        return TransportError(f"timed out: {exc}", error_class="timeout")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return TransportError(f"TLS failed: {exc}", error_class="tls")
    return TransportError(f"connection failed: {exc}", error_class="connection")


def classify_response(*, status_code: int, body: str, headers, success_body_contains: str, duration_ms: int):
    excerpt = body[:RESPONSE_EXCERPT_CHARS]
    result = partial(HttpResult, duration_ms=duration_ms, status_code=status_code, response_excerpt=excerpt)
    if 200 <= status_code < 300:
        if success_body_contains and success_body_contains not in body:
            return result(
                verdict=Verdict.TRANSIENT,
                error=f"HTTP {status_code} but the body does not contain {success_body_contains!r}",
                error_class="body_mismatch",
            )
        return result(verdict=Verdict.SUCCESS)
    if 300 <= status_code < 400:
        location = headers.get("Location", "")
        return result(
            verdict=Verdict.PERMANENT,
            error=f"HTTP {status_code} redirect to {location!r}: redirects are not followed; update the URL",
            error_class="redirect",
        )
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status_code in (408, 429) or status_code >= 500:
        return result(
            verdict=Verdict.TRANSIENT, error=f"HTTP {status_code}", error_class=f"http_{status_code // 100}xx",
            retry_after_seconds=retry_after,
        )
    return result(verdict=Verdict.PERMANENT, error=f"HTTP {status_code}", error_class="http_4xx")


def _describe(exc: Exception) -> str:
    message = str(exc) or exc.__class__.__name__
    return message[:RESPONSE_EXCERPT_CHARS]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
