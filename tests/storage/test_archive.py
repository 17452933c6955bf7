"""The page archive (storage/archive.py): what is kept of a response, compressed and read back,
written in the item's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage import archive
from storage.archive import ArchivedPage, archive_size, iter_pages, kept_headers
from storage.filters import ItemQuery
from storage.queries import ArticleRecord, store_articles

FETCHED = datetime(2026, 11, 30, 8, 15, 42, tzinfo=UTC)
BODY = ("<html><body><article>" + "Talks resumed in Islamabad. " * 400 + "</article>").encode()


def page(url: str = "https://example.org/a", body: bytes = BODY) -> ArchivedPage:
    headers = [("Content-Type", "text/html; charset=utf-8"), ("ETag", '"v1"')]
    return ArchivedPage.pack(url, 200, headers, body, FETCHED)


def record(key: str, archived: ArchivedPage | None) -> ArticleRecord:
    return ArticleRecord(
        url=f"https://example.org/{key}",
        url_key=f"example.org/{key}",
        text="Talks resumed in Islamabad.",
        content_hash=key,
        page=archived,
    )


def test_cookies_hop_by_hop_and_content_framing_are_not_kept():
    headers = [
        ("Content-Type", "text/html"),
        ("Set-Cookie", "session=secret"),
        ("set-cookie", "tracker=1"),
        ("Connection", "keep-alive, X-Private"),
        ("X-Private", "hop"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", "1234"),
        ("Last-Modified", "Mon, 01 Sep 2025 10:00:00 GMT"),
        ("Vary", "Accept-Encoding"),
        ("Vary", "Cookie"),
    ]
    assert kept_headers(headers) == [
        ("Content-Type", "text/html"),
        ("Last-Modified", "Mon, 01 Sep 2025 10:00:00 GMT"),
        ("Vary", "Accept-Encoding"),
        ("Vary", "Cookie"),
    ]


def test_headers_past_the_size_bound_are_cut():
    many = [(f"X-Filler-{n}", "x" * 1000) for n in range(100)]
    kept = kept_headers([("Content-Type", "text/html"), *many])
    assert kept[0] == ("Content-Type", "text/html")
    assert sum(len(name) + len(value) for name, value in kept) <= archive.MAX_HEADER_BYTES
    assert 20 < len(kept) < 40


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_page_round_trips_through_either_codec(codec, monkeypatch):
    if codec == "zstd" and archive._zstd() is None:
        pytest.skip("zstd is not installed")
    monkeypatch.setattr(archive, "codec", lambda: codec)
    packed = page()
    assert packed.codec == codec
    assert packed.unpacked() == BODY
    assert packed.body_bytes == len(BODY) and len(packed.body) < len(BODY) / 10
    assert packed.header("content-type") == "text/html; charset=utf-8"


def test_zstd_is_used_where_it_is_installed():
    assert archive.codec() == ("zstd" if archive._zstd() is not None else "gzip")


def count(engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(f"select count(*) from {table}").scalar_one())


def test_pages_are_stored_with_their_items_and_read_back_in_batches(engine):
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "insert into sources (id, name, mode, url, created_at) values"
            " (1, 'mofa', 'feed', 'https://example.org/feed', '2026-01-01'),"
            " (2, 'dawn', 'feed', 'https://example.org/feed2', '2026-01-01')"
        )
    pages = {key: page(f"https://example.org/{key}") for key in ("a", "b", "c")}
    store_articles(engine, 1, [record(key, pages[key]) for key in ("a", "b")])
    store_articles(engine, 2, [record("c", pages["c"]), record("unarchived", None)])
    assert count(engine, "page_archive") == 3

    batches = list(iter_pages(engine, batch_size=2))
    assert [len(batch) for batch in batches] == [2, 1]
    read = [stored for batch in batches for stored in batch]
    assert [(stored.source, stored.page.url) for stored in read] == [
        ("mofa", "https://example.org/a"),
        ("mofa", "https://example.org/b"),
        ("dawn", "https://example.org/c"),
    ]
    assert all(stored.page.unpacked() == BODY for stored in read)
    assert read[0].page.fetched_at == FETCHED and read[0].page.status == 200
    assert read[0].page.headers == pages["a"].headers
    only_dawn = [s.page.url for b in iter_pages(engine, ItemQuery(source="dawn")) for s in b]
    assert only_dawn == ["https://example.org/c"]
    resumed = [s.page.url for b in iter_pages(engine, after=read[1].item_id) for s in b]
    assert resumed == ["https://example.org/c"]

    size = archive_size(engine)
    assert size.pages == 3 and size.body_bytes == 3 * len(BODY)
    assert size.stored_bytes == sum(len(p.body) for p in pages.values())


def test_a_batch_that_fails_to_store_leaves_no_page_behind(engine):
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "insert into sources (id, name, mode, url, created_at)"
            " values (1, 'mofa', 'feed', 'https://example.org/feed', '2026-01-01')"
        )

    def fail(_session, _inserted):
        raise RuntimeError("killed mid-batch")

    with pytest.raises(RuntimeError):
        store_articles(engine, 1, [record("a", page())], after_insert=fail)
    assert count(engine, "items") == 0
    assert count(engine, "page_archive") == 0
