"""The crawl's resolver on its own: a real crawl (own process, own reactor) with the private-
address middleware out of the way, so only the connect-time check stands between it and
127.0.0.1."""

import pytest

from tests.crawler.scrapy_child import crawl_once
from tests.localsite import LocalSite


def crawl(url: str, private_hosts: list[str]) -> dict[str, int]:
    resolver = {
        "RETRY_ENABLED": False,
        "TWISTED_DNS_RESOLVER": "crawler.resolver.GuardedResolver",
        "NEWSMON_PRIVATE_HOSTS": private_hosts,
    }
    return crawl_once(url, resolver)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_private_address_is_never_connected_to_unless_the_run_allows_its_host(host):
    with LocalSite() as site:
        site.add("/story.html", "<html>internal</html>", content_type="text/html")
        url = site.url("/story.html").replace("127.0.0.1", host)
        refused = crawl(url, [])
        allowed = crawl(url, [host])
        assert [r.path for r in site.requests] == ["/story.html"]  # only the allowed crawl
    assert "item_scraped_count" not in refused
    assert refused["downloader/exception_type_count/scrapy.exceptions.CannotResolveHostError"] == 1
    assert allowed["item_scraped_count"] == 1
