"""The one way out: every postback request goes through this module.

Here, and only here: the per-endpoint timeout, no redirects, the fixed
User-Agent, and the private-address guard, checked on the address a name
actually resolves to and pinned for the connection, so DNS cannot swap in
an internal target between the check and the connect.
"""

import ipaddress
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import partial

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES

logger = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Enough to match a success marker and keep proof of receipt; a partner's
# large page is cut off rather than read into memory.
MAX_RESPONSE_BYTES = 64 * 1024
RESPONSE_EXCERPT_CHARS = 1000


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


class AddressRefused(requests.RequestException):
    """The target resolved to an address postbacks may not reach."""


class PinnedAddressAdapter(HTTPAdapter):
    """Resolves the host itself, refuses forbidden addresses and connects to the address it checked.

    The pool is keyed by that address, so keep-alive connections are reused
    per target; TLS still verifies the certificate against the host name.
    """

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        hostname, port = host_params["host"], host_params["port"]
        address = resolve_allowed(hostname, port or (443 if host_params["scheme"] == "https" else 80))
        # The connection goes to an address now, so the Host header must carry the name.
        request.headers = CaseInsensitiveDict(request.headers)
        request.headers["Host"] = (f"[{hostname}]" if ":" in hostname else hostname) + (f":{port}" if port else "")
        if host_params["scheme"] == "https":
            pool_kwargs["assert_hostname"] = hostname
            pool_kwargs["server_hostname"] = hostname
        host_params["host"] = str(address)
        return host_params, pool_kwargs


def resolve_allowed(hostname: str, port: int) -> IPAddress:
    """The address ``hostname`` resolves to, if postbacks may go there; AddressRefused otherwise."""
    address = literal_address(hostname)
    if address is None:
        try:
            infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise requests.ConnectionError(f"could not resolve {hostname}: {exc}") from None
        address = ipaddress.ip_address(infos[0][4][0].split("%")[0])
    if reason := address_refusal(address):
        raise AddressRefused(f"refused target {hostname}: {reason} (see POSTBACK_ALLOWED_NETWORKS)")
    return address


_sessions = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per sender thread; the pools inside are per target address."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = HTTPSession(
            Config(
                ip_filter_enable=False,  # replaced by PinnedAddressAdapter, which knows POSTBACK_ALLOWED_NETWORKS
                ip_filter_allow_loopback_ips=False,
                never_redirect=True,
                default_timeout=(5, 5),
                user_agent_override=settings.POSTBACK_USER_AGENT,
            )
        )
        session.trust_env = False  # no proxies or .netrc credentials picked up from the environment
        adapter = PinnedAddressAdapter(pool_connections=64, pool_maxsize=8, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _sessions.session = session
    return session


def send(request: OutboundRequest) -> HttpResult:
    """Send one postback and classify what happened; never raises for network trouble."""
    started = time.monotonic()
    try:
        response = _session().request(
            request.method,
            request.url,
            headers=request.headers,
            data=request.body.encode() if request.body else None,
            timeout=(request.timeout_seconds, request.timeout_seconds),
            allow_redirects=False,
            stream=True,
        )
        try:
            body = _read_body(response, deadline=started + request.timeout_seconds)
        finally:
            response.close()
    except requests.RequestException as exc:
        return _failure(exc, _elapsed_ms(started))
    except Exception as exc:  # noqa: BLE001 - one malformed request must not sink its whole batch
        logger.exception("unexpected error sending a postback")
        return HttpResult(
            verdict=Verdict.TRANSIENT, duration_ms=_elapsed_ms(started), error=_describe(exc), error_class="internal"
        )
    return classify_response(
        status_code=response.status_code,
        body=body.decode(response.encoding or "utf-8", errors="replace"),
        headers=response.headers,
        success_body_contains=request.success_body_contains,
        duration_ms=_elapsed_ms(started),
    )


def _read_body(response: requests.Response, *, deadline: float) -> bytes:
    """Up to MAX_RESPONSE_BYTES of the body; a partner dripping bytes past the timeout is a timeout.

    ``read1`` returns what has arrived, so the deadline is checked between
    arrivals even when the body has no chunked framing.
    """
    chunks, size = [], 0
    try:
        while size < MAX_RESPONSE_BYTES and (chunk := response.raw.read1(8192, decode_content=True)):
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                raise requests.Timeout("the response body was still arriving when the timeout ran out")
    except requests.RequestException:
        raise
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.Timeout(str(exc)) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.ConnectionError(f"the connection failed while reading the response: {exc}") from None
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


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


def _failure(exc: requests.RequestException, duration_ms: int) -> HttpResult:
    verdict, error_class = Verdict.TRANSIENT, "connection"
    if isinstance(exc, AddressRefused):
        verdict, error_class = Verdict.PERMANENT, "refused_address"
    elif isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader)):
        verdict, error_class = Verdict.PERMANENT, "invalid_request"
    elif isinstance(exc, requests.Timeout):
        error_class = "timeout"
    elif isinstance(exc, requests.exceptions.SSLError):
        error_class = "tls"
    return HttpResult(verdict=verdict, duration_ms=duration_ms, error=_describe(exc), error_class=error_class)


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
