"""robots.txt as RFC 9309 says: a server error means "assume complete disallow".

Scrapy parses whatever body the robots.txt request returns, so a 500 page (or a 503 during an
outage) parses as "no rules" and the whole site is crawled. RFC 9309 §2.3.1.3-4: 4xx means no
rules (crawl freely); 5xx means the file is unreachable and the crawler MUST assume complete
disallow. Network errors are left as Scrapy handles them (no rules): the page requests that
follow fail on their own with the real reason (connection refused, timeout), which is what
the run record should say.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response

from crawler.http_rules import DISALLOW_ALL, RobotsRule, robots_rule

log = logging.getLogger(__name__)


class SpecRobotsTxtMiddleware(RobotsTxtMiddleware):
    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        rule = robots_rule(response.status)
        if rule is RobotsRule.DISALLOW_ALL:
            log.warning(
                "%s answered HTTP %s: assuming complete disallow (RFC 9309)",
                response.url,
                response.status,
            )
            self._stats.inc_value("newsmon/robots/unreachable")
            response = response.replace(body=DISALLOW_ALL)
        elif rule is RobotsRule.ALLOW_ALL:
            response = response.replace(body=b"")  # "unavailable": no rules, crawl freely
        await super()._parse_robots(response, netloc, request)
