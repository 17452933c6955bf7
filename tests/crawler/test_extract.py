"""Golden items: every saved page, run through the code the crawl runs, gives the item its
expected JSON describes (tests/fixtures/expected/NAME.json, as Fundus keeps one per outlet).

A page is fetched from the fixture site, decoded by `crawler.charset.decode_html` with the
Content-Type it was served with, extracted by `crawler.extract.extract_article` and merged with
its discovery hints by `crawler.worker.article_record`, as the spider and ExtractPipeline do.
The text is checked, as trafilatura's evaldata does, by phrases it must hold and must not hold
and by a minimum length, never against a whole copy. No expectation depends on the clock: the
pages carry their dates.
"""

from __future__ import annotations

import codecs
import re
import urllib.request
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawler.charset import decode_html
from crawler.extract import MIN_TEXT_CHARS, NotAnArticle, extract_article
from crawler.items import FetchedPage, Hints
from crawler.worker import article_record
from storage.queries import ArticleRecord
from tests.corpus import GOLDEN
from tests.localsite import LocalSite

# UTF-8 read as windows-1252 ('Ã', 'â€'), Arabic script read as windows-1252 ('Ø', 'Ù', 'Ú').
MOJIBAKE = re.compile("Ã|â€|Ø|Ù|Ú|\ufffd")


def fetch(site: LocalSite, path: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(site.url(path), timeout=5) as response:
        return response.headers["Content-Type"], response.read()


def crawl_page(site: LocalSite, path: str, hints: Hints) -> tuple[ArticleRecord, str]:
    """(the record the crawl would store for the page, the encoding it was decoded with)."""
    content_type, body = fetch(site, path)
    html, encoding = decode_html(body, content_type)
    page = FetchedPage(source="golden", url=site.url(path), html=html, hints=hints)
    return article_record(page, extract_article(page.html, page.url)), encoding


def hints_of(golden: dict) -> Hints:
    given = dict(golden.get("hints", {}))
    if "published" in given:
        given["published"] = datetime.fromisoformat(given["published"])
    return Hints(**given)


def script_share(text: str, language: str) -> float:
    """Share of letters written in the language's script."""
    letters = [char for char in text if char.isalpha()]
    if language == "ur":
        in_script = [char for char in letters if "\u0600" <= char <= "\u06ff"]
    else:
        in_script = [char for char in letters if char.isascii()]
    return len(in_script) / len(letters)


def test_goldens_cover_the_required_cases() -> None:
    assert len(GOLDEN) >= 8
    assert {g["encoding"] for g in GOLDEN.values()} == {"utf-8", "windows-1252", "windows-1256"}
    assert {g["item"]["language"] for g in GOLDEN.values()} == {"en", "ur"}
    assert any("hints" in g for g in GOLDEN.values())
    assert all(g["text"]["min_length"] >= MIN_TEXT_CHARS for g in GOLDEN.values())


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_a_page_gives_its_golden_item(fixture_site: LocalSite, name: str) -> None:
    golden = GOLDEN[name]
    record, encoding = crawl_page(fixture_site, golden["page"], hints_of(golden))

    assert codecs.lookup(encoding).name == codecs.lookup(golden["encoding"]).name
    found = {
        "title": record.title,
        "author": record.author,
        "published_at": record.published_at.isoformat() if record.published_at else None,
        "date_source": record.date_source,
        "language": record.language,
        "site_name": record.site_name,
        "canonical_url": record.canonical_url,
    }
    expected = {
        key: value.replace("{{BASE}}", fixture_site.base_url) if isinstance(value, str) else value
        for key, value in golden["item"].items()
    }
    assert found == expected
    assert record.url == fixture_site.url(golden["page"])

    text = record.text
    assert len(text) >= golden["text"]["min_length"]
    missing = [phrase for phrase in golden["text"]["with"] if phrase not in text]
    assert not missing, f"text lost {missing}"
    leaked = [phrase for phrase in golden["text"]["without"] if phrase in text]
    assert not leaked, f"page furniture in the text: {leaked}"
    for field in (text, record.title or "", record.site_name or ""):
        assert not MOJIBAKE.search(field), MOJIBAKE.search(field)
    assert script_share(text, record.language or "") > 0.9


@pytest.mark.parametrize(
    "path", ["/bad/not-article.html", "/bad/list-only.html", "/bad/empty.html"]
)
def test_a_page_without_an_article_gives_no_item(fixture_site: LocalSite, path: str) -> None:
    content_type, body = fetch(fixture_site, path)
    html, _ = decode_html(body, content_type)
    with pytest.raises(NotAnArticle):
        extract_article(html, fixture_site.url(path))


def test_a_page_gives_the_same_text_however_often_it_is_extracted(fixture_site: LocalSite) -> None:
    """A worker extracts many pages, a re-check the same page again: no text may be taken
    for a repeat of what an earlier call saw (trafilatura's `deduplicate` would)."""
    path = GOLDEN["dar-rubio"]["page"]
    texts = {crawl_page(fixture_site, path, Hints())[0].text for _ in range(4)}
    assert len(texts) == 1


@pytest.mark.parametrize("ago", [timedelta(minutes=10), timedelta(days=3)])
def test_a_page_published_today_keeps_its_time_of_day(fixture_site: LocalSite, ago) -> None:
    """The page's time is kept, not cut to its day; also for today's pages, which trafilatura's
    default latest date (today's midnight) would cut."""
    _, body = fetch(fixture_site, GOLDEN["dar-rubio"]["page"])
    written = (
        (datetime.now(UTC) - ago).replace(microsecond=0).astimezone(timezone(timedelta(hours=5)))
    )
    html = re.sub(r"2025-07-25T23:41:00\+05:00", written.isoformat(), body.decode("utf-8"))
    assert extract_article(html, fixture_site.url("/today.html")).published == written
