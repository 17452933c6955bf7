"""The page archive end to end: `newsmon crawl` with `archive: true` keeps the pages,
`newsmon reextract` extracts them again into versions and matches, `newsmon export --format
warc` writes them as WARC that warcio reads back, `newsmon stats` reports the size. Real
processes, a real SQLite file, a local site on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from storage.archive import decompress
from storage.clock import to_utc
from tests.jobs.helpers import newsmon, write_config
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.services import rows

pytestmark = pytest.mark.slow

STORY = [
    "The finance minister presented the annual budget to parliament on Tuesday afternoon.",
    "Opposition members walked out of the session, calling the tax measures unfair to workers.",
    "The budget raises the development outlay by twelve percent and trims power subsidies.",
    "Economists said the revenue targets looked ambitious given the slowdown in manufacturing.",
    "The government expects inflation to fall to single digits by the end of the fiscal year.",
]
FLAGGED = "The minister said the Pakistan-US trade talks would resume in Islamabad next month."
SOURCES = """\
  - name: wire
    feed: {base}/wire.xml
  - name: other
    feed: {base}/other.xml
    archive: false
"""


def article(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}"
        "</article></body></html>"
    ).encode()


PAGES = {
    "/wire/a.html": article("Talks to resume", [*STORY, FLAGGED]),
    "/wire/b.html": article("Budget presented", STORY[::-1]),
    "/other/c.html": article("Budget debate", STORY[1:] + STORY[:1]),
}


def rss(base: str, paths: list[str]) -> bytes:
    entries = "".join(f"<item><title>{p}</title><link>{base}{p}</link></item>" for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{entries}</channel></rss>'.encode()


def gzipped_page(path: str):
    """Served gzip-encoded, with a cookie: neither the coding nor the cookie is archived."""

    def respond(_request: RecordedRequest) -> Response:
        headers = {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Encoding": "gzip",
            "Set-Cookie": "session=s3cret-cookie; HttpOnly",
            "ETag": '"v1"',
        }
        return Response(gzip.compress(PAGES[path]), 200, headers)

    return respond


@pytest.fixture
def site():
    with LocalSite() as site:
        for path in PAGES:
            site.route(path, gzipped_page(path))
        feeds = {"/wire.xml": ["/wire/a.html", "/wire/b.html"], "/other.xml": ["/other/c.html"]}
        for feed, paths in feeds.items():
            body = rss(site.base_url, paths)
            site.route(
                feed, lambda _r, body=body: Response(body, 200, {"Content-Type": "text/xml"})
            )
        site.route("/hook", lambda _r: Response(b"{}", 200))
        yield site


@pytest.fixture
def crawled(tmp_path: Path, site: LocalSite) -> tuple[Path, Path]:
    config = write_config(tmp_path, site, SOURCES, extra="archive: true\n")
    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    return config, tmp_path / "newsmon.db"


def item_id(db: Path, path: str) -> int:
    [(found,)] = rows(db, "select id from items where url like ?", f"%{path}")
    return int(found)


def test_only_archiving_sources_keep_their_pages_without_cookies_or_coding(crawled):
    _, db = crawled
    archived = rows(
        db,
        "select i.url, a.url, a.status, a.headers, a.codec, a.body, a.body_bytes, a.stored_bytes"
        " from page_archive a join items i on i.id = a.item_id order by i.url",
    )
    assert [row[0].rsplit("/", 2)[-2:] for row in archived] == [
        ["wire", "a.html"],
        ["wire", "b.html"],
    ]
    for url, page_url, status, headers, codec, body, body_bytes, stored_bytes in archived:
        path = "/" + "/".join(url.rsplit("/", 2)[-2:])
        assert page_url == url and status == 200
        assert decompress(body, codec) == PAGES[path]  # as the server meant it, coding undone
        assert body_bytes == len(PAGES[path]) and stored_bytes == len(body)
        names = {name.lower() for name, _ in json.loads(headers)}
        assert "content-type" in names and "etag" in names
        assert not names & {"set-cookie", "content-encoding", "content-length"}
        assert "s3cret-cookie" not in headers


def test_reextract_turns_a_changed_extraction_into_a_version_and_new_matches(crawled, site):
    config, db = crawled
    a = item_id(db, "/wire/a.html")
    # As an older extractor left it: the last paragraph missed, so no keyword matched.
    [(text,)] = rows(db, "select text from items where id = ?", a)
    with sqlite3.connect(db) as connection:
        connection.execute("update items set text = ? where id = ?", (text.replace(FLAGGED, ""), a))
        connection.execute("delete from keyword_matches where item_id = ?", (a,))
    hook = site.base_url.replace("http://", "json://") + "/hook"
    config.write_text(config.read_text() + f"alerts:\n  - name: desk\n    url: {hook}\n")

    result = newsmon(config, "reextract", "--alert")
    assert result.returncode == 0, result.stderr
    assert "extracted 2 pages again: 1 changed (new versions), 1 unchanged" in result.stdout
    assert "2 newly flagged" in result.stdout and "alerts owed: 2" in result.stdout
    assert "done up to item" in result.stderr and "--after" in result.stderr
    assert rows(db, "select item_id, version from item_versions order by version") == [
        (a, 1),
        (a, 2),
    ]
    [(text,)] = rows(db, "select text from items where id = ?", a)
    assert FLAGGED in text
    matched = rows(db, "select distinct keyword from keyword_matches where item_id = ?", a)
    assert sorted(matched) == [("Pakistan-US",), ("us-pakistan",)]
    delivered = rows(db, "select keyword, status from alert_deliveries where item_id = ?", a)
    assert sorted(delivered) == [("Pakistan-US", "sent"), ("us-pakistan", "sent")]
    assert site.hits("/hook") >= 1
    shown = newsmon(config, "show", str(a), "--versions")
    assert f"+{FLAGGED}" in shown.stdout

    again = newsmon(config, "reextract")  # a second run finds nothing left to change
    assert again.returncode == 0, again.stderr
    assert "0 changed (new versions), 2 unchanged" in again.stdout
    assert rows(db, "select count(*) from item_versions") == [(2,)]
    past_a = newsmon(config, "reextract", "--after", str(max(a, item_id(db, "/wire/b.html"))))
    assert "no archived pages to extract" in past_a.stdout
    assert "no archived pages" in newsmon(config, "reextract", "--source", "other").stdout


def test_the_warc_export_reads_back_as_the_stored_pages(crawled, tmp_path):
    config, db = crawled
    out = tmp_path / "pages.warc.gz"
    result = newsmon(config, "export", "--format", "warc", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "exported 2 archived pages" in result.stderr
    stored = {
        url: (decompress(body, codec), json.loads(headers), to_utc(fetched), status)
        for url, body, codec, headers, fetched, status in rows(
            db, "select url, body, codec, headers, fetched_at, status from page_archive"
        )
    }
    with out.open("rb") as handle:
        records = [
            (
                record.rec_type,
                record.rec_headers.get_header("WARC-Target-URI"),
                record.rec_headers.get_header("WARC-Date"),
                record.http_headers,
                record.content_stream().read(),
            )
            for record in ArchiveIterator(handle)
        ]
    assert records[0][0] == "warcinfo"
    responses = records[1:]
    assert {uri for _, uri, *_ in responses} == set(stored)
    for kind, uri, date, http, payload in responses:
        body, headers, fetched, status = stored[uri]
        assert kind == "response" and payload == body
        assert date == fetched.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert http.get_statuscode() == str(status)
        assert http.get_header("Content-Length") == str(len(body))
        assert http.get_header("Content-Type") == dict(headers)["Content-Type"]
        assert http.get_header("Content-Encoding") is None
        assert http.get_header("Set-Cookie") is None

    only_other = tmp_path / "other.warc.gz"
    assert (
        newsmon(
            config, "export", "--format", "warc", "--out", str(only_other), "--source", "other"
        ).returncode
        == 0
    )
    with only_other.open("rb") as handle:
        assert [r.rec_type for r in ArchiveIterator(handle)] == ["warcinfo"]
    to_stdout = newsmon(config, "export", "--format", "warc", "--out", "-")
    assert to_stdout.returncode == 2 and "warc needs a file" in to_stdout.stderr


def test_stats_reports_the_archive_size(crawled):
    config, db = crawled
    [(pages, stored, fetched)] = rows(
        db, "select count(*), sum(stored_bytes), sum(body_bytes) from page_archive"
    )
    result = newsmon(config, "stats", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["archive"] == {
        "pages": pages,
        "stored_bytes": stored,
        "body_bytes": fetched,
    }
    assert pages == 2 and stored < fetched
    table = newsmon(config, "stats", "--source", "other")
    assert "archive: 0 pages" in table.stdout


def test_a_rechecked_new_version_replaces_its_archived_page(tmp_path, site, monkeypatch):
    sources = SOURCES.replace(
        "feed: {base}/wire.xml\n", "feed: {base}/wire.xml\n    recheck: 48h\n"
    )
    config = write_config(tmp_path, site, sources, extra="archive: true\n")
    assert newsmon(config, "crawl").returncode == 0
    db = tmp_path / "newsmon.db"
    corrected = article("Talks to resume", [*STORY, "Correction: the talks were postponed."])
    monkeypatch.setitem(PAGES, "/wire/a.html", corrected)
    feed = rss(site.base_url, ["/wire/a.html", "/wire/b.html"]) + b"<!-- v2 -->"
    site.route("/wire.xml", lambda _r: Response(feed, 200, {"Content-Type": "text/xml"}))

    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    a = item_id(db, "/wire/a.html")
    assert rows(db, "select max(version) from item_versions where item_id = ?", a) == [(2,)]
    [(body, codec)] = rows(db, "select body, codec from page_archive where item_id = ?", a)
    assert decompress(body, codec) == corrected
    # The archive holds the page the current text came from: nothing to re-extract.
    again = newsmon(config, "reextract")
    assert "0 changed (new versions), 2 unchanged" in again.stdout, again.stderr


def test_reextract_applies_the_sources_own_extraction_rules(crawled):
    config, db = crawled
    a = item_id(db, "/wire/a.html")
    assert STORY[0] in rows(db, "select text from items where id = ?", a)[0][0]
    # The user adds a rule after the crawl: the archive lets it reach pages already stored.
    before = config.read_text()
    ruled = before.replace(
        "/wire.xml\n", '/wire.xml\n    extract: {remove: ["article p:first-of-type"]}\n', 1
    )
    assert ruled != before
    config.write_text(ruled)
    result = newsmon(config, "reextract", "--source", "wire")
    assert result.returncode == 0, result.stderr
    assert "2 changed (new versions)" in result.stdout
    [(stored,)] = rows(db, "select text from items where id = ?", a)
    assert STORY[0] not in stored and STORY[1] in stored
