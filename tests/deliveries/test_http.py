import contextlib
import ipaddress
import socket
import threading
import time
from unittest import mock

import pytest
from werkzeug import Response

from lib import http
from lib.http import OutboundRequest, Verdict, address_refusal, parse_retry_after
from tests.support.network import resolve_to
from tests.support.partner import partner_server


def _get(url, **kwargs):
    return http.send(OutboundRequest(method="GET", url=url, headers={}, **kwargs))


@pytest.mark.parametrize(
    "address, refused",
    [
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("224.0.0.1", True),
        ("0.0.0.0", True),
        ("240.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:10.0.0.1", True),
    ],
)
def test_address_guard_refuses_non_public_addresses(address, refused):
    assert (address_refusal(ipaddress.ip_address(address)) is not None) is refused


def test_allowed_networks_are_the_only_exception(settings):
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]

    assert address_refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert address_refusal(ipaddress.ip_address("10.2.0.1")) is not None


def test_success_sends_fixed_user_agent_and_host_header(httpserver, partner_url, loopback_allowed, settings):
    httpserver.expect_request("/pb", headers={"User-Agent": settings.POSTBACK_USER_AGENT}).respond_with_data("OK")

    result = _get(partner_url("/pb"))

    assert (result.verdict, result.status_code, result.response_excerpt) == (Verdict.SUCCESS, 200, "OK")
    assert httpserver.log[0][0].headers["Host"] == f"127.0.0.1:{httpserver.port}"


def test_a_name_is_resolved_checked_and_pinned(httpserver, partner_url, loopback_allowed):
    httpserver.expect_request("/pb").respond_with_data("OK")

    with resolve_to({"partner.example": "127.0.0.1"}):
        result = _get(f"http://partner.example:{httpserver.port}/pb")

    assert result.verdict == Verdict.SUCCESS
    assert httpserver.log[0][0].headers["Host"] == f"partner.example:{httpserver.port}"


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting():
    with (
        resolve_to({"internal.example": "10.0.0.7"}),
        mock.patch.object(socket.socket, "connect", side_effect=AssertionError("must not connect")),
    ):
        result = _get("http://internal.example/pb")

    assert (result.verdict, result.error_class) == (Verdict.PERMANENT, "refused_address")
    assert "10.0.0.7 is a private address" in result.error


def test_loopback_is_refused_without_allowed_networks(httpserver, partner_url):
    result = _get(partner_url("/pb"))

    assert (result.verdict, result.error_class) == (Verdict.PERMANENT, "refused_address")
    assert httpserver.log == []


def test_redirects_are_not_followed_and_fail_permanently(httpserver, partner_url, loopback_allowed):
    httpserver.expect_request("/pb").respond_with_response(Response(status=302, headers={"Location": "/other"}))

    result = _get(partner_url("/pb"))

    assert (result.verdict, result.error_class) == (Verdict.PERMANENT, "redirect")
    assert "/other" in result.error
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    "status, verdict, error_class",
    [(500, Verdict.TRANSIENT, "http_5xx"), (503, Verdict.TRANSIENT, "http_5xx"), (408, Verdict.TRANSIENT, "http_4xx"),
     (429, Verdict.TRANSIENT, "http_4xx"), (404, Verdict.PERMANENT, "http_4xx"), (400, Verdict.PERMANENT, "http_4xx"),
     (204, Verdict.SUCCESS, "")],
)
def test_status_codes_are_classified(httpserver, partner_url, loopback_allowed, status, verdict, error_class):
    httpserver.expect_request("/pb").respond_with_data("", status=status)

    result = _get(partner_url("/pb"))

    assert (result.verdict, result.error_class, result.status_code) == (verdict, error_class, status)


def test_2xx_without_the_expected_body_is_retried(httpserver, partner_url, loopback_allowed):
    httpserver.expect_request("/pb").respond_with_data("ERROR: unknown click")

    result = _get(partner_url("/pb"), success_body_contains="OK")

    assert (result.verdict, result.error_class) == (Verdict.TRANSIENT, "body_mismatch")


def test_retry_after_is_read_from_429(httpserver, partner_url, loopback_allowed):
    httpserver.expect_request("/pb").respond_with_data("slow down", status=429, headers={"Retry-After": "120"})

    assert _get(partner_url("/pb")).retry_after_seconds == 120


def test_timeout_is_transient(httpserver, partner_url, loopback_allowed):
    httpserver.expect_request("/pb").respond_with_handler(lambda request: time.sleep(1.5) or Response("late"))

    result = _get(partner_url("/pb"), timeout_seconds=0.3)

    assert (result.verdict, result.error_class) == (Verdict.TRANSIENT, "timeout")


def test_connection_refused_is_transient(loopback_allowed):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    result = _get(f"http://127.0.0.1:{closed_port}/pb")

    assert (result.verdict, result.error_class) == (Verdict.TRANSIENT, "connection")


def test_long_response_is_cut_to_an_excerpt(httpserver, partner_url, loopback_allowed):
    httpserver.expect_request("/pb").respond_with_data("x" * 200_000)

    assert len(_get(partner_url("/pb")).response_excerpt) == http.RESPONSE_EXCERPT_CHARS


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_body_dripping_past_the_timeout_is_a_timeout(httpserver, partner_url, loopback_allowed):
    def drip():
        for _ in range(20):
            time.sleep(0.1)
            yield b"x"

    httpserver.expect_request("/pb").respond_with_response(Response(drip(), direct_passthrough=True))

    result = _get(partner_url("/pb"), timeout_seconds=0.5)

    assert (result.verdict, result.error_class) == (Verdict.TRANSIENT, "timeout")
    assert result.duration_ms < 1500


def test_an_unexpected_error_becomes_a_retryable_failure_not_a_crash(loopback_allowed):
    with mock.patch.object(http, "_configure", side_effect=RuntimeError("boom")):
        result = _get("http://127.0.0.1:9/pb")

    assert (result.verdict, result.error_class, result.error) == (Verdict.TRANSIENT, "internal", "boom")


def _counting_connections(server) -> list[socket.socket]:
    accepted, accept = [], server.process_request
    server.process_request = lambda request, address: accepted.append(request) or accept(request, address)
    return accepted


def test_postbacks_to_one_partner_reuse_a_kept_alive_connection(loopback_allowed):
    with partner_server() as partner:
        accepted = _counting_connections(partner)

        results = [_get(f"{partner.url}/pb?d={number}") for number in range(3)]

    assert [result.verdict for result in results] == [Verdict.SUCCESS] * 3
    assert [request["path"] for request in partner.received] == ["/pb?d=0", "/pb?d=1", "/pb?d=2"]
    assert len(accepted) == 1


def test_a_connection_the_partner_closed_while_idle_is_not_reused(loopback_allowed):
    with partner_server() as partner:
        accepted = _counting_connections(partner)
        assert _get(f"{partner.url}/pb?d=1").verdict == Verdict.SUCCESS
        # The partner drops its idle keep-alive connection (a restart, an idle timeout).
        accepted[0].shutdown(socket.SHUT_RDWR)
        time.sleep(0.1)

        result = _get(f"{partner.url}/pb?d=2")

    assert (result.verdict, len(accepted)) == (Verdict.SUCCESS, 2)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nonly\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_a_response_that_is_cut_off_is_a_connection_failure(loopback_allowed, answer):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer_half():
            client, _ = listener.accept()
            with client:
                client.recv(65536)
                client.sendall(answer)

        thread = threading.Thread(target=answer_half)
        thread.start()
        result = _get(f"http://127.0.0.1:{listener.getsockname()[1]}/pb")
        thread.join(timeout=5)

    assert (result.verdict, result.error_class) == (Verdict.TRANSIENT, "connection")


def test_a_partner_dripping_its_headers_is_cut_off_at_the_timeout(loopback_allowed):
    # given: a partner that answers a status line, then one header byte every 0.2 s (for at most 8 s)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def drip():
            client, _ = listener.accept()
            with client:
                client.recv(65536)
                client.sendall(b"HTTP/1.1 200 OK\r\n")
                with contextlib.suppress(OSError):
                    for _ in range(40):
                        client.sendall(b"X")
                        time.sleep(0.2)

        thread = threading.Thread(target=drip)
        thread.start()
        started = time.monotonic()
        # when
        result = _get(f"http://127.0.0.1:{listener.getsockname()[1]}/pb", timeout_seconds=1)
        elapsed = time.monotonic() - started
        thread.join(timeout=10)

    # then: every read was quick, but the exchange as a whole ran out of time
    assert (result.verdict, result.error_class) == (Verdict.TRANSIENT, "timeout")
    assert elapsed < 2


def test_the_address_libcurl_connects_to_is_checked_even_when_the_look_up_was_not(httpserver, partner_url):
    # given: a look-up that hands loopback through unchecked (loopback is not allowed here)
    with mock.patch.object(http, "resolve_allowed", lambda host, port: ipaddress.ip_address("127.0.0.1")):
        # when
        result = _get(partner_url("/pb"))

    # then: the socket libcurl asked for was refused, and nothing reached the server
    assert (result.verdict, result.error_class) == (Verdict.PERMANENT, "refused_address")
    assert httpserver.log == []


def test_the_path_is_sent_as_written_without_collapsing_dot_segments(loopback_allowed):
    with partner_server() as partner:
        result = _get(f"{partner.url}/pb/../confirm/./x?a=x|y&b=%7e")

    assert result.verdict == Verdict.SUCCESS
    assert [request["path"] for request in partner.received] == ["/pb/../confirm/./x?a=x|y&b=%7e"]


def test_the_body_and_headers_go_out_as_given(loopback_allowed):
    with partner_server() as partner:
        result = http.send(OutboundRequest(method="POST", url=f"{partner.url}/pb", headers={"X-Empty": "", "X-A": "1"},
                                           body='{"a": "é"}'))

    assert result.verdict == Verdict.SUCCESS
    assert partner.received[0]["body"] == '{"a": "é"}'.encode()


def test_a_header_with_a_line_break_is_refused_without_sending(httpserver, partner_url, loopback_allowed):
    result = http.send(OutboundRequest(method="GET", url=partner_url("/pb"), headers={"X-A": "1\r\nX-B: 2"}))

    assert (result.verdict, result.error_class) == (Verdict.PERMANENT, "invalid_request")
    assert httpserver.log == []


@pytest.mark.parametrize("value", ["²", "\u0661", "1.5", "-3", "9" * 40, "Thu, 99 Foo 2015 07:28:00 GMT"])
def test_a_malformed_retry_after_is_ignored_not_raised(value):
    assert parse_retry_after(value) is None or parse_retry_after(value) >= 0
