"""The crawl's resolver on its own: a real crawl (own process, own reactor) with the private-
address middleware out of the way, so only the connect-time check stands between it and
127.0.0.1."""

import json
import subprocess
import sys
import textwrap

import pytest

from jobs.localsite import LocalSite

CRAWL_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from scrapy import Spider
    from scrapy.crawler import CrawlerProcess

    class Fetch(Spider):
        name = "fetch"
        start_urls = [sys.argv[1]]

        def parse(self, response):
            yield {"url": response.url}

    process = CrawlerProcess({
        "LOG_LEVEL": "ERROR",
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "RETRY_ENABLED": False,
        "TWISTED_DNS_RESOLVER": "crawler.resolver.GuardedResolver",
        "NEWSMON_PRIVATE_HOSTS": json.loads(sys.argv[2]),
    })
    crawler = process.create_crawler(Fetch)
    process.crawl(crawler)
    process.start()
    print(json.dumps({k: v for k, v in crawler.stats.get_stats().items() if isinstance(v, int)}))
    """
)


def crawl(url: str, private_hosts: list[str]) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", CRAWL_SCRIPT, url, json.dumps(private_hosts)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


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
