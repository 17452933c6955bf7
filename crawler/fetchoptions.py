"""What a source's requests carry besides the URL: its User-Agent, its extra headers, its
cookies (sent to its own site only) and its proxy. Declared once, used by the crawl
(`FetchOptionsMiddleware`, crawler/settings.py) and by the probe (crawler/probe.py).

No Scrapy here: the probe runs before Scrapy is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.urls import host_of, normalise_host
from storage.urlkeys import HIDDEN, redact_url

if TYPE_CHECKING:
    from crawler.config.models import Config, Source


def user_agent(config: Config, source: Source) -> str:
    """The source's own User-Agent, else the global one."""
    return source.user_agent or config.user_agent


def cookie_header(source: Source, url: str) -> str | None:
    """The Cookie header for `url`: the source's cookies on its own host or a subdomain of it,
    none elsewhere (its articles may link other sites)."""
    if not source.cookies or not on_own_site(source, url):
        return None
    return "; ".join(f"{name}={value}" for name, value in source.cookies.items())


def on_own_site(source: Source, url: str) -> bool:
    site = normalise_host(host_of(source.url)).removeprefix("www.")
    host = normalise_host(host_of(url))
    return host == site or host.endswith(f".{site}")


def request_headers(config: Config, source: Source, url: str) -> dict[str, str]:
    """The headers a request of `source` for `url` carries because of its config."""
    headers = {"User-Agent": user_agent(config, source), **source.headers}
    cookies = cookie_header(source, url)
    if cookies:
        headers["Cookie"] = cookies
    return headers


def uses_probe(source: Source) -> bool:
    """Whether the pre-crawl probe may ask for this source: not through a proxy (the probe's
    connections are direct) and not a rendered listing (the crawl renders it anyway)."""
    return source.proxy is None and not source.renders(discovery=True)


def describe(source: Source) -> str:
    """The source's fetch options for `newsmon check`: names, never cookie or header values,
    the proxy without its credentials."""
    parts = []
    if source.user_agent:
        parts.append("own user_agent")
    if source.headers:
        parts.append(f"headers {', '.join(source.headers)}")
    if source.cookies:
        parts.append("cookies " + ", ".join(f"{name}={HIDDEN}" for name in source.cookies))
    if source.proxy:
        parts.append(f"proxy {redact_url(source.proxy)}")
    render = source.render
    rendered = [kind for kind in ("listing", "articles") if source.renders(kind == "listing")]
    if rendered:
        parts.append(f"browser renders {' and '.join(rendered)}")
        if render.wait_for:
            parts.append(f"waits for {render.wait_for!r}")
    return "; ".join(parts)
