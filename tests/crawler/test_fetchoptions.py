"""What a source's requests carry: its User-Agent, headers, cookies on its own site only."""

from __future__ import annotations

from crawler.config.models import Config, Source
from crawler.fetchoptions import describe, request_headers, user_agent, uses_probe


def config_with(**source: object) -> Config:
    return Config.model_validate(
        {"user_agent": "newsmon-global/1", "sources": [{"name": "example", **source}]}
    )


def only_source(config: Config) -> Source:
    [source] = config.sources
    return source


def test_a_plain_source_sends_the_global_user_agent_only():
    config = config_with(feed="https://example.org/feed")
    source = only_source(config)
    assert request_headers(config, source, "https://example.org/a") == {
        "User-Agent": "newsmon-global/1"
    }
    assert uses_probe(source)
    assert describe(source) == ""


def test_headers_and_user_agent_go_everywhere_cookies_only_to_the_sources_site():
    config = config_with(
        feed="https://www.example.org/feed",
        headers={"Accept-Language": "en-GB"},
        cookies={"consent": "yes", "region": "pk"},
        user_agent="own/2",
    )
    source = only_source(config)
    assert user_agent(config, source) == "own/2"
    own = request_headers(config, source, "https://news.example.org/article")
    assert own == {
        "User-Agent": "own/2",
        "Accept-Language": "en-GB",
        "Cookie": "consent=yes; region=pk",
    }
    elsewhere = request_headers(config, source, "https://cdn.other.example/x.js")
    assert "Cookie" not in elsewhere and elsewhere["Accept-Language"] == "en-GB"
    # A look-alike host is another site.
    assert "Cookie" not in request_headers(config, source, "https://badexample.org/")


def test_describe_names_options_but_never_prints_their_secrets():
    source = only_source(
        config_with(
            listing="https://example.org/news/",
            headers={"X-Api-Key": "k3y-value"},
            cookies={"session": "c00kie-value"},
            proxy="http://user:pr0xy-pass@proxy.example:3128",
            render={"listing": "browser", "wait_for": "ul a"},
        )
    )
    text = describe(source)
    for secret in ("k3y-value", "c00kie-value", "pr0xy-pass"):
        assert secret not in text
    assert "headers X-Api-Key" in text and "cookies session=" in text
    assert "proxy.example:3128" in text and "browser renders listing" in text


def test_sources_behind_a_proxy_or_with_a_rendered_listing_skip_the_probe():
    assert not uses_probe(
        only_source(config_with(feed="https://e.org/f", proxy="http://127.0.0.1:3128"))
    )
    assert not uses_probe(only_source(config_with(listing="https://e.org/n/", render="browser")))
    # Only the articles are rendered: the feed itself is asked as usual.
    assert uses_probe(only_source(config_with(feed="https://e.org/f", render="browser")))
