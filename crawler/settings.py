"""Scrapy settings built from the config: process-wide ones, and per-source politeness."""

from __future__ import annotations

from typing import Any

from crawler.config import Config, Source


def process_settings(config: Config, log_level: str = "WARNING") -> dict[str, Any]:
    """Settings shared by every source's crawler in one process."""
    return {
        "BOT_NAME": "newsmon",
        "USER_AGENT": config.user_agent,
        "LOG_LEVEL": log_level,
        "LOG_INSTALL_ROOT_HANDLER": False,  # the CLI's handler formats and filters every log line
        "LOG_FORMATTER": "crawler.logformatter.QuietLogFormatter",
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "CONCURRENT_REQUESTS": 32,
        # Items hold whole pages; a smaller slot keeps memory bounded while extraction catches up.
        "CONCURRENT_ITEMS": 16,
        "REDIRECT_MAX_TIMES": 5,
        "METAREFRESH_ENABLED": False,
        "DNS_TIMEOUT": 15,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        # newsmon logs each failed URL once, with its error kind; Scrapy's line would repeat it.
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "ITEM_PIPELINES": {
            "crawler.pipelines.ExtractPipeline": 100,
            "crawler.pipelines.FlagPipeline": 200,
            "crawler.incremental.RecheckPipeline": 250,  # re-fetched articles end here
            "crawler.incremental.SignaturePipeline": 260,
            "crawler.pipelines.StorePipeline": 300,
        },
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middlewares.PrivateAddressMiddleware": 50,
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
        },
    }


def source_settings(config: Config, source: Source) -> dict[str, Any]:
    """The source's politeness (global defaults overlaid with its own overrides)."""
    politeness = config.politeness_for(source)
    return {
        "ROBOTSTXT_OBEY": politeness.obey_robots,
        "DOWNLOAD_DELAY": politeness.delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": politeness.concurrency_per_host,
        "AUTOTHROTTLE_ENABLED": politeness.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(politeness.delay, 1.0),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(politeness.concurrency_per_host),
        "DOWNLOAD_TIMEOUT": politeness.timeout,
        "RETRY_TIMES": politeness.retries,
        "DOWNLOAD_MAXSIZE": politeness.max_page_bytes,
        "DOWNLOAD_WARNSIZE": politeness.max_page_bytes // 2,
    }
