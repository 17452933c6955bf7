"""Components build themselves from the crawler: settings, stats, the source's context; those
with nothing to do for a crawl are left out of it (NotConfigured), quietly."""

import logging
from typing import Any

import pytest
from scrapy import Spider
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.exceptions import NotConfigured
from scrapy.pipelines import ItemPipelineManager
from scrapy.utils.test import get_crawler

from crawler.components import Component, source_context
from crawler.conditional import ConditionalGetMiddleware
from crawler.config.models import Config
from crawler.context import SourceContext
from crawler.incremental import RecheckPipeline, SignaturePipeline
from crawler.keywords import Matcher
from crawler.middlewares import PrefetchedResponseMiddleware
from crawler.pipelines import StorePipeline
from crawler.probe import Fetched
from crawler.retry import RetryAfterMiddleware


def make_context(source: dict[str, Any]) -> SourceContext:
    config = Config.model_validate({"sources": [{"name": "a", **source}]})
    # No database: building components reads none.
    return SourceContext(config, config.sources[0], None, Matcher.from_rules([]), 1, 1)  # type: ignore[arg-type]


def make_crawler(context: SourceContext | None, settings: dict[str, Any] | None = None) -> Any:
    class Stub(Spider):
        name = "stub"

    crawler = get_crawler(Stub, settings)
    crawler.spider = Stub.from_crawler(crawler)
    if context is not None:
        crawler.spider.context = context  # as SourceSpider holds it
    return crawler


def test_a_component_gets_its_sources_context_and_counts_into_the_run():
    context = make_context({"feed": "https://news.example/feed.xml"})
    crawler = make_crawler(context)
    assert source_context(crawler) is context
    stage = SignaturePipeline.from_crawler(crawler)
    assert stage.context is context
    stage.count("pages", 2)
    assert crawler.stats.get_value("newsmon/pages") == 2


@pytest.mark.parametrize(
    "component", [ConditionalGetMiddleware, PrefetchedResponseMiddleware, StorePipeline]
)
def test_source_components_are_left_out_of_a_crawl_that_is_not_a_sources(component):
    crawler = make_crawler(None)
    assert source_context(crawler) is None
    with pytest.raises(NotConfigured):
        component.from_crawler(crawler)


def test_settings_only_components_work_in_any_crawl():
    crawler = make_crawler(None, {"NEWSMON_RETRY_AFTER_MAX": 5})
    middleware = RetryAfterMiddleware.from_crawler(crawler)
    assert middleware.cap == 5.0
    with pytest.raises(RuntimeError, match="without a source's context"):
        _ = middleware.context


def test_the_recheck_pipeline_exists_only_where_articles_are_rechecked():
    plain = make_context({"feed": "https://news.example/feed.xml"})
    with pytest.raises(NotConfigured):
        RecheckPipeline.from_crawler(make_crawler(plain))
    rechecking = make_context({"feed": "https://news.example/feed.xml", "recheck": "48h"})
    assert RecheckPipeline.from_crawler(make_crawler(rechecking)).context is rechecking


def test_the_prefetched_response_middleware_exists_only_when_the_probe_fetched_something():
    context = make_context({"feed": "https://news.example/feed.xml"})
    with pytest.raises(NotConfigured):
        PrefetchedResponseMiddleware.from_crawler(make_crawler(context))
    context.prefetched["https://news.example/feed.xml"] = Fetched(
        "https://news.example/feed.xml", 200, (), b"<rss/>"
    )
    PrefetchedResponseMiddleware.from_crawler(make_crawler(context))


def test_scrapy_leaves_a_component_out_without_a_warning(caplog):
    class Idle(Component):
        def configure(self) -> None:
            raise NotConfigured

    settings = {
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.conditional.ConditionalGetMiddleware": 120,
            "crawler.retry.RetryAfterMiddleware": 560,
        },
        "DOWNLOADER_MIDDLEWARES_BASE": {},
        "ITEM_PIPELINES": {"crawler.incremental.RecheckPipeline": 250},
    }
    crawler = make_crawler(make_context({"feed": "https://news.example/feed.xml"}), settings)
    with caplog.at_level(logging.WARNING, logger="scrapy.middleware"):
        downloader = DownloaderMiddlewareManager.from_crawler(crawler)
        pipelines = ItemPipelineManager.from_crawler(crawler)
    assert [type(m).__name__ for m in downloader.middlewares] == [
        "ConditionalGetMiddleware",
        "RetryAfterMiddleware",
    ]
    assert pipelines.middlewares == ()
    assert caplog.records == []
    with pytest.raises(NotConfigured):
        Idle.from_crawler(crawler)
