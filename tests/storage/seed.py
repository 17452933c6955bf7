"""A small, known set of stored items for the query, CLI and web tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, update

from storage.crawlstate import ensure_source
from storage.models import Item
from storage.queries import ArticleRecord, MatchRecord, store_articles
from tests.services import newsmon_engine

DAR_TITLE = "Dar seeks 'stable relationship' with US in first meeting with Rubio"
DAR_TEXT = (
    "Deputy Prime Minister Ishaq Dar told Secretary Rubio that Pakistan sought an expanded and"
    " stable relationship with Washington, and that Pakistan-US trade could double."
)
XSS_TITLE = '<script>alert("pwned")</script> Rubio & Dar <img src=x onerror=alert(1)>'
FILLERS = 30
BASE = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)


def _match(keyword: str, text: str, term: str) -> MatchRecord:
    start = text.index(term)
    return MatchRecord(keyword, "text", start, start + len(term), text[start - 10 : start + 20])


def _article(key: str, title: str, text: str, **fields: object) -> ArticleRecord:
    return ArticleRecord(
        url=f"https://news.example/{key}",
        url_key=f"news.example/{key}",
        title=title,
        text=text,
        content_hash=key.rjust(64, "0"),
        **fields,  # type: ignore[arg-type]
    )


def seed(engine: Engine) -> dict[str, int]:
    """Store the known items; returns their ids by name."""
    dawn = ensure_source(engine, "dawn", "feed", "https://dawn.example/feed")
    mofa = ensure_source(engine, "mofa", "listing", "https://mofa.example/press/")
    ensure_source(engine, "idle", "feed", "https://idle.example/feed")  # no items
    ids: dict[str, int] = {}

    def store(name: str, source_id: int, article: ArticleRecord) -> None:
        ids[name] = store_articles(engine, source_id, [article]).new_item_ids[0]

    store(
        "dar",
        dawn,
        _article(
            "dar",
            DAR_TITLE,
            DAR_TEXT,
            published_at=datetime(2025, 7, 25, 18, 41, tzinfo=UTC),
            fetched_at=datetime(2025, 7, 26, 8, 0, tzinfo=UTC),
            language="en",
            language_source="page",
            accessible_for_free=False,
            author="Kamran Yousaf",
            matches=[_match("Pakistan-US", DAR_TEXT, "Pakistan-US")],
        ),
    )
    copy_text = DAR_TEXT + " Reported by a wire service."
    store(
        "dar_copy",
        mofa,
        _article(
            "dar-copy",
            "Dar and Rubio meet",
            copy_text,
            published_at=datetime(2025, 7, 26, 6, 0, tzinfo=UTC),
            fetched_at=datetime(2025, 7, 26, 9, 0, tzinfo=UTC),
            language="en-GB",
            matches=[_match("Pakistan-US", copy_text, "Pakistan-US")],
        ),
    )
    store(
        "urdu",
        mofa,
        _article(
            "urdu",
            "وزیر خارجہ کا دورہ",
            "وزیر خارجہ نے واشنگٹن میں ملاقات کی۔ relations with the region were discussed.",
            published_at=None,  # sorts and filters by its fetch date
            fetched_at=datetime(2025, 7, 20, 12, 0, tzinfo=UTC),
            language="ur",
            language_source="text",
            accessible_for_free=True,
            extracted_by="rules",
        ),
    )
    store(
        "xss",
        dawn,
        _article(
            "xss",
            XSS_TITLE,
            "A hostile page: </title><script>alert(2)</script> about Rubio and the relationship.",
            published_at=datetime(2025, 7, 10, 10, 0, tzinfo=UTC),
            fetched_at=datetime(2025, 7, 10, 11, 0, tzinfo=UTC),
            language="en",
        ),
    )
    store(
        "cricket",
        dawn,
        _article(
            "cricket",
            "Pakistan clinch T20 series",
            "Spinners stifle the chase as Pakistan clinch the series; no relationship to politics.",
            published_at=datetime(2025, 7, 15, 10, 0, tzinfo=UTC),
            fetched_at=datetime(2025, 7, 15, 11, 0, tzinfo=UTC),
            language="en",
            matches=[],
        ),
    )
    for n in range(FILLERS):
        store(
            f"filler{n}",
            dawn if n % 2 else mofa,
            _article(
                f"filler-{n}",
                f"Weekly briefing {n}",
                f"Routine briefing number {n} on trade, visas and consular matters.",
                published_at=BASE + timedelta(hours=n) if n % 5 else None,
                fetched_at=BASE + timedelta(hours=n, minutes=30),
                language="en",
            ),
        )
    # Near-duplicate detection (issue 4) marks the later copy.
    with engine.begin() as connection:
        connection.execute(
            update(Item).where(Item.id == ids["dar_copy"]).values(duplicate_of=ids["dar"])
        )
    return ids


def seeded_store(folder: Path) -> tuple[Path, dict[str, int]]:
    """The seed items in folder/newsmon.db and a config.yaml beside it that reads them, as
    `newsmon items` or `serve` would; returns (the config's path, the seed ids)."""
    engine = newsmon_engine(f"sqlite:///{folder / 'newsmon.db'}")
    ids = seed(engine)
    engine.dispose()
    config = folder / "config.yaml"
    config.write_text(
        "database: sqlite:///newsmon.db\n"
        "sources:\n  - name: dawn\n    feed: https://dawn.example/feed\n"
    )
    return config, ids
