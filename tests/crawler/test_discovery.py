"""What a discovery response is sniffed as, from its first bytes and whatever the mode."""

from __future__ import annotations

import gzip

import pytest
from scrapy.http import HtmlResponse, Response

from crawler.discovery import Discovery, discovery_of, sniff_format
from tests.corpus import FIXTURE_SITE_ROOT


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("feeds/rss2.xml", "rss"),
        ("feeds/rss1.rdf", "rss"),
        ("feeds/atom.xml", "atom"),
        ("feeds/feed.json", "jsonfeed"),
        ("sitemaps/index.xml", "sitemapindex"),
        ("sitemaps/news.xml", "urlset"),
        ("sitemaps/b.xml.gz", "urlset"),
        ("listing/index.html", "html"),
    ],
)
def test_each_fixture_format_is_told_by_its_first_bytes(path, expected):
    assert sniff_format((FIXTURE_SITE_ROOT / path).read_bytes()) == expected


def test_comments_a_bom_and_a_doctype_before_the_root_are_passed():
    body = b"\xef\xbb\xbf\n<?xml version='1.0'?><!-- made by hand --><!DOCTYPE x><rss/>"
    assert sniff_format(body) == "rss"
    assert sniff_format(gzip.compress(b"<sitemapindex></sitemapindex>")) == "sitemapindex"


def test_anything_else_is_its_media_type_or_nothing():
    assert sniff_format(b"go away", "text/plain; charset=utf-8") == "text/plain"
    assert sniff_format(b'{"a": 1}', "application/json") == "application/json"
    assert sniff_format(b"\x1f\x8bnot gzip") is None
    assert sniff_format(b"") is None


def test_the_html_is_kept_only_when_asked():
    page = HtmlResponse("https://a.example/", status=200, body=b"<html>hi</html>")
    assert discovery_of(page) == Discovery(200, "html")
    assert discovery_of(page, keep_html=True).html == "<html>hi</html>"
    refused = Response("https://a.example/", status=403, body=b"no")
    assert discovery_of(refused, keep_html=True) == Discovery(403, None)
