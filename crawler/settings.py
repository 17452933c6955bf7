"""Scrapy settings built from the config: process-wide ones, and per-source politeness."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import default_settings

from crawler.addresses import allowed_private_hosts, proxy_hosts
from crawler.config.models import Config, Source
from crawler.fetchoptions import user_agent
from crawler.middlewares import ALLOWED_PRIVATE_HOSTS_SETTING
from crawler.render import browser_settings
from crawler.resolver import PRIVATE_HOSTS_SETTING
from crawler.urls import host_key, host_of

# Scrapy imports every component named in its *_BASE settings, even one set to None, so the
# unused ones are left out of the base itself. RemoteControl (Scrapy 2.19) is an HTTP server that
# runs code sent to it and costs every crawl an aiohttp import; cookies are off, and their
# middleware imports tldextract; items go to the database, not to feed exports.
UNUSED_COMPONENTS = {
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.feedexport.FeedExporter",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
}


def _without_unused(base: dict[str, int]) -> dict[str, int]:
    return {path: order for path, order in base.items() if path not in UNUSED_COMPONENTS}


def process_settings(
    config: Config, sources: Sequence[Source] = (), log_level: str = "WARNING"
) -> dict[str, Any]:
    """Settings shared by the crawlers of `sources` in one process."""
    return {
        "BOT_NAME": "newsmon",
        "USER_AGENT": config.user_agent,
        "LOG_LEVEL": log_level,
        "LOG_INSTALL_ROOT_HANDLER": False,  # the CLI's handler formats and filters every log line
        "LOG_FORMATTER": "crawler.logformatter.QuietLogFormatter",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "COOKIES_ENABLED": False,
        "EXTENSIONS_BASE": _without_unused(default_settings.EXTENSIONS_BASE),
        "DOWNLOADER_MIDDLEWARES_BASE": _without_unused(
            default_settings.DOWNLOADER_MIDDLEWARES_BASE
        ),
        "DOWNLOAD_HANDLERS": {
            "http": "crawler.handlers.HTTPDownloadHandler",
            "https": "crawler.handlers.HTTPDownloadHandler",
        },
        "CONCURRENT_REQUESTS": 32,
        # Items hold whole pages; a smaller slot keeps memory bounded while extraction catches up.
        "CONCURRENT_ITEMS": 16,
        "REDIRECT_MAX_TIMES": 5,
        "METAREFRESH_ENABLED": False,
        # Connections go only to the addresses PrivateAddressMiddleware checked (its lookups
        # time out after crawler/addresses.py LOOKUP_TIMEOUT).
        "TWISTED_DNS_RESOLVER": "crawler.resolver.GuardedResolver",
        PRIVATE_HOSTS_SETTING: sorted(
            proxy_hosts().union(*map(allowed_private_hosts, sources), _source_proxies(sources))
        ),
        # A feed URL may carry an api_key: no request tells another site where it came from.
        "REFERRER_POLICY": "no-referrer",
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        # newsmon logs each failed URL once, with its error kind; Scrapy's line would repeat it.
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "ITEM_PIPELINES": {
            "crawler.pipelines.ExtractPipeline": 100,
            "crawler.incremental.RecheckPipeline": 250,  # re-fetched articles end here
            "crawler.incremental.SignaturePipeline": 260,
            "crawler.pipelines.StorePipeline": 300,
        },
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middlewares.PrivateAddressMiddleware": 50,
            # Before Scrapy's own header middlewares (400, 500), which only fill in the rest.
            "crawler.middlewares.FetchOptionsMiddleware": 60,
            # RFC 9309 robots.txt in place of Scrapy's (a 5xx robots.txt disallows everything).
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robots.SpecRobotsTxtMiddleware": 100,
            # Responses pass these in descending order, each just before the Scrapy one it
            # guards: Retry-After/backoff before RetryMiddleware (550), truncated gzip before
            # HttpCompressionMiddleware (590), redirect loops before RedirectMiddleware (600).
            "crawler.retry.RetryAfterMiddleware": 560,
            "crawler.compression.StrictGzipMiddleware": 595,
            "crawler.redirects.RedirectGuardMiddleware": 610,
            # Low: sees responses last, after redirects, retries and decompression.
            "crawler.conditional.ConditionalGetMiddleware": 120,
            # Rendered pages go to the browser after every check above (crawler/browser.py).
            "crawler.render.RenderMiddleware": 850,
            # Last on the way out: after robots.txt, the private-address check and the stats.
            "crawler.middlewares.PrefetchedResponseMiddleware": 900,
        },
    }


def source_settings(config: Config, source: Source, sharing: int = 1) -> dict[str, Any]:
    """The source's politeness (global defaults overlaid with its own overrides), and the
    credentials of its URL, sent to its own host only.

    `sharing` crawlers of one process crawl the source's host (host_sharing): each crawler has
    downloader slots of its own, so each gets its share of the host's budget, `delay` times
    `sharing` apart and `concurrency_per_host` divided among them (at least 1 each).
    """
    politeness = config.politeness_for(source)
    delay = politeness.delay * sharing
    concurrency = max(1, politeness.concurrency_per_host // sharing)
    return {
        **_basic_auth(source),
        **(browser_settings() if source.render.renders_anything else {}),
        "USER_AGENT": user_agent(config, source),  # robots.txt rules are matched against it
        # PrivateAddressMiddleware lets these hosts be fetched at private addresses.
        ALLOWED_PRIVATE_HOSTS_SETTING: sorted(allowed_private_hosts(source)),
        "ROBOTSTXT_OBEY": politeness.obey_robots,
        "DOWNLOAD_DELAY": delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "AUTOTHROTTLE_ENABLED": politeness.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(delay, 1.0),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(concurrency),
        "DOWNLOAD_TIMEOUT": politeness.timeout,
        "RETRY_TIMES": politeness.retries,
        "DOWNLOAD_MAXSIZE": politeness.max_page_bytes,
        "DOWNLOAD_WARNSIZE": politeness.max_page_bytes // 2,
        # Scrapy's default is not to verify: certificates are checked against the system's CAs
        # (or the bundle SSL_CERT_FILE names) and the host name, unless the source opts out.
        "DOWNLOAD_VERIFY_CERTIFICATES": source.tls_verify,
    }


def host_sharing(sources: Sequence[Source]) -> dict[str, int]:
    """How many of `sources` (crawled by one process) share each one's host:port, by name."""
    counts = Counter(host_key(source.url) for source in sources)
    return {source.name: counts[host_key(source.url)] for source in sources}


def _source_proxies(sources: Sequence[Source]) -> set[str]:
    # A source's own proxy is reached on purpose, like those of the environment.
    return {host_of(source.proxy) for source in sources if source.proxy} - {""}


def _basic_auth(source: Source) -> dict[str, Any]:
    if source.credentials is None:
        return {}
    user, password = source.credentials
    # HttpAuthMiddleware sends them to this host:port and its subdomains, nowhere else.
    return {
        "HTTPAUTH_USER": user,
        "HTTPAUTH_PASS": password,
        "HTTPAUTH_DOMAIN": urlsplit(source.url).netloc,
    }
