"""Near-duplicates (storage/neardup.py), on SQLite and PostgreSQL: a copy links to the
earliest item of its story, an unrelated text to none."""

from __future__ import annotations

from sqlalchemy import select

from storage.crawlstate import ensure_source
from storage.models import Item
from storage.neardup import DuplicateLinker
from storage.queries import ArticleRecord, store_articles

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


def test_near_copies_link_to_the_earliest_item_and_unrelated_texts_do_not(engine):
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


def test_a_lookup_reads_only_candidates(engine):
    # Without before_id the lookup once bound 2**62 against an INTEGER column, which
    # PostgreSQL refuses: it now leaves the bound out.
    from sqlalchemy.orm import Session

    from storage.neardup import find_near_copies
    from storage.text import minhash

    source = ensure_source(engine, "s", "feed", "http://x/feed")
    linker = DuplicateLinker(0.8)
    store_articles(
        engine, source, [record("wire", "\n".join(PARAGRAPHS))], after_insert=linker.link
    )
    with Session(engine) as session:
        assert find_near_copies(session, minhash("\n".join(OTHER)), 0.8) == []
        [copy] = find_near_copies(session, minhash("\n".join(PARAGRAPHS)), 0.8)
        assert copy.jaccard == 1.0
