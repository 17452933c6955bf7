"""The registry of discovery modes: how a source finds its articles.

A mode is a key of a source entry that holds the discovery URL (`feed:`, `sitemap:`,
`listing:`), the options only that mode takes (a model of its own, flat beside the URL in the
YAML), and the spider that walks it. A source names exactly one mode. Adding one is a spider in
crawler/spiders/, an options model and a `register(...)` line here, and their tests:

    class ArchiveOptions(ModeOptions):
        archive: HttpUrlText | None = None
        months: int = Field(12, ge=1)

    register(DiscoveryMode("archive", ArchiveOptions, "crawler.spiders.archive:ArchiveSpider"))

The spider is named, not imported: loading a config must not import Scrapy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from pydantic import BaseModel, Field, field_validator

from crawler.config.fields import Duration, HttpUrlText, StrictModel
from crawler.userregex import compile_pattern


class ModeOptions(StrictModel):
    """The keys of one mode: its discovery URL (named as the mode) and its own options."""

    @classmethod
    def misplaced(cls, mode: str, source: BaseModel) -> str | None:
        """Why `source`, of another mode, may not have this mode's options; None if it has none."""
        given = sorted((set(cls.model_fields) - {mode}) & source.model_fields_set)
        return f"{', '.join(given)} only apply to a {mode} source" if given else None


@dataclass(frozen=True)
class DiscoveryMode:
    name: str  # the source key that holds the URL, and the mode stored with each run
    options: type[ModeOptions]
    spider: str  # "module:Class" of its SourceSpider, imported when a crawl starts

    def spider_class(self) -> type:
        """The SourceSpider subclass (typed loosely: the config layer does not import Scrapy)."""
        module, _, name = self.spider.partition(":")
        spider: type = getattr(importlib.import_module(module), name)
        return spider


MODES: dict[str, DiscoveryMode] = {}


def register(mode: DiscoveryMode) -> DiscoveryMode:
    """Add a discovery mode; sources validated from now on may use it."""
    if mode.name in MODES:
        raise ValueError(f"discovery mode {mode.name!r} is registered already")
    if mode.name not in mode.options.model_fields:
        raise ValueError(f"{mode.options.__name__} needs the URL field {mode.name!r}")
    MODES[mode.name] = mode
    return mode


def either(names: list[str]) -> str:
    """'feed, sitemap or listing'."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


# --- The built-in modes ----------------------------------------------------------------------


class FeedOptions(ModeOptions):
    """RSS 0.9x/1.0/2.0, Atom or JSON Feed: the latest entries only."""

    feed: HttpUrlText | None = None


class SitemapOptions(ModeOptions):
    """A sitemap or sitemap index, with bounds on the child sitemaps walked."""

    sitemap: HttpUrlText | None = None
    max_age: Duration | None = None  # sitemap entries older than this are skipped
    max_sitemaps: int = Field(200, ge=1)  # child sitemaps fetched per run
    max_sitemap_depth: int = Field(3, ge=0, le=10)  # levels of child sitemaps below the source's
    sitemap_hosts: list[str] = []  # hosts besides the source's own site that serve its sitemaps


class ListingOptions(ModeOptions):
    """HTML listing pages: article links matching `follow`, then the next page, `pages` deep."""

    listing: HttpUrlText | None = None
    follow: str | None = None
    pages: int = Field(1, ge=1, le=1000)

    @classmethod
    def misplaced(cls, mode: str, source: BaseModel) -> str | None:
        if getattr(source, "follow", None) is not None or getattr(source, "pages", 1) != 1:
            return "follow and pages only apply to a listing source"
        return None

    @field_validator("follow")
    @classmethod
    def _follow_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise ValueError(f"follow is not a valid regular expression: {exc}") from None
        return pattern


register(DiscoveryMode("feed", FeedOptions, "crawler.spiders.feed:FeedSpider"))
register(DiscoveryMode("sitemap", SitemapOptions, "crawler.spiders.sitemap:SitemapSpider"))
register(DiscoveryMode("listing", ListingOptions, "crawler.spiders.listing:ListingSpider"))
