"""Server-side request forgery: no postback reaches an internal address, however it is spelled.

Every target below is refused twice: when an endpoint is saved (the
configuration API and the admin's model validation) and again when a
delivery is sent (the HTTP module's guard on the address actually
connected to). Names are resolved only at send time, where the answer is
the one that counts, so names that resolve to internal addresses and
redirects to them are proven there. ``socket.socket.connect`` is patched
so that a guard that lets one through fails the test instead of sending
anything.
"""

import ipaddress
import socket
from unittest import mock

import pycurl
import pytest
from django.core.exceptions import ValidationError
from werkzeug import Response

from deliveries.models import Delivery
from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events
from lib import http
from partners.models import PostbackEndpoint
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.network import resolve_to

# Literal targets: IP addresses in every spelling a resolver accepts, and
# names that mean this machine without asking DNS (RFC 6761 ``localhost``).
LITERAL_TARGETS = [
    "http://127.0.0.1/pb",
    "http://127.255.255.254/pb",
    "http://localhost/pb",
    "http://LOCALHOST./pb",
    "http://api.localhost/pb",
    "http://0.0.0.0/pb",
    "http://0/pb",
    "http://[::1]/pb",
    "http://[::]/pb",
    "http://[0:0:0:0:0:0:0:1]/pb",
    "http://10.0.0.1/pb",
    "http://172.16.0.1/pb",
    "http://172.31.255.255/pb",
    "http://192.168.1.1/pb",
    "https://10.0.0.1:8443/pb?click={click_id}",
    "http://100.64.0.1/pb",  # CGNAT
    "http://100.127.255.254/pb",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://169.254.0.1/pb",
    "http://[fe80::1]/pb",
    "http://[fe80::1%25eth0]/pb",
    "http://[fc00::1]/pb",  # IPv6 unique-local
    "http://[fd12:3456:789a::1]/pb",
    "http://[::ffff:127.0.0.1]/pb",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/pb",
    "http://[::ffff:10.0.0.1]/pb",
    "http://2130706433/pb",  # decimal 127.0.0.1
    "http://2852039166/latest/meta-data/",  # decimal 169.254.169.254
    "http://0x7f000001/pb",  # hex
    "http://0xa9.0xfe.0xa9.0xfe/pb",
    "http://017700000001/pb",  # octal
    "http://0177.0.0.1/pb",
    "http://0x7f.0.0.1/pb",
    "http://127.1/pb",  # short form
    "http://10.1/pb",
    "http://127.0.0.1./pb",  # trailing dot
    "http://%31%32%37.0.0.1/pb",  # percent-encoded host
    "http://\u2460\u2461\u2466.0.0.1/pb",  # digits that IDNA maps to 127.0.0.1
    "http://224.0.0.1/pb",  # multicast
    "http://255.255.255.255/pb",
    "http://198.18.0.1/pb",  # benchmarking range
]

# Names a resolver may answer with an internal address; refused at send.
RESOLVED_TARGETS = {
    "internal.example": "10.0.0.7",
    "metadata.example": "169.254.169.254",
    "cgnat.example": "100.64.1.1",
    "loop.example": "127.0.0.1",
    "ula.example": "fd00::17",
    "mapped.example": "::ffff:192.168.0.1",
    "v6loop.example": "::1",
}


def _resolver_like_libc(names: dict[str, str]):
    """``getaddrinfo`` that answers as the C library would, without any DNS traffic.

    Numeric spellings go through ``inet_aton`` and ``localhost`` names mean
    loopback; other names come from ``names`` or do not exist.
    """
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        name = (host.decode() if isinstance(host, bytes) else host).rstrip(".").lower()
        if name in names:
            return real(names[name], port, *args, **kwargs)
        if name == "localhost" or name.endswith(".localhost"):
            return real("127.0.0.1", port, *args, **kwargs)
        try:
            return real(socket.inet_ntoa(socket.inet_aton(name)), port, *args, **kwargs)
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    return fake


@pytest.fixture
def no_connections():
    """Any connection attempt fails the test: the guard must refuse before a socket connects."""
    attempts = []

    def refuse(sock, address):
        attempts.append(address)
        raise AssertionError(f"a postback connected to {address}")

    guarded = http._open_socket

    def refuse_through_libcurl(transfer, target):
        # libcurl connects the socket it is given: one handed out here would have connected.
        opened = guarded(transfer, target)
        if opened is not pycurl.SOCKET_BAD:
            opened.close()
            attempts.append(target[3])
        return pycurl.SOCKET_BAD

    with (
        mock.patch.object(socket.socket, "connect", refuse),
        mock.patch.object(socket.socket, "connect_ex", refuse),
        mock.patch.object(http, "_open_socket", refuse_through_libcurl),
    ):
        yield attempts


@pytest.fixture
def acme(db):
    return PartnerFactory(slug="acme")


def _endpoint_body(url: str) -> dict:
    return {"name": "pb", "url_template": url, "method": "GET", "event_types": ["registration"]}


def test_the_list_covers_at_least_thirty_forms():
    assert len(LITERAL_TARGETS) + len(RESOLVED_TARGETS) >= 30
    assert len(set(LITERAL_TARGETS)) == len(LITERAL_TARGETS)


@pytest.mark.parametrize("url", LITERAL_TARGETS)
def test_the_configuration_api_refuses_internal_targets(admin_client_api, acme, url):
    response = admin_client_api.post("/api/v1/partners/acme/endpoints/", _endpoint_body(url), format="json")

    assert response.status_code == 400, response.json()
    assert "url_template" in response.json()["errors"]
    assert not PostbackEndpoint.objects.exists()


@pytest.mark.parametrize("url", LITERAL_TARGETS)
def test_admin_validation_refuses_internal_targets(acme, url):
    endpoint = PostbackEndpoint(partner=acme, name="pb", url_template=url)

    with pytest.raises(ValidationError) as caught:
        endpoint.full_clean()

    assert "url_template" in caught.value.message_dict


@pytest.mark.parametrize("url", LITERAL_TARGETS)
def test_the_sender_refuses_internal_targets_without_connecting(acme, url, no_connections):
    delivery = _send_one(acme, url, names={})

    assert (delivery.status, no_connections) == ("failed", [])
    attempt = delivery.attempts.get()
    assert attempt.outcome == "failure"
    assert attempt.error_class in ("refused_address", "invalid_request"), attempt.error


@pytest.mark.parametrize("name, address", RESOLVED_TARGETS.items())
def test_the_sender_refuses_names_that_resolve_to_internal_addresses(acme, name, address, no_connections):
    delivery = _send_one(acme, f"http://{name}/pb?click={{click_id}}", names=RESOLVED_TARGETS)

    assert (delivery.status, no_connections) == ("failed", [])
    attempt = delivery.attempts.get()
    assert attempt.error_class == "refused_address"
    parsed = ipaddress.ip_address(address)
    assert str(getattr(parsed, "ipv4_mapped", None) or parsed) in attempt.error


@pytest.mark.parametrize("url", LITERAL_TARGETS)
def test_the_guard_decides_on_the_resolved_address(url, no_connections):
    with mock.patch.object(socket, "getaddrinfo", _resolver_like_libc({})):
        result = http.send(http.OutboundRequest(method="GET", url=url.replace("{click_id}", "c"), headers={}))

    assert result.verdict == http.Verdict.PERMANENT
    assert no_connections == []


def test_allowed_networks_admit_exactly_what_they_name(settings):
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("10.20.0.0/16")]

    assert http.address_refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert http.address_refusal(ipaddress.ip_address("::ffff:10.20.3.4")) is None
    assert http.address_refusal(ipaddress.ip_address("10.21.0.1")) is not None
    assert http.address_refusal(ipaddress.ip_address("127.0.0.1")) is not None


@pytest.mark.parametrize("location", ["http://10.0.0.1/pb", "http://169.254.169.254/latest/", "http://[::1]:9/pb"])
def test_a_redirect_to_an_internal_address_is_not_followed(acme, httpserver, settings, location, _loopback_only):
    # The partner itself is on loopback and admitted; where it points to is not.
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    httpserver.expect_request("/pb").respond_with_response(Response(status=302, headers={"Location": location}))

    delivery = _send_one(acme, f"http://127.0.0.1:{httpserver.port}/pb", names={})

    assert delivery.status == "failed"
    assert delivery.attempts.get().error_class == "redirect"
    assert location in delivery.last_error
    assert len(httpserver.log) == 1
    assert _loopback_only.violations == []


def _send_one(partner, url: str, *, names: dict[str, str]) -> Delivery:
    # Saved behind validation's back, as an endpoint admitted by POSTBACK_ALLOWED_NETWORKS
    # at the time and refused now would be.
    endpoint = PostbackEndpointFactory(partner=partner, url_template="https://partner.example/pb")
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(url_template=url)
    event = EventFactory(partner=partner, click_id="clk-1")
    (delivery,) = deliveries_create_for_events(events=[event])
    with mock.patch.object(socket, "getaddrinfo", _resolver_like_libc(names)):
        deliveries_send_due(worker="ssrf-test")
    delivery.refresh_from_db()
    return delivery
