"""The one way out: every postback request goes through this module.

Requests go through libcurl's multi interface (pycurl): one thread drives
many transfers at once over reused handles and kept-alive connections, and
libcurl enforces what matters for a request to a partner's server:

- a deadline over the whole transfer (``TIMEOUT_MS``), so a partner that
  drips its headers or body a byte at a time is cut off on time;
- HTTP and HTTPS only, no redirects, no proxy from the environment, the
  path sent as written (``PATH_AS_IS``: ``..`` in a macro value is never
  collapsed);
- the private-address guard, on the address actually connected to
  (``OPENSOCKETFUNCTION``); the host name is resolved here first and its
  checked address pinned (``RESOLVE``), so the look-up that counts is the
  one the guard saw;
- a response read up to ``MAX_RESPONSE_BYTES`` and no further;
- certificates verified against the system's trust store, or
  ``POSTBACK_CA_BUNDLE``.

The URL, headers and body go out as rendered, encoded once to bytes: the
signature covers exactly what the partner receives.
"""

import ipaddress
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import partial
from typing import Any

import pycurl
import urllib3
from django.conf import settings

from . import address_guard

logger = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Enough to match a success marker and keep proof of receipt; a partner's
# large page is cut off rather than read into memory.
MAX_RESPONSE_BYTES = 64 * 1024
RESPONSE_EXCERPT_CHARS = 1000
# How long one wait for network activity may last, so a caller can claim and record between waits.
MAX_WAIT_SECONDS = 0.05


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
    refused_body_contains: str = ""
    keep_body: bool = False  # the whole answer (up to MAX_RESPONSE_BYTES) in the result's body, not only an excerpt


@dataclass(frozen=True)
class HttpResult:
    verdict: Verdict
    duration_ms: int
    status_code: int | None = None
    response_excerpt: str = ""
    error: str = ""
    error_class: str = ""
    retry_after_seconds: float | None = None
    body: str = field(default="", repr=False)


class TransportError(Exception):
    """A request that got no HTTP answer; ``error_class`` says why and ``permanent`` whether retrying can help."""

    def __init__(self, message: str, *, error_class: str, permanent: bool = False):
        super().__init__(message)
        self.error_class, self.permanent = error_class, permanent


def internal_error(exc: BaseException, *, duration_ms: int = 0) -> HttpResult:
    """The result for a fault on this side (a bug, not the partner): kept on record and retried."""
    return HttpResult(verdict=Verdict.TRANSIENT, duration_ms=duration_ms, error=_describe(exc),
                      error_class="internal")


def resolve_allowed(hostname: str, port: int) -> IPAddress:
    """The address ``hostname`` resolves to, if postbacks may go there; TransportError otherwise."""
    address = literal_address(hostname)
    if address is None:
        try:
            infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise TransportError(f"could not resolve {hostname}: {exc}", error_class="dns") from None
        address = ipaddress.ip_address(infos[0][4][0].split("%")[0])
    _check(hostname, address)
    return address


def _check(hostname: str, address: IPAddress) -> None:
    if reason := address_refusal(address):
        raise TransportError(
            f"refused target {hostname}: {reason} (see POSTBACK_ALLOWED_NETWORKS)",
            error_class="refused_address",
            permanent=True,
        )


@dataclass(eq=False)
class _Transfer:
    """One request on a handle: what it sends, and what has come back so far."""

    request: OutboundRequest
    key: Any
    started: float
    host: str = ""
    body: bytearray = field(default_factory=bytearray)
    header_lines: list[bytes] = field(default_factory=list)
    capped: bool = False
    refusal: TransportError | None = None


class Transfers:
    """Postbacks in flight on one thread, over libcurl's multi interface.

    ``start`` adds a request (keyed by whatever the caller likes), ``wait``
    drives every transfer and returns those that finished. Easy handles are
    reused; the multi handle keeps connections alive between requests.
    """

    def __init__(self):
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_MAXCONNECTS, 4 * settings.POSTBACK_SENDER_MAX_IN_FLIGHT)
        self._idle: list[pycurl.Curl] = []
        self._running: dict[pycurl.Curl, _Transfer] = {}
        self._by_key: dict[Any, pycurl.Curl] = {}

    def __len__(self) -> int:
        return len(self._running)

    def start(self, request: OutboundRequest, key: Any) -> HttpResult | None:
        """Put ``request`` on the wire; a result at once when it cannot go out (a refused target, a bad URL)."""
        transfer = _Transfer(request=request, key=key, started=time.monotonic())
        handle = self._idle.pop() if self._idle else pycurl.Curl()
        try:
            _configure(handle, transfer)
            self._multi.add_handle(handle)
        except TransportError as exc:
            self._idle.append(handle)
            return _failure(exc, transfer.started)
        except Exception as exc:  # noqa: BLE001 - one request that cannot be prepared must not sink the others
            logger.exception("could not start a postback")
            handle.reset()
            self._idle.append(handle)
            return internal_error(exc)
        self._running[handle] = transfer
        self._by_key[key] = handle
        return None

    def cancel(self, key: Any) -> None:
        """Stop a transfer whose outcome no longer matters to the caller; its result is never returned."""
        if (handle := self._by_key.get(key)) is not None:
            self._multi.remove_handle(handle)
            self._release(handle)

    def wait(self, timeout: float = MAX_WAIT_SECONDS) -> list[tuple[Any, HttpResult]]:
        """Drive the transfers for up to ``timeout`` seconds; returns (key, result) for each that finished."""
        self._perform()
        finished = self._finished()
        if not finished and self._running and timeout > 0:
            self._multi.select(min(timeout, MAX_WAIT_SECONDS))
            self._perform()
            finished = self._finished()
        return finished

    def _perform(self) -> None:
        while self._multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass

    def _finished(self) -> list[tuple[Any, HttpResult]]:
        finished = []
        while True:
            queued, succeeded, failed = self._multi.info_read()
            outcomes = [(handle, None, "") for handle in succeeded] + failed
            for handle, errno, message in outcomes:
                self._multi.remove_handle(handle)
                transfer = self._running[handle]
                finished.append((transfer.key, _outcome(handle, transfer, errno, message)))
                self._release(handle)
            if not queued:
                return finished

    def _release(self, handle: pycurl.Curl) -> None:
        transfer = self._running.pop(handle)
        self._by_key.pop(transfer.key, None)
        handle.reset()
        self._idle.append(handle)


_local = threading.local()


def transfers() -> Transfers:
    """This thread's transfers, so its connections are kept alive from one request to the next."""
    if getattr(_local, "transfers", None) is None:
        _local.transfers = Transfers()
    return _local.transfers


def send(request: OutboundRequest, *, running: Transfers | None = None) -> HttpResult:
    """Send one request and classify what happened; never raises for network trouble.

    ``running`` is the thread's postback transfers unless given: a request made while a sender has
    transfers out needs its own, or waiting for it would take their results.
    """
    running, key = running or transfers(), object()
    if (result := running.start(request, key)) is not None:
        return result
    # The transfer's own TIMEOUT_MS ends it; the bound here only guards against a libcurl that never reports.
    give_up = time.monotonic() + request.timeout_seconds + 5
    while time.monotonic() < give_up:
        for done, result in running.wait():
            if done is key:
                return result
    running.cancel(key)
    return HttpResult(verdict=Verdict.TRANSIENT, duration_ms=int(request.timeout_seconds * 1000),
                      error="no complete answer within the timeout", error_class="timeout")


def _configure(handle: pycurl.Curl, transfer: _Transfer) -> None:
    request = transfer.request
    parts = _parse(request.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    transfer.host = parts.host
    address = resolve_allowed(parts.host, port)
    pinned = f"[{address}]" if address.version == 6 else str(address)
    handle.setopt(pycurl.URL, request.url.encode())
    handle.setopt(pycurl.RESOLVE, [f"{parts.host.strip('[]')}:{port}:{pinned}"])
    handle.setopt(pycurl.OPENSOCKETFUNCTION, lambda purpose, target: _open_socket(transfer, target))
    handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
    handle.setopt(pycurl.FOLLOWLOCATION, 0)
    handle.setopt(pycurl.PROXY, "")  # never a proxy from the environment: it would connect in the guard's place
    handle.setopt(pycurl.PATH_AS_IS, 1)
    handle.setopt(pycurl.NOSIGNAL, 1)
    handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
    handle.setopt(pycurl.TIMEOUT_MS, int(request.timeout_seconds * 1000))
    handle.setopt(pycurl.USERAGENT, settings.POSTBACK_USER_AGENT)
    handle.setopt(pycurl.HTTPHEADER, _header_lines(request.headers))
    handle.setopt(pycurl.WRITEFUNCTION, lambda chunk: _receive(transfer, chunk))
    handle.setopt(pycurl.HEADERFUNCTION, lambda line: _header(transfer, line))
    if settings.POSTBACK_CA_BUNDLE:
        handle.setopt(pycurl.CAINFO, settings.POSTBACK_CA_BUNDLE)
    if request.method == "GET":
        handle.setopt(pycurl.HTTPGET, 1)
    else:
        handle.setopt(pycurl.CUSTOMREQUEST, request.method)
        handle.setopt(pycurl.POSTFIELDS, request.body.encode())


def _parse(url: str) -> urllib3.util.Url:
    try:
        parts = urllib3.util.parse_url(url)
    except urllib3.exceptions.LocationParseError as exc:
        raise TransportError(
            f"the URL cannot be parsed: {exc}", error_class="invalid_request", permanent=True
        ) from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise TransportError(f"not an http(s) URL: {url[:200]}", error_class="invalid_request", permanent=True)
    if not url.isascii() or any(character in url for character in "\r\n\0 "):
        raise TransportError(f"the URL is not encoded for sending: {url[:200]}", error_class="invalid_request",
                             permanent=True)
    return parts


def _header_lines(headers: dict[str, str]) -> list[bytes]:
    # "Expect:" keeps libcurl from waiting for a 100 Continue before a larger body; "Name;" is how
    # libcurl sends a header with an empty value ("Name:" would remove it).
    lines = [b"Expect:"]
    for name, value in headers.items():
        if any(character in f"{name}{value}" for character in "\r\n\0"):
            raise TransportError(f"the header {name[:100]!r} holds a line break or NUL", error_class="invalid_request",
                                 permanent=True)
        lines.append(f"{name}: {value}".encode() if value else f"{name};".encode())
    return lines


def _open_socket(transfer: _Transfer, target) -> socket.socket | int:
    """The socket libcurl connects, or SOCKET_BAD when the address it is about to reach is refused."""
    family, socktype, protocol, address = target
    try:
        _check(transfer.host, ipaddress.ip_address(address[0].split("%")[0]))
    except TransportError as refusal:
        transfer.refusal = refusal
        return pycurl.SOCKET_BAD
    return socket.socket(family, socktype, protocol)


def _receive(transfer: _Transfer, chunk: bytes) -> int | None:
    room = MAX_RESPONSE_BYTES - len(transfer.body)
    transfer.body += chunk[:room]
    if len(chunk) > room:
        transfer.capped = True
        return 0  # anything but len(chunk) ends the transfer: the rest is not read
    return None


def _header(transfer: _Transfer, line: bytes) -> None:
    if line.startswith(b"HTTP/"):  # a new response: an interim 1xx came before it
        transfer.header_lines.clear()
    transfer.header_lines.append(line)


def _outcome(handle: pycurl.Curl, transfer: _Transfer, errno: int | None, message: str) -> HttpResult:
    try:
        if errno and not (errno == pycurl.E_WRITE_ERROR and transfer.capped):
            raise _transport_error(transfer, errno, message, connected=bool(handle.getinfo(pycurl.PRIMARY_IP)))
        body = bytes(transfer.body).decode("utf-8", errors="replace")
        result = classify_response(
            status_code=handle.getinfo(pycurl.RESPONSE_CODE),
            body=body,
            headers=parse_headers(transfer.header_lines),
            success_body_contains=transfer.request.success_body_contains,
            refused_body_contains=transfer.request.refused_body_contains,
            duration_ms=_elapsed_ms(transfer.started),
        )
        return replace(result, body=body) if transfer.request.keep_body else result
    except TransportError as exc:
        return _failure(exc, transfer.started)
    except Exception as exc:  # noqa: BLE001 - whatever a partner answers, the result is recorded
        logger.exception("could not read a postback's outcome")
        return internal_error(exc, duration_ms=_elapsed_ms(transfer.started))


_TLS_ERRORS = {
    pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CACERT, pycurl.E_SSL_CACERT_BADFILE,
    pycurl.E_SSL_CERTPROBLEM, pycurl.E_SSL_CIPHER, pycurl.E_SSL_ISSUER_ERROR, pycurl.E_SSL_PINNEDPUBKEYNOTMATCH,
}


def _transport_error(transfer: _Transfer, errno: int, message: str, *, connected: bool) -> TransportError:
    if transfer.refusal is not None:
        return transfer.refusal
    if errno == pycurl.E_OPERATION_TIMEDOUT:
        return TransportError(f"no complete answer within the timeout: {message}", error_class="timeout")
    if errno in _TLS_ERRORS:
        return TransportError(f"TLS failed: {message}", error_class="tls")
    # Once connected, the same codes mean the partner's answer was not HTTP libcurl accepts (HTTP/0.9, say).
    if errno in (pycurl.E_URL_MALFORMAT, pycurl.E_UNSUPPORTED_PROTOCOL) and not connected:
        return TransportError(f"the URL cannot be sent: {message}", error_class="invalid_request", permanent=True)
    return TransportError(f"connection failed: {message}", error_class="connection")


def _failure(exc: TransportError, started: float) -> HttpResult:
    return HttpResult(verdict=Verdict.PERMANENT if exc.permanent else Verdict.TRANSIENT,
                      duration_ms=_elapsed_ms(started), error=_describe(exc), error_class=exc.error_class)


def parse_headers(lines: list[bytes]) -> dict[str, str]:
    """The response's headers by lower-case name (the first of repeated ones), whatever bytes they hold."""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.decode("latin-1").partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return headers


def classify_response(*, status_code: int, body: str, headers: dict[str, str], success_body_contains: str,
                      duration_ms: int, refused_body_contains: str = "") -> HttpResult:
    """The verdict on an HTTP answer; ``headers`` by lower-case name.

    ``refused_body_contains`` is how some partners say no (TUNE answers 200 to a rejected conversion):
    whatever the status, such an answer is final, and retrying would only be refused again.
    """
    excerpt = body[:RESPONSE_EXCERPT_CHARS]
    result = partial(HttpResult, duration_ms=duration_ms, status_code=status_code, response_excerpt=excerpt)
    if refused_body_contains and status_code >= 200 and refused_body_contains in body:
        return result(
            verdict=Verdict.PERMANENT,
            error=f"HTTP {status_code}: the partner refused it (the body contains {refused_body_contains!r})",
            error_class="refused",
        )
    if 200 <= status_code < 300:
        if success_body_contains and success_body_contains not in body:
            return result(
                verdict=Verdict.TRANSIENT,
                error=f"HTTP {status_code} but the body does not contain {success_body_contains!r}",
                error_class="body_mismatch",
            )
        return result(verdict=Verdict.SUCCESS)
    if 300 <= status_code < 400:
        location = headers.get("location", "")[:300]
        return result(
            verdict=Verdict.PERMANENT,
            error=f"HTTP {status_code} redirect to {location!r}: redirects are not followed; update the URL",
            error_class="redirect",
        )
    if status_code in (408, 429) or status_code >= 500:
        return result(
            verdict=Verdict.TRANSIENT, error=f"HTTP {status_code}", error_class=f"http_{status_code // 100}xx",
            retry_after_seconds=parse_retry_after(headers.get("retry-after")),
        )
    if status_code < 100:
        return result(verdict=Verdict.TRANSIENT, error="no valid HTTP status line", error_class="connection")
    return result(verdict=Verdict.PERMANENT, error=f"HTTP {status_code}", error_class="http_4xx")


def _describe(exc: BaseException) -> str:
    message = str(exc) or exc.__class__.__name__
    return message[:RESPONSE_EXCERPT_CHARS]


_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None for anything else."""
    if not value:
        return None
    value = value.strip()
    # ASCII digits only: str.isdigit() also accepts '²', which float() refuses.
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
