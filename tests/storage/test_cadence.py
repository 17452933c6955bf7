"""storage/cadence.py: when a source's items appeared, the times its schedule learns from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.cadence import Appearance, appeared_at, publication_times
from storage.crawlstate import ensure_source
from storage.queries import ArticleRecord, store_articles

SEEN = datetime(2026, 12, 3, 18, 30, tzinfo=UTC)


WATCHED = SEEN - timedelta(days=5)  # the source's first run ended then


@pytest.mark.parametrize(
    ("published", "watched", "expected", "timed"),
    [
        (None, WATCHED, SEEN, True),  # no date on the page: when it was first seen
        (None, SEEN, SEEN, False),  # ... but a first crawl's time says nothing of the hour
        (
            datetime(2026, 12, 3, 14, 5, tzinfo=UTC),
            WATCHED,
            datetime(2026, 12, 3, 14, 5, tzinfo=UTC),
            True,
        ),
        (SEEN + timedelta(hours=3), WATCHED, SEEN, True),  # dated after it was seen: implausible
        # A bare day (midnight UTC) of today or yesterday, seen while watching: when first seen.
        (datetime(2026, 12, 3, tzinfo=UTC), WATCHED, SEEN, True),
        (datetime(2026, 12, 2, tzinfo=UTC), WATCHED, SEEN, True),
        # Older, or found by the first crawl (history): the middle of its day, not an hour.
        (
            datetime(2026, 11, 20, tzinfo=UTC),
            WATCHED,
            datetime(2026, 11, 20, 12, tzinfo=UTC),
            False,
        ),
        (datetime(2026, 12, 2, tzinfo=UTC), SEEN, datetime(2026, 12, 2, 12, tzinfo=UTC), False),
        (datetime(2026, 12, 3, tzinfo=UTC), SEEN, datetime(2026, 12, 3, 12, tzinfo=UTC), False),
        (datetime(2026, 12, 3, tzinfo=UTC), None, datetime(2026, 12, 3, 12, tzinfo=UTC), False),
    ],
)
def test_an_item_appeared_at_its_dated_time_unless_the_date_is_a_bare_day(
    published, watched, expected, timed
):
    assert appeared_at(published, SEEN, watched) == Appearance(expected, timed)
    morning = datetime(2026, 12, 3, 9, tzinfo=UTC)  # a bare day's noon is never after first seen
    assert appeared_at(datetime(2026, 12, 3, tzinfo=UTC), morning, None).at == morning


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
            Appearance(datetime(2026, 12, 3, 9, 15, tzinfo=UTC)),
            # A bare day, and no date: no run watched them appear.
            Appearance(datetime(2026, 12, 3, 12, tzinfo=UTC), timed=False),
            Appearance(SEEN - timedelta(minutes=2), timed=False),
        ]
    }
    assert publication_times(engine, ["wire"], SEEN + timedelta(minutes=1)) == {}
