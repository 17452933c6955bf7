"""The guard against fetching private addresses, enforced where connections are made.

Each host is looked up once per crawl (per event loop) and its answer is pinned:
PrivateAddressMiddleware judges every request by that answer, with its source's allow-list, and
counts refusals; the crawl's resolver (crawler/resolver.py) then connects only to addresses of
the same answer that the guard accepts, and so does the probe (`open_checked`). A name that
answers a public address and then 127.0.0.1 (DNS rebinding) never reaches the second. A lookup
that fails is a failure (LookupFailed), never a pass.

No Scrapy here: the probe, which runs before Scrapy is imported, uses it too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import urllib.request
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.urls import DEFAULT_PORTS, IPAddress, host_of, ip_literal, is_public_ip, normalise_host

if TYPE_CHECKING:
    from crawler.config.models import Source

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT = 15.0


class LookupFailed(OSError):
    """A host name could not be resolved: the request fails (and may be retried)."""


def allowed_private_hosts(source: Source) -> set[str]:
    """The hosts a source may fetch at private addresses: its own and allow_private_hosts."""
    return {host_of(source.url), *source.allow_private_hosts}


def proxy_hosts() -> set[str]:
    """The hosts of the HTTP(S) proxies set in the environment, which Scrapy connects to on
    purpose: a proxy at a private address (a corporate one) must stay reachable."""
    found = set()
    for scheme, url in urllib.request.getproxies().items():
        if scheme in DEFAULT_PORTS:
            found.add(host_of(url if "://" in url else f"http://{url}"))
    return found - {""}


def connectable(
    host: str, addresses: Iterable[IPAddress], allowed: Iterable[str]
) -> list[IPAddress]:
    """The addresses a connection to `host` may use: all for an allowed host, else the public ones."""
    if normalise_host(host) in {normalise_host(name) for name in allowed}:
        return list(addresses)
    return [address for address in addresses if is_public_ip(address)]


def _addresses(infos: Iterable[tuple]) -> list[IPAddress]:
    # Scope ids (fe80::1%eth0) do not change what the address is.
    found = [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos]
    return list(dict.fromkeys(found))


class PinnedResolver:
    """One lookup per host for as long as the event loop runs; concurrent askers share it.

    A failed lookup is not kept, so a retry asks again.
    """

    def __init__(self, timeout: float = LOOKUP_TIMEOUT) -> None:
        self.timeout = timeout
        self._answers: dict[str, asyncio.Future[list[IPAddress]]] = {}

    async def addresses(self, host: str) -> list[IPAddress]:
        host = normalise_host(host)
        literal = ip_literal(host)
        if literal is not None:
            return [literal]
        answer = self._answers.get(host)
        if answer is None:
            answer = self._answers[host] = asyncio.ensure_future(self._lookup(host))
        # shield: one cancelled request must not cancel the lookup other requests await.
        return await asyncio.shield(answer)

    async def _lookup(self, host: str) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), self.timeout
            )
        except (OSError, UnicodeError, TimeoutError) as error:
            self._answers.pop(host, None)
            raise LookupFailed(f"cannot resolve {host}: {error or type(error).__name__}") from None
        return _addresses(infos)


_resolvers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PinnedResolver] = (
    weakref.WeakKeyDictionary()
)


def pinned_resolver() -> PinnedResolver:
    """The running event loop's resolver: one per crawl process, shared by guard and connections."""
    loop = asyncio.get_running_loop()
    resolver = _resolvers.get(loop)
    if resolver is None:
        resolver = _resolvers[loop] = PinnedResolver()
    return resolver


class AddressGuard:
    """Decides whether a URL may be fetched: every address its host resolves to must be public,
    unless the host is explicitly allowed."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed_hosts = {normalise_host(host) for host in allowed_hosts if host.strip()}

    async def check(self, url: str) -> str | None:
        """None if the URL may be fetched, else a reason such as "private address 10.0.0.5".

        Raises LookupFailed when the host does not resolve.
        """
        try:
            parts = urlsplit(url)
            scheme, host = parts.scheme.lower(), parts.hostname
        except ValueError:
            return "unparsable URL"
        if scheme not in DEFAULT_PORTS:
            return f"scheme {scheme!r} not allowed"
        if not host:
            return "no host"
        host = normalise_host(host)
        if host in self.allowed_hosts:
            return None
        literal = ip_literal(host)
        if literal is not None:
            return None if is_public_ip(literal) else f"private address {literal}"
        for address in await pinned_resolver().addresses(host):
            if not is_public_ip(address):
                return f"private address {address} ({host})"
        return None


def open_checked(
    address: tuple[str, int], timeout: object, allowed: Iterable[str]
) -> socket.socket:
    """A connected socket to (host, port), made with the standard library: one lookup, and only
    to an address the guard accepts (socket.create_connection would look the name up itself)."""
    host, port = address
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise LookupFailed(f"cannot resolve {host}: {error}") from None
    usable = set(connectable(host, _addresses(infos), allowed))
    last_error: OSError = OSError(f"refusing {host}: it resolves only to private addresses")
    for family, kind, proto, _name, sockaddr in infos:
        if ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]) not in usable:
            continue
        sock = socket.socket(family, kind, proto)
        try:
            if isinstance(timeout, int | float):  # not socket's "global default" marker
                sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as error:
            sock.close()
            last_error = error
            continue
        return sock
    raise last_error
