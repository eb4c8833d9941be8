"""The client's address behind the trusted proxies: forged X-Forwarded-For entries are never read."""

import pytest
from django.test import RequestFactory

from lib.client_address import client_address


def _address(proxies: int, settings, peer: str = "10.0.0.2", forwarded: str | None = None) -> str:
    settings.TRUSTED_PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": peer} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
    return client_address(RequestFactory().get("/", **meta))


def test_without_proxies_the_peer_is_the_client_whatever_x_forwarded_for_says(settings):
    assert _address(0, settings, peer="198.51.100.7", forwarded="203.0.113.9") == "198.51.100.7"


def test_behind_one_proxy_the_client_is_the_entry_the_proxy_appended(settings):
    assert _address(1, settings, forwarded="198.51.100.7") == "198.51.100.7"
    # The client wrote the entries to the left itself.
    assert _address(1, settings, forwarded="203.0.113.9, 127.0.0.1 ,198.51.100.7") == "198.51.100.7"


def test_behind_two_proxies_the_client_is_the_second_entry_from_the_right(settings):
    assert _address(2, settings, forwarded="203.0.113.9, 198.51.100.7, 10.0.0.1") == "198.51.100.7"


@pytest.mark.parametrize("forwarded", [None, "", " , ", "198.51.100.7"])
def test_fewer_entries_than_proxies_leave_only_the_peer(settings, forwarded):
    assert _address(2, settings, forwarded=forwarded) == "10.0.0.2"


@pytest.mark.parametrize("forwarded", ["unknown", "198.51.100.7:5555", "_hidden"])
def test_an_entry_that_is_not_an_address_leaves_only_the_peer(settings, forwarded):
    assert _address(1, settings, forwarded=forwarded) == "10.0.0.2"


def test_ipv6_entries_are_written_one_way(settings):
    assert _address(1, settings, forwarded="2001:DB8:0:0::1") == "2001:db8::1"
