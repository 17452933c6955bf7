"""Secrets in URLs: hidden wherever a URL is shown, logged, stored or served."""

import logging

import pytest

from crawler.redact import (
    RedactingFilter,
    hide_parts_of,
    redact_text,
    redact_url,
    sealed,
    unsealed,
)
from crawler.urls import split_credentials


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "http://newsmon:s3cret@host:8080/feed.xml?api_key=k3y&page=2#top",
            "http://newsmon:***@host:8080/feed.xml?api_key=***&page=***#top",
        ),
        ("https://TOKEN@api.example/feed", "https://***@api.example/feed"),
        ("https://news.example/feed?flag", "https://news.example/feed?flag"),
        ("https://news.example/feed", "https://news.example/feed"),
        ("http://u:pw@[::1/f?k=v", "http://[::1/f"),  # unparsable: no query, no userinfo
    ],
)
def test_redact_url_hides_passwords_and_query_values(url, shown):
    assert redact_url(url) == shown


def test_redact_text_finds_each_url_and_keeps_what_follows():
    text = "news: <GET http://u:pw@h/f?key=abc> and http://h/f?key=abc: http_500."
    assert (
        redact_text(text)
        == "news: <GET http://u:***@h/f?key=***> and http://h/f?key=***: http_500."
    )
    assert redact_text("no urls here") == "no urls here"


def test_hide_parts_of_an_apprise_url():
    url = "slack://T0123ABCD/B0456EFGH/XoXoSecretToken99"
    error = (
        "HTTPError: 404 for https://hooks.slack.com/services/T0123ABCD/B0456EFGH/XoXoSecretToken99"
    )
    assert (
        hide_parts_of(url, error)
        == "HTTPError: 404 for https://hooks.slack.com/services/***/***/***"
    )


def test_the_filter_redacts_messages_and_tracebacks():
    logger = logging.getLogger("tests.redact")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    handler = Keep()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("fetching %s failed", "http://a:pw@h/f?api_key=KEY")
        try:
            raise ValueError("bad http://h/f?api_key=KEY")
        except ValueError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    assert "KEY" not in "".join(seen) and "pw" not in "".join(seen)
    assert seen[0] == "fetching http://a:***@h/f?api_key=*** failed"


def test_split_credentials_moves_them_out_of_the_url():
    assert split_credentials("http://news%40x:p%3Aw@h:81/f?k=1") == (
        "http://h:81/f?k=1",
        ("news@x", "p:w"),
    )
    assert split_credentials("http://h/f") == ("http://h/f", None)


def test_a_url_sealed_against_the_source_url_keeps_none_of_its_secrets():
    configured = "https://news.example/press/?api_key=k3y&lang=en"
    next_page = "https://u:pw@news.example/press/?api_key=k3y&page=3&lang=en&x"
    stored = sealed(next_page, configured)
    assert stored == "https://news.example/press/?api_key=***&page=3&lang=***&x"
    # Back with the source's values as configured now (a rotated key included).
    assert (
        unsealed(stored, configured) == "https://news.example/press/?api_key=k3y&page=3&lang=en&x"
    )
    rotated = configured.replace("k3y", "n3w")
    assert unsealed(stored, rotated) == "https://news.example/press/?api_key=n3w&page=3&lang=en&x"
    assert sealed("https://news.example/p/2/", configured) == "https://news.example/p/2/"
