"""The pure parts of incremental crawling: sitemap dates, text normalisation, near-duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from crawler.sitemapdates import publication_dates, recent_entries
from storage.crawlstate import ensure_source
from storage.db import make_engine, prepare_for_writing
from storage.models import Item
from storage.neardup import DuplicateLinker
from storage.queries import ArticleRecord, store_articles
from storage.textnorm import normalise

NEWS = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>http://x/new</loc><news:news>
    <news:publication_date>2026-01-10T08:00:00+05:00</news:publication_date></news:news></url>
  <url><loc>http://x/old</loc><lastmod>2026-01-10</lastmod><news:news>
    <news:publication_date>2025-01-01</news:publication_date></news:news></url>
  <url><loc>http://x/entity</loc><news:news>
    <news:publication_date>&e;</news:publication_date></news:news></url>
</urlset>"""


def test_news_publication_dates_are_read_without_expanding_entities():
    dates = publication_dates(NEWS)
    assert dates["http://x/new"] == "2026-01-10T08:00:00+05:00"
    assert "root:" not in dates.get("http://x/entity", "")


def test_entries_older_than_max_age_are_dropped_and_the_news_date_wins_over_lastmod():
    entries = [{"loc": "http://x/new"}, {"loc": "http://x/old", "lastmod": "2026-01-10"}]
    now = datetime(2026, 1, 12, tzinfo=UTC)
    found, too_old = recent_entries(entries, NEWS, None, now)  # news: 7 days by default
    assert [loc for loc, _ in found] == ["http://x/new"]
    assert too_old == 1
    assert found[0][1].published == datetime(2026, 1, 10, 3, tzinfo=UTC)
    plain = [{"loc": "http://x/a", "lastmod": "2020-01-01"}, {"loc": "http://x/b"}]
    assert len(recent_entries(plain, b"<urlset/>", None, now)[0]) == 2
    assert recent_entries(plain, b"<urlset/>", 86400.0, now)[1] == 1


def test_normalising_ignores_whitespace_case_punctuation_and_boilerplate_lines():
    a = "The minister said: talks   went well.\nUpdated 5 minutes ago\nShare this article"
    b = "the Minister said talks went well!\n\nUpdated just now"
    assert normalise(a) == normalise(b)
    assert normalise(a) != normalise("The minister said talks went badly.")
    # A long line that starts like boilerplate is content.
    long = "Published reports say the minister will resign after the budget session ends."
    assert normalise(long)


PARAGRAPHS = [
    "The finance minister presented the annual budget to parliament on Tuesday afternoon.",
    "Opposition members walked out, calling the tax measures unfair to salaried workers.",
    "The budget raises the development outlay by twelve percent and trims electricity subsidies.",
    "Economists said the revenue targets looked ambitious given the slowdown in manufacturing.",
    "The government expects inflation to fall to single digits by the end of the year.",
]
OTHER = [
    "Heavy rain lashed the coastal city overnight, flooding several low-lying neighbourhoods.",
    "Rescue teams evacuated hundreds of families from the riverbanks as water levels rose.",
    "The meteorological office forecast more showers over the weekend in the north.",
]


def record(key: str, text: str) -> ArticleRecord:
    return ArticleRecord(url=f"http://x/{key}", url_key=f"x/{key}", text=text, content_hash=key)


def test_near_copies_link_to_the_earliest_item_and_unrelated_texts_do_not(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    prepare_for_writing(engine)
    source = ensure_source(engine, "s", "feed", "http://x/feed")
    linker = DuplicateLinker(0.8)
    wire = "\n".join(PARAGRAPHS)
    batches = [
        [record("wire", wire)],
        [
            record("copy", "KARACHI: " + wire + "\nCopyright 2026 Outlet B"),
            record("copy2", wire.replace("Tuesday", "Tuesday,")),
            record("rain", "\n".join(OTHER)),
        ],
    ]
    for batch in batches:
        store_articles(engine, source, batch, after_insert=linker.link)
    with engine.connect() as connection:
        links = dict(connection.execute(select(Item.url_key, Item.duplicate_of)).all())
        ids = dict(connection.execute(select(Item.url_key, Item.id)).all())
    assert links == {
        "x/wire": None,
        "x/copy": ids["x/wire"],
        "x/copy2": ids["x/wire"],
        "x/rain": None,
    }
    assert linker.linked == 2


def test_a_lookup_reads_only_candidates(tmp_path):
    from sqlalchemy.orm import Session

    from storage.minhash import minhash
    from storage.neardup import find_near_copies

    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    prepare_for_writing(engine)
    source = ensure_source(engine, "s", "feed", "http://x/feed")
    linker = DuplicateLinker(0.8)
    store_articles(
        engine, source, [record("wire", "\n".join(PARAGRAPHS))], after_insert=linker.link
    )
    with Session(engine) as session:
        assert find_near_copies(session, minhash("\n".join(OTHER)), 0.8) == []
        [copy] = find_near_copies(session, minhash("\n".join(PARAGRAPHS)), 0.8)
        assert copy.jaccard == 1.0
