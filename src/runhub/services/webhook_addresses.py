"""Which addresses a webhook may reach (README "Webhooks"): not this machine nor the
networks behind it, unless RUNHUB_WEBHOOK_ALLOW_PRIVATE says so.

A URL is checked when an endpoint is registered and again at every delivery, on the
addresses its host resolves to then (DNS may change); the delivery connects to the address
that was checked, never resolving the name a second time."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefused(ValueError):
    """The URL may not be fetched; the message says why."""


def refusal(address: IPAddress) -> str | None:
    """Why the address may not be reached (None: it is a public unicast address).

    Loopback, link-local, private, shared (CGNAT), unique-local, multicast, unspecified,
    documentation and reserved ranges are refused; an IPv4 address inside IPv6 (mapped,
    6to4, Teredo) is judged as that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            return refusal(embedded)
    for label, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return label
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if not address.is_global:
        return "not public"
    return None


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`), and the name for Host and TLS."""

    url: str
    scheme: str
    host: str  # as in the URL (brackets stripped), for the Host header and SNI
    port: int
    address: str
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host."""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{address}:{self.port}{self.path}"


def split(url: str) -> SplitResult:
    """The URL's parts; AddressRefused unless it is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise AddressRefused("The url is not a valid URL.") from None
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise AddressRefused("The url must be an http or https URL.")
    if not parts.hostname:
        raise AddressRefused("The url must name a host.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("The url must not hold a user name or password.")
    return parts


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_registration(url: str, allow_private: bool) -> None:
    """At registration: the URL's form, and its host when it is an address, `localhost`, or
    a name that resolves now (a name that does not resolve yet is checked at delivery)."""
    parts = split(url)
    if allow_private:
        return
    host = parts.hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        raise AddressRefused("The url's host is this machine (loopback).")
    address = literal_address(host)
    if address is not None:
        _refuse(address)
        return
    try:
        resolved = _resolve(host, parts.port or DEFAULT_PORTS[parts.scheme.lower()])
    except OSError:
        return
    for found in resolved:
        _refuse(found)


def resolve_target(url: str, allow_private: bool) -> Target:
    """At delivery: the URL resolved, every address it resolves to checked (a name with a
    private address among its public ones is refused), the first one to connect to."""
    parts = split(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[scheme]
    address = literal_address(host)
    try:
        addresses = [address] if address is not None else _resolve(host, port)
    except OSError as exc:
        raise AddressRefused(f"The url's host does not resolve: {exc}") from None
    if not addresses:
        raise AddressRefused("The url's host does not resolve.")
    if not allow_private:
        for found in addresses:
            _refuse(found)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url, scheme, host, port, str(addresses[0]), path)


def _refuse(address: IPAddress) -> None:
    why = refusal(address)
    if why is not None:
        raise AddressRefused(
            f"The url's host is a {why} address ({address}); webhooks reach public addresses "
            "only (RUNHUB_WEBHOOK_ALLOW_PRIVATE allows others)."
        )


def _resolve(host: str, port: int) -> list[IPAddress]:
    found: list[IPAddress] = []
    for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        raw = info[4][0]
        address = ipaddress.ip_address(str(raw).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found
