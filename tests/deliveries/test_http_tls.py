"""HTTPS through the pinned connection: the address is the checked one, the certificate is checked against the name."""

import shutil
import ssl
import subprocess

import pytest
from pytest_httpserver import HTTPServer

from lib import http
from lib.http import OutboundRequest, Verdict
from tests.support.network import resolve_to

pytestmark = pytest.mark.usefixtures("loopback_allowed")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for partner.example, made with the openssl command."""
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=partner.example",
         "-addext", "subjectAltName=DNS:partner.example", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/pb").respond_with_data("OK")
    server.start()
    yield server
    server.stop()


def _get(url):
    return http.send(OutboundRequest(method="GET", url=url, headers={}))


def test_https_to_a_pinned_address_verifies_the_certificate_for_the_name(tls_server, certificate, settings):
    settings.POSTBACK_CA_BUNDLE = str(certificate[0])

    with resolve_to({"partner.example": "127.0.0.1"}):
        result = _get(f"https://partner.example:{tls_server.port}/pb")

    assert (result.verdict, result.status_code) == (Verdict.SUCCESS, 200)
    assert tls_server.log[0][0].headers["Host"] == f"partner.example:{tls_server.port}"


def test_a_certificate_for_another_name_is_refused(tls_server, certificate, settings):
    settings.POSTBACK_CA_BUNDLE = str(certificate[0])

    with resolve_to({"impostor.example": "127.0.0.1"}):
        result = _get(f"https://impostor.example:{tls_server.port}/pb")

    assert (result.verdict, result.error_class) == (Verdict.TRANSIENT, "tls")
    assert tls_server.log == []


def test_an_untrusted_certificate_is_refused(tls_server):
    with resolve_to({"partner.example": "127.0.0.1"}):
        result = _get(f"https://partner.example:{tls_server.port}/pb")

    assert result.error_class == "tls"
