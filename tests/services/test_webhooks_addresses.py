"""Which addresses webhooks may reach (services.webhook_addresses)."""

from __future__ import annotations

import ipaddress

import pytest

from runhub.services.webhook_addresses import (
    AddressRefused,
    check_registration,
    refusal,
    resolve_target,
)

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # cloud metadata
    "fe80::1": "link-local",
    "fc00::1": "private",  # unique local
    "fd12:3456::1": "private",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "240.0.0.1": "reserved",
    "100.64.0.1": "not public",  # shared address space (CGNAT)
    "192.0.2.10": "private",  # documentation
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped IPv6
    "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "link-local",
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
}
ALLOWED = ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34")


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == REFUSED[address]


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.0.0.5/hook",
    ],
)
def test_registration_refuses_internal_hosts(url: str) -> None:
    with pytest.raises(AddressRefused):
        check_registration(url, allow_private=False)
    check_registration(url, allow_private=True)  # the test setting lets them through


@pytest.mark.parametrize(
    "url",
    ["ftp://93.184.216.34/x", "file:///etc/passwd", "93.184.216.34/x", "http:///x",
     "http://user:pw@93.184.216.34/", "http://93.184.216.34:99999/", "gopher://x"],
)  # fmt: skip
def test_registration_takes_http_urls_only(url: str) -> None:
    with pytest.raises(AddressRefused):
        check_registration(url, allow_private=True)


def test_a_name_that_does_not_resolve_yet_is_checked_at_delivery() -> None:
    check_registration("https://hooks.runhub-test.invalid/x", allow_private=False)
    with pytest.raises(AddressRefused, match="does not resolve"):
        resolve_target("https://hooks.runhub-test.invalid/x", allow_private=False)


def test_delivery_connects_to_the_checked_address() -> None:
    target = resolve_target("https://93.184.216.34:8443/a/b?c=1", allow_private=False)
    assert target.connect_url == "https://93.184.216.34:8443/a/b?c=1"
    assert target.host_header == "93.184.216.34:8443"
    with pytest.raises(AddressRefused, match="loopback"):
        resolve_target("http://127.0.0.1/x", allow_private=False)
    # A name resolving to loopback is refused at delivery, whatever it was at registration.
    with pytest.raises(AddressRefused, match="loopback"):
        resolve_target("http://localhost:9/x", allow_private=False)
    local = resolve_target("http://localhost:9/x", allow_private=True)
    assert local.address in ("127.0.0.1", "::1") and local.host_header == "localhost:9"
    v6 = resolve_target("http://[::1]:9/x", allow_private=True)
    assert v6.connect_url == "http://[::1]:9/x" and v6.host_header == "[::1]:9"
