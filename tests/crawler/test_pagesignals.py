"""What a page says about itself: ld+json, og:type, link density, URL shape, consent walls."""

from __future__ import annotations

import json

import pytest
from lxml import html as lxml_html

from crawler.pagesignals import MAX_LD_JSON_CHARS, PageSignals, consent_wall, read_signals


def signals(
    body: str, head: str = "", url: str = "https://news.example/story/1", lang: str = ""
) -> PageSignals:
    page = f"<html{lang}><head>{head}</head><body>{body}</body></html>"
    return read_signals(lxml_html.fromstring(page), url)


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


@pytest.mark.parametrize(
    ("data", "free"),
    [
        ({"@type": "NewsArticle", "isAccessibleForFree": False}, False),
        ({"@type": "NewsArticle", "isAccessibleForFree": "True"}, True),
        ({"@type": "NewsArticle", "isAccessibleForFree": "false"}, False),
        ({"@type": "NewsArticle"}, None),
        ({"@type": "NewsArticle", "isAccessibleForFree": "maybe"}, None),
        (
            {"@graph": [{"@type": "WebPage"}, {"@type": "Article", "isAccessibleForFree": False}]},
            False,
        ),
        ([{"@type": "WebPage", "isAccessibleForFree": True}, {"@type": "NewsArticle"}], True),
    ],
)
def test_accessible_for_free_comes_from_ld_json(data: object, free: bool | None) -> None:
    assert signals("<p>x</p>", ld(data)).accessible_for_free is free


def test_broken_or_huge_ld_json_is_ignored() -> None:
    broken = '<script type="application/ld+json">{"@type": "NewsArticle",</script>'
    assert signals("<p>x</p>", broken).ld_types == frozenset()
    huge = ld(
        {"@type": "NewsArticle", "isAccessibleForFree": False, "pad": "x" * MAX_LD_JSON_CHARS}
    )
    assert signals("<p>x</p>", huge).accessible_for_free is None


def test_article_body_and_types_are_read() -> None:
    found = signals(
        "", ld({"@type": ["NewsArticle", "https://schema.org/Thing"], "articleBody": " a\n b "})
    )
    assert found.ld_types == {"NewsArticle", "Thing"} and found.article_body == "a b"
    assert found.says_article


def test_the_declared_language_is_the_primary_subtag() -> None:
    assert signals("", lang=' lang="en-GB"').declared_language == "en"
    assert signals("", lang="").declared_language is None


def test_link_density_leaves_page_furniture_out() -> None:
    nav = "<nav>" + "<a href='/x'>a long navigation link</a>" * 20 + "</nav>"
    assert signals(nav + "<p>" + "plain words " * 20 + "</p>").link_density == 0.0
    assert signals("<p><a href='/a'>half</a>half</p>").link_density == 0.5


TEASERS = "".join(
    f"<h2><a href='/s/{n}'>Headline number {n} here</a></h2><p>A summary line {n} that runs on a little.</p>"
    for n in range(8)
)


@pytest.mark.parametrize(
    ("head", "url", "listed", "refused"),
    [
        ('<meta property="og:type" content="website">', "https://n.example/world/", False, True),
        ("", "https://n.example/tag/diplomacy/", False, True),
        ("", "https://n.example/world/", False, False),  # no sign but links: too few to tell
        ('<meta property="og:type" content="article">', "https://n.example/tag/x/", False, False),
        (ld({"@type": "CollectionPage"}), "https://n.example/x", False, True),
        ('<meta property="og:type" content="website">', "https://n.example/world/", True, False),
    ],
)
def test_section_pages_are_told_by_links_and_other_signs(
    head: str, url: str, listed: bool, refused: bool
) -> None:
    found = signals(TEASERS, head, url)
    assert 0.3 <= found.link_density < 0.5
    assert (found.section_reason(listed) is not None) == refused


def test_a_page_of_links_alone_is_refused_unless_it_says_article() -> None:
    links = (
        "<ul>" + "".join(f"<li><a href='/n/{n}'>Story {n}</a></li>" for n in range(10)) + "</ul>"
    )
    assert signals(links).section_reason() == "a list of links: 100% of its text is links"
    assert signals(links, '<meta property="og:type" content="article">').section_reason() is None
    # A feed or sitemap listing it raises the bar, but a page of nothing but links stays out.
    assert signals(links).section_reason(listed=True) is not None
    some_words = "<p>" + "plain words " * 4 + "</p>" + links  # 60% links
    assert signals(some_words).section_reason() is not None
    assert signals(some_words).section_reason(listed=True) is None


def test_a_consent_wall_is_told_from_a_story_about_cookies() -> None:
    wall = (
        "We value your privacy. We and our partners use cookies and identifiers on your device"
        " for personalised advertising. Accept all, reject all or manage options to set your"
        " preferences before consenting."
    )
    assert consent_wall(wall)
    story = "The regulator fined the bakery for mislabelled cookies sold in Lahore. " * 3
    assert not consent_wall(story)
    assert not consent_wall(wall + " story" * 600)
