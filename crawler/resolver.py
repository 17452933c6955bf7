"""The crawl's DNS resolver (Scrapy's TWISTED_DNS_RESOLVER): connections go only to addresses
of the answer PrivateAddressMiddleware checked.

It serves the pinned answer of crawler/addresses.py, so the connection uses the very lookup the
guard judged, and it drops any non-public address of a host no source in the run may fetch
privately. A failed lookup yields no address, which Scrapy reports as a DNS error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Self

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from zope.interface import implementer

from crawler.addresses import connectable, pinned_resolver
from crawler.urls import IPAddress

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

PRIVATE_HOSTS_SETTING = (
    "NEWSMON_PRIVATE_HOSTS"  # every host some source of the run may fetch privately
)


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        pass  # the lookup is shared with other requests: let it finish


@implementer(IHostnameResolver)
class GuardedResolver:
    def __init__(self, reactor: Any, private_hosts: Iterable[str]) -> None:
        self.reactor = reactor
        self.private_hosts = set(private_hosts)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> Self:
        return cls(reactor, crawler.settings.getlist(PRIVATE_HOSTS_SETTING))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(  # the names are Twisted's (IHostnameResolver)
        self,
        resolutionReceiver: Any,  # an IResolutionReceiver (zope interfaces elude mypy)
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type] | None = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        lookup = Deferred.fromFuture(asyncio.ensure_future(pinned_resolver().addresses(hostName)))

        def deliver(addresses: list[IPAddress]) -> None:
            usable = connectable(hostName, addresses, self.private_hosts)
            if len(usable) < len(addresses):
                dropped = ", ".join(str(a) for a in addresses if a not in usable)
                log.warning("not connecting to %s at %s: not a public address", hostName, dropped)
            for address in usable:
                kind = IPv6Address if isinstance(address, ipaddress.IPv6Address) else IPv4Address
                if addressTypes is None or kind in addressTypes:
                    resolutionReceiver.addressResolved(kind("TCP", str(address), portNumber))
            resolutionReceiver.resolutionComplete()

        def failed(failure: Any) -> None:
            log.debug("%s did not resolve: %s", hostName, failure.value)
            resolutionReceiver.resolutionComplete()  # with no address: a DNS error

        lookup.addCallbacks(deliver, failed)
        return resolution
