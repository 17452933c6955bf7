"""storage/cadence.py: when a source's items appeared, the times its schedule learns from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.cadence import appeared_at, publication_times
from storage.crawlstate import ensure_source
from storage.queries import ArticleRecord, store_articles

SEEN = datetime(2026, 12, 3, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (None, SEEN),  # no date on the page: when it was first seen
        (datetime(2026, 12, 3, 14, 5, tzinfo=UTC), datetime(2026, 12, 3, 14, 5, tzinfo=UTC)),
        (SEEN + timedelta(hours=3), SEEN),  # dated after it was seen: implausible
        # A bare day (midnight UTC) of today or yesterday says nothing of the hour.
        (datetime(2026, 12, 3, tzinfo=UTC), SEEN),
        (datetime(2026, 12, 2, tzinfo=UTC), SEEN),
        # Older, the day is precise enough: history found on a first crawl keeps its spread.
        (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_an_item_appeared_at_its_dated_time_unless_the_date_is_a_bare_recent_day(
    published, expected
):
    assert appeared_at(published, SEEN) == expected


def test_publication_times_are_read_per_source_oldest_first(engine):
    wire = ensure_source(engine, "wire", "feed", "https://wire.example/feed")
    records = [
        ArticleRecord(
            url=f"https://wire.example/{n}",
            url_key=f"wire.example/{n}",
            title=f"story {n}",
            text=f"story {n} text",
            content_hash=str(n).rjust(64, "0"),
            published_at=published,
            fetched_at=SEEN - timedelta(minutes=n),
        )
        for n, published in enumerate(
            [datetime(2026, 12, 3, tzinfo=UTC), datetime(2026, 12, 3, 9, 15, tzinfo=UTC), None]
        )
    ]
    store_articles(engine, wire, records)
    found = publication_times(engine, ["wire", "none"], SEEN - timedelta(days=14))
    assert found == {
        "wire": [
            datetime(2026, 12, 3, 9, 15, tzinfo=UTC),
            SEEN - timedelta(minutes=2),  # no date
            SEEN,  # a bare day: first seen
        ]
    }
    assert publication_times(engine, ["wire"], SEEN + timedelta(minutes=1)) == {}
