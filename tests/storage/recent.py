"""A database of recent news for the analyst's view: two rules over three weeks, a burst in the
last minutes, a story carried by three sources with a corrected text, an Urdu story, crawl
runs and alert deliveries. Dates are relative to the time it is built."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, update

from storage.clock import utcnow
from storage.crawlstate import ensure_source
from storage.queries import ArticleRecord, MatchRecord, store_articles
from storage.tables import alert_deliveries, crawl_runs, item_versions, items
from tests.services import newsmon_engine

SOURCES = ("dawn", "app", "tribune", "mofa")
STORY_TEXT = (
    "Foreign Minister Ishaq Dar met Secretary Rubio in Washington. The Pakistan-US talks on"
    " Kashmir and trade lasted two hours. Both sides called the meeting constructive."
)
STORY_TEXT_V2 = STORY_TEXT.replace("lasted two hours", "lasted three hours")
URDU_TITLE = "پاکستان امریکہ مذاکرات میں پیش رفت"
URDU_TEXT = "وزیر خارجہ نے واشنگٹن میں پاکستان امریکہ تعلقات پر بات کی۔"
HOSTILE_SOURCE_ERROR = "<script>alert(3)</script> TLS handshake failed"
BURST = 8  # Pakistan-US items in the last minutes: a spike against one a day


@dataclass
class Recent:
    now: datetime
    ids: dict[str, int] = field(default_factory=dict)
    # (rule, day) -> source -> flagged items: what every chart must show
    per_day: dict[tuple[str, date], Counter[str]] = field(default_factory=dict)

    def count(self, rule: str, day: date) -> int:
        return sum(self.per_day.get((rule, day), Counter()).values())


def _match(rule: str, text: str, term: str) -> MatchRecord:
    start = text.index(term)
    return MatchRecord(
        rule, "text", start, start + len(term), text[max(0, start - 10) : start + 20]
    )


def build(engine: Engine) -> Recent:
    """Fill `engine`'s database; returns what was stored and what it should count as."""
    now = utcnow()
    recent = Recent(now)
    source_ids = {
        name: ensure_source(engine, name, "feed", f"https://{name}.example/feed")
        for name in SOURCES
    }

    def store(
        key: str,
        source: str,
        title: str,
        text: str,
        when: datetime,
        rules: dict[str, str],
        **extra: object,
    ) -> int:
        article = ArticleRecord(
            url=f"https://{source}.example/{key}",
            url_key=f"{source}.example/{key}",
            title=title,
            text=text,
            content_hash=key.rjust(64, "0"),
            published_at=when,
            fetched_at=when + timedelta(minutes=5),
            language=extra.pop("language", "en"),  # type: ignore[arg-type]
            matches=[_match(rule, text, term) for rule, term in rules.items()],
        )
        item_id = store_articles(engine, source_ids[source], [article]).new_item_ids[0]
        recent.ids[key] = item_id
        for rule in rules:
            recent.per_day.setdefault((rule, when.date()), Counter())[source] += 1
        return item_id

    # History: Pakistan-US once a day, Kashmir twice a day, for three weeks before today.
    for days_ago in range(1, 22):
        day = now - timedelta(days=days_ago)
        text = f"Routine Pakistan-US briefing number {days_ago} on trade."
        store(
            f"pkus-{days_ago}",
            SOURCES[days_ago % 3],
            f"Briefing {days_ago}",
            text,
            day,
            {"Pakistan-US": "Pakistan-US"},
        )
        for n in (0, 1):
            text = f"Kashmir update {days_ago}-{n}: talks continue."
            store(
                f"kashmir-{days_ago}-{n}",
                SOURCES[n + 1],
                f"Kashmir update {days_ago}-{n}",
                text,
                day - timedelta(hours=3 * n),
                {"Kashmir": "Kashmir"},
            )
    # The burst of BURST items in the last 40 minutes: four, the story, its two copies, Urdu.
    for n in range(BURST - 4):
        text = f"Breaking: Pakistan-US deal number {n} announced."
        store(
            f"burst-{n}",
            SOURCES[n % 4],
            f"Pakistan-US deal {n}",
            text,
            now - timedelta(minutes=2 * n + 1),
            {"Pakistan-US": "Pakistan-US"},
        )
    both = {"Pakistan-US": "Pakistan-US", "Kashmir": "Kashmir"}
    story = store(
        "story",
        "dawn",
        "Dar and Rubio hold talks in Washington",
        STORY_TEXT,
        now - timedelta(minutes=40),
        both,
    )
    for source, minutes in (("app", 30), ("tribune", 20)):
        copy = store(
            f"story-{source}",
            source,
            f"Dar, Rubio talks ({source})",
            STORY_TEXT + f" Reported by {source}.",
            now - timedelta(minutes=minutes),
            both,
        )
        with engine.begin() as connection:
            connection.execute(update(items).where(items.c.id == copy).values(duplicate_of=story))
    store(
        "urdu",
        "mofa",
        URDU_TITLE,
        URDU_TEXT,
        now - timedelta(minutes=10),
        {"Pakistan-US": "پاکستان امریکہ"},
        language="ur",
    )
    with engine.begin() as connection:
        connection.execute(
            insert(item_versions),
            [
                {
                    "item_id": story,
                    "version": 1,
                    "title": "Dar and Rubio hold talks",
                    "text": STORY_TEXT,
                    "content_hash": "1" * 64,
                    "fetched_at": now - timedelta(minutes=35),
                },
                {
                    "item_id": story,
                    "version": 2,
                    "title": "Dar and Rubio hold talks in Washington",
                    "text": STORY_TEXT_V2,
                    "content_hash": "2" * 64,
                    "fetched_at": now - timedelta(minutes=5),
                },
            ],
        )
        runs = [
            ("dawn", "ok", None, 60),
            ("app", "ok", None, 120),
            ("app", "failed", "HTTP 503 from the feed", 60),
            ("tribune", "ok", None, 300),
            *[("tribune", "failed", HOSTILE_SOURCE_ERROR, minutes) for minutes in (200, 100, 30)],
        ]
        for source, status, error, minutes in runs:
            started = now - timedelta(minutes=minutes)
            connection.execute(
                insert(crawl_runs).values(
                    source_id=source_ids[source],
                    started_at=started,
                    finished_at=started + timedelta(seconds=20),
                    status=status,
                    pages=3,
                    new_items=1,
                    flagged=1,
                    skipped=0 if error else 3,
                    skip_kinds={} if error else {"known": 2, "not_article": 1},
                    errors=int(status == "failed"),
                    error_kinds={"http": 1} if error else {},
                    error_text=error,
                )
            )
        deliveries = [
            ("desk", "burst-0", "sent", None, None),
            ("desk", "burst-1", "sent", None, None),
            ("desk", "burst-2", "pending", None, now),
            (
                "desk",
                "burst-3",
                "failed",
                "ConnectError: connection refused",
                now + timedelta(minutes=5),
            ),
            ("wire", "story", "failed", "HTTP 500: <b>bad gateway</b>", None),  # given up
        ]
        for alert, key, status, error, due in deliveries:
            connection.execute(
                insert(alert_deliveries).values(
                    alert=alert, item_id=recent.ids[key], keyword="Pakistan-US", status=status, attempts=1,
                    next_attempt_at=due, last_error=error, created_at=now, sent_at=now if status == "sent" else None,
                )
            )  # fmt: skip
    return recent


def recent_store(folder: Path) -> tuple[Path, Recent]:
    """The recent database in folder/newsmon.db and a config.yaml that reads it, with the four
    sources and two alert channels; returns (the config's path, what was stored)."""
    engine = newsmon_engine(f"sqlite:///{folder / 'newsmon.db'}")
    recent = build(engine)
    engine.dispose()
    config = folder / "config.yaml"
    sources = "".join(
        f"  - name: {name}\n    feed: https://{name}.example/feed\n" for name in SOURCES
    ).replace("dawn.example/feed\n", "dawn.example/feed\n    schedule: {every: 30m}\n")
    config.write_text(
        "database: sqlite:///newsmon.db\n"
        f"sources:\n{sources}"
        "keywords:\n  - Pakistan-US\n  - Kashmir\n"
        "alerts:\n"
        "  - name: desk\n    url: json://127.0.0.1:9/desk\n    on: [flagged, keyword_spike]\n"
        "  - name: wire\n    url: json://127.0.0.1:9/wire\n"
    )
    return config, recent
