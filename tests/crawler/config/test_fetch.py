"""A source's fetch options and `render`, validated when the config loads."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from crawler.config.file import ConfigError
from crawler.config.load import load_config
from crawler.config.models import Config


def load(tmp_path: Path, source: str) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n  - name: example\n" + textwrap.indent(textwrap.dedent(source), "    "),
        encoding="utf-8",
    )
    return load_config(path)


def problem(tmp_path: Path, source: str) -> str:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, source)
    return str(error.value)


def test_the_options_of_the_issue_load_with_values_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EXAMPLE_CONSENT", "yes-42")
    monkeypatch.setenv("EXAMPLE_PROXY", "http://user:secret@proxy.example:3128")
    [source] = load(
        tmp_path,
        """\
        feed: https://example.org/feed
        headers: {Accept-Language: "en-GB"}
        cookies: {consent: "${EXAMPLE_CONSENT}"}
        proxy: "${EXAMPLE_PROXY}"
        user_agent: "newsmon-example/1.0"
        """,
    ).sources
    assert source.headers == {"Accept-Language": "en-GB"}
    assert source.cookies == {"consent": "yes-42"}
    assert source.proxy == "http://user:secret@proxy.example:3128"
    assert source.user_agent == "newsmon-example/1.0"
    assert not source.renders(discovery=True) and not source.renders(discovery=False)


def test_render_browser_renders_a_listing_and_its_articles(tmp_path):
    [source] = load(tmp_path, "listing: https://example.org/news/\nrender: browser\n").sources
    assert source.renders(discovery=True) and source.renders(discovery=False)
    assert source.render.timeout == 20 and source.render.max_pages == 100


def test_render_browser_on_a_feed_renders_only_its_articles(tmp_path):
    [source] = load(tmp_path, "feed: https://example.org/feed\nrender: browser\n").sources
    assert not source.renders(discovery=True) and source.renders(discovery=False)


def test_render_can_say_which_pages_wait_for_what_and_how_long(tmp_path):
    [source] = load(
        tmp_path,
        """\
        listing: https://example.org/news/
        render: {listing: browser, articles: http, wait_for: "ul.press-list a", timeout: 5s, max_pages: 3}
        """,
    ).sources
    assert source.renders(discovery=True) and not source.renders(discovery=False)
    assert (source.render.wait_for, source.render.timeout, source.render.max_pages) == (
        "ul.press-list a",
        5.0,
        3,
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("render: chrome\n", "render 'chrome': use browser, http or a mapping"),
        ("render: {listing: browser}\n", "render.listing only applies to a listing source"),
        ("render: {wait_for: main}\n", "render.wait_for needs pages rendered"),
        ("render: {articles: browser, max_pages: 0}\n", "max_pages"),
        ("proxy: socks5://127.0.0.1:1080\n", "socks5:// is not supported"),
        ("proxy: ftp://proxy.example:21\n", "http://host:port"),
        ("proxy: http://proxy.example\n", "http://host:port"),
        ("headers: {User-Agent: x}\n", "use the source's `user_agent` key"),
        ("headers: {Cookie: a=b}\n", "use the source's `cookies` key"),
        ('headers: {"Bad Name": x}\n', "not a valid HTTP field name"),
        ('headers: {X-Test: "a\\r\\nInjected: yes"}\n', "must be one line"),
        ('cookies: {consent: "a; other=b"}\n', "may not hold"),
    ],
)
def test_bad_fetch_options_are_config_errors_naming_the_key(tmp_path, source, message):
    text = problem(tmp_path, "feed: https://example.org/feed\n" + source)
    assert message in text
    assert re.search(r"config\.yaml:[24]: sources\[0\]", text)  # the option's or the source's line


def test_a_cookie_value_is_never_echoed_in_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SESSION", "s3cr3t value")
    text = problem(tmp_path, 'feed: https://example.org/feed\ncookies: {session: "${SESSION}"}\n')
    assert "s3cr3t" not in text
