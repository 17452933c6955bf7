"""One bare Scrapy crawl of one URL in a child process (a reactor cannot restart), for tests of
a single component; returns the crawl's integer stats."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from scrapy import Spider
    from scrapy.crawler import CrawlerProcess

    url, settings, allowed = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])

    class Fetch(Spider):
        name = "fetch"
        start_urls = [url]

        def parse(self, response):
            yield {"url": response.url}

    base = {
        "LOG_LEVEL": "ERROR",
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "NEWSMON_ALLOWED_PRIVATE_HOSTS": allowed,  # crawler/middlewares.py
    }
    process = CrawlerProcess({**base, **settings})
    crawler = process.create_crawler(Fetch)
    process.crawl(crawler)
    process.start()
    print(json.dumps({k: v for k, v in crawler.stats.get_stats().items() if isinstance(v, int)}))
    """
)


def crawl_once(
    url: str, settings: dict[str, Any], allowed_private_hosts: Iterable[str] = ()
) -> dict[str, int]:
    arguments = [url, json.dumps(settings), json.dumps(list(allowed_private_hosts))]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
