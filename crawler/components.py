"""The base of newsmon's Scrapy components: middlewares and item pipelines.

Scrapy builds each component once per crawler through ``from_crawler``; here that is written
once. A component reads what it needs from the crawler's settings and from its source's typed
context (crawler/context.py, handed to the spider by crawler/runner.py), never from attributes
looked up on the spider. One that has nothing to do for this crawl says so in ``configure`` by
raising ``NotConfigured``, and Scrapy leaves it out of the chain, as its own components do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Self

from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    # Only for types: the context pulls in config and keyword rules, which an extraction
    # worker importing a pipeline module (a test's stand-in extractor) has no use for.
    from crawler.context import SourceContext


def source_context(crawler: Crawler) -> SourceContext | None:
    """The context of the source this crawler crawls; None for a crawl that is not a source's
    (a bare spider in a test). Scrapy creates the spider before its components."""
    context: SourceContext | None = getattr(crawler.spider, "context", None)
    return context


class Component:
    """A middleware or pipeline built from its crawler: settings, stats and source context.

    ``needs_context``: without a source's context the component has nothing to do (it is left
    out); components that only read settings work in any crawl.
    """

    needs_context: ClassVar[bool] = True

    def __init__(self, crawler: Crawler, context: SourceContext | None = None) -> None:
        self.crawler = crawler
        self._context = context

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        context = source_context(crawler)
        if context is None and cls.needs_context:
            raise NotConfigured  # quietly: a message would make Scrapy log a warning
        component = cls(crawler, context)
        component.configure()
        return component

    def configure(self) -> None:
        """Read settings and context; raise NotConfigured when there is nothing to do."""

    @property
    def settings(self) -> BaseSettings:
        return self.crawler.settings

    @property
    def context(self) -> SourceContext:
        if self._context is None:
            raise RuntimeError(f"{type(self).__name__} runs without a source's context")
        return self._context

    def count(self, key: str, amount: int = 1) -> None:
        """Add to the crawl's `newsmon/<key>` stat (the run record is built from these)."""
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"newsmon/{key}", amount)
