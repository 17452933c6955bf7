"""The query API on a real SQLite file and on the real PostgreSQL: every filter, FTS, cursors."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, update

from storage.models import Item
from storage.search import (
    MARK_END,
    MARK_START,
    ItemQuery,
    QueryError,
    encode_cursor,
    get_item,
    iter_items,
    list_keywords,
    list_sources,
    search_items,
)
from storage.stats import collect_stats
from tests.services import newsmon_engine, throwaway_schema
from tests.storage.seed import FILLERS, seed

TOTAL = FILLERS + 5


def _seeded(url: str):
    engine = newsmon_engine(url)
    return engine, seed(engine)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def seeded(request, tmp_path_factory):
    """One seeded database per engine for the read-only tests of this module."""
    if request.param == "sqlite":
        engine, ids = _seeded(f"sqlite:///{tmp_path_factory.mktemp('search') / 'newsmon.db'}")
        yield engine, ids
        engine.dispose()
        return
    with throwaway_schema(request.getfixturevalue("postgres_database")) as url:
        engine, ids = _seeded(url)
        yield engine, ids
        engine.dispose()


@pytest.fixture
def fresh(database_url):
    """A seeded database of its own, for tests that change rows."""
    engine, ids = _seeded(database_url)
    yield engine, ids
    engine.dispose()


def ids_of(engine, **query) -> list[int]:
    return [hit.item.id for hit in search_items(engine, ItemQuery(limit=1000, **query)).hits]


def names(ids: dict[str, int], found: list[int]) -> set[str]:
    by_id = {value: key for key, value in ids.items()}
    return {by_id[item_id] for item_id in found}


def test_no_filter_lists_everything_newest_first_by_published_else_fetched(seeded):
    engine, ids = seeded
    found = ids_of(engine)
    assert len(found) == TOTAL
    assert found[:2] == [ids["dar_copy"], ids["dar"]]
    # The Urdu item has no published date: it sorts by its fetch date (20 July).
    assert found.index(ids["urdu"]) < found.index(ids["cricket"]) < found.index(ids["xss"])


def test_each_filter_narrows_to_the_expected_items(seeded):
    engine, ids = seeded
    assert names(ids, ids_of(engine, keyword="Pakistan-US")) == {"dar", "dar_copy"}
    assert names(ids, ids_of(engine, flagged=True)) == {"dar", "dar_copy"}
    assert names(ids, ids_of(engine, has_duplicates=True)) == {"dar", "dar_copy"}
    assert names(ids, ids_of(engine, language="ur")) == {"urdu"}
    # "en" takes regional tags too; case does not matter.
    assert "dar_copy" in names(ids, ids_of(engine, language="EN"))
    assert len(ids_of(engine, source="mofa")) == 2 + FILLERS // 2
    assert ids_of(engine, source="idle") == []
    assert ids_of(engine, keyword="no-such-rule") == []


def test_date_ranges_test_the_chosen_date(seeded):
    engine, ids = seeded
    july_20 = datetime(2025, 7, 20, tzinfo=UTC)
    july_26 = datetime(2025, 7, 26, tzinfo=UTC)
    # item date = published, else fetched: the Urdu item (fetched 20 July) counts.
    assert names(ids, ids_of(engine, since=july_20, until=july_26)) == {"urdu", "dar"}
    assert names(ids, ids_of(engine, since=july_20, until=july_26, date_field="published")) == {
        "dar"
    }
    assert names(ids, ids_of(engine, since=july_26, date_field="fetched")) == {"dar", "dar_copy"}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ('"stable relationship"', {"dar", "dar_copy"}),
        ("relationship", {"dar", "dar_copy", "xss", "cricket"}),
        ("relat*", {"dar", "dar_copy", "xss", "cricket", "urdu"}),
        ("Pakistan-US", {"dar", "dar_copy"}),
        ("rubio AND relationship", {"dar", "dar_copy", "xss"}),
        ("rubio relationship", {"dar", "dar_copy", "xss"}),
        ("spinners OR wire", {"cricket", "dar_copy"}),
        ("relationship NOT rubio", {"cricket"}),
        ("(spinners OR wire) NOT stable", {"cricket"}),
        ("واشنگٹن", {"urdu"}),
        ('"relationship stable"', set()),
    ],
)
def test_full_text_syntax(seeded, search, expected):
    engine, ids = seeded
    assert names(ids, ids_of(engine, search=search)) == expected


def test_search_ranks_title_hits_first_and_marks_the_snippet(seeded):
    engine, ids = seeded
    hits = search_items(engine, ItemQuery(search="stable relationship")).hits
    assert hits[0].item.id == ids["dar"]  # in its title and text
    assert all(earlier.rank <= later.rank for earlier, later in zip(hits, hits[1:], strict=False))
    assert f"{MARK_START}stable{MARK_END}" in hits[0].snippet


def test_search_combines_with_filters_and_date_sort(seeded):
    engine, ids = seeded
    assert names(ids, ids_of(engine, search="relationship", source="dawn")) == {
        "dar",
        "xss",
        "cricket",
    }
    newest = ids_of(engine, search="relationship", sort="newest")
    assert newest[:2] == [ids["dar_copy"], ids["dar"]]


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ('"stable relationship', "unbalanced quote"),
        ("(rubio OR dar", "unbalanced parenthesis"),
        ("rubio AND", "AND needs a term after it"),
        ("NOT rubio", "NOT needs a term before it"),
        ("re*lation", "only at the end"),
        ("---", "no letters or digits"),
    ],
)
def test_malformed_search_is_a_query_error_with_a_reason(seeded, search, message):
    engine, _ = seeded
    with pytest.raises(QueryError, match=message):
        search_items(engine, ItemQuery(search=search))


def test_engine_operators_in_words_are_only_words(seeded):
    engine, ids = seeded
    # FTS5 column filters, NEAR and ^ would be syntax if passed through unquoted.
    assert ids_of(engine, search="title:rubio") == []
    assert ids_of(engine, search="NEAR rubio") == []
    assert names(ids, ids_of(engine, search="^Rubio")) == {"dar", "dar_copy", "xss"}


@pytest.mark.parametrize(
    "query",
    [ItemQuery(limit=4), ItemQuery(limit=3, source="dawn"), ItemQuery(limit=2, search="relat*")],
    ids=["newest", "filtered", "relevance"],
)
def test_cursor_pages_cover_every_item_once_in_order(seeded, query):
    engine, _ = seeded
    everything = [hit.item.id for hit in search_items(engine, replace(query, limit=1000)).hits]
    paged, cursor, pages = [], None, 0
    while True:
        page = search_items(engine, replace(query, cursor=cursor))
        paged += [hit.item.id for hit in page.hits]
        pages += 1
        assert len(page.hits) <= query.limit
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert paged == everything
    assert pages == -(-len(everything) // query.limit)
    assert [hit.item.id for hit in iter_items(engine, query, page_size=3)] == everything


def test_a_cursor_survives_new_items_arriving(fresh):
    engine, ids = fresh
    first = search_items(engine, ItemQuery(limit=2))
    with engine.begin() as connection:
        connection.execute(
            update(Item)
            .where(Item.id == ids["filler1"])
            .values(published_at=datetime(2030, 1, 1, tzinfo=UTC))
        )
    second = search_items(engine, ItemQuery(limit=2, cursor=first.next_cursor))
    assert {hit.item.id for hit in second.hits}.isdisjoint(hit.item.id for hit in first.hits)
    assert second.hits[0].item.id == ids["urdu"]


def test_foreign_or_mangled_cursors_are_refused(seeded):
    engine, _ = seeded
    newest = search_items(engine, ItemQuery(limit=1)).next_cursor
    with pytest.raises(QueryError, match="invalid cursor"):
        search_items(engine, ItemQuery(search="relationship", cursor=newest))  # relevance sort
    far = encode_cursor("newest", "9999-12-31T23:59:59-05:00", 1)  # past year 9999 in UTC
    for bad in ["garbage!", encode_cursor("newest", "not a date", 1), "W10", far]:
        with pytest.raises(QueryError, match="invalid cursor"):
            search_items(engine, ItemQuery(cursor=bad))
    with pytest.raises(QueryError, match="invalid cursor"):
        search_items(
            engine, ItemQuery(search="rubio", cursor=encode_cursor("relevance", float("inf"), 1))
        )


def test_hostile_ids_and_dates_are_query_errors(seeded):
    engine, _ = seeded
    with pytest.raises(QueryError, match="from 1 to 2147483647"):
        get_item(engine, 2**64)
    assert get_item(engine, 2**31 - 1) is None
    far = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(QueryError, match="since: 9999-12-31T23:00:00-05:00 is outside"):
        search_items(engine, ItemQuery(since=far))


def test_bad_sort_limit_and_date_field_are_query_errors(seeded):
    engine, _ = seeded
    with pytest.raises(QueryError, match="needs a search"):
        search_items(engine, ItemQuery(sort="relevance"))
    with pytest.raises(QueryError, match="limit"):
        search_items(engine, ItemQuery(limit=0))
    with pytest.raises(QueryError, match="date field"):
        search_items(engine, ItemQuery(date_field="modified"))


def test_the_index_follows_updates_and_deletes(fresh):
    engine, ids = fresh
    with engine.begin() as connection:
        connection.execute(
            update(Item).where(Item.id == ids["cricket"]).values(text="A zeppelin landed.")
        )
        connection.execute(delete(Item).where(Item.id == ids["xss"]))
    assert ids_of(engine, search="zeppelin") == [ids["cricket"]]
    assert ids["cricket"] not in ids_of(engine, search="spinners")
    assert ids_of(engine, search="hostile") == []


def test_sources_keywords_and_stats(seeded):
    engine, _ = seeded
    sources = {row["name"]: row["items"] for row in list_sources(engine)}
    assert sources == {"dawn": 3 + FILLERS // 2, "mofa": 2 + FILLERS // 2, "idle": 0}
    assert list_keywords(engine) == ["Pakistan-US"]
    stats = collect_stats(engine, days=10_000)
    assert (stats.total, stats.flagged) == (TOTAL, 2)
    assert {row.name: (row.items, row.flagged) for row in stats.sources} == {
        "dawn": (3 + FILLERS // 2, 1),
        "mofa": (2 + FILLERS // 2, 1),
    }
    assert stats.keywords == [("Pakistan-US", 2)]
    per_day = dict(stats.days)
    assert per_day["2025-07-25"] == 1 and per_day["2025-07-20"] == 1
    assert sum(per_day.values()) == TOTAL
    searched = collect_stats(engine, ItemQuery(search="spinners"), days=10_000)
    assert (searched.total, searched.days) == (1, [("2025-07-15", 1)])


def test_a_keyword_lists_its_title_hits_first_then_newest_and_pages_by_cursor(database_url):
    from storage.crawlstate import ensure_source
    from storage.queries import ArticleRecord, MatchRecord, store_articles

    engine = newsmon_engine(database_url)
    source_id = ensure_source(engine, "mofa", "feed", "https://example.com/feed")

    def article(n: int, day: int, field: str) -> ArticleRecord:
        return ArticleRecord(
            url=f"https://example.com/{n}",
            url_key=f"example.com/{n}",
            text=f"body {n}",
            content_hash=f"{n:064d}",
            title=f"Story {n}",
            published_at=datetime(2025, 7, day, tzinfo=UTC),
            matches=[MatchRecord("pak-us", field, 0, 4, "…")],
        )

    store_articles(
        engine,
        source_id,
        [
            article(1, 1, "title"),
            article(2, 9, "text"),
            article(3, 5, "title"),
            article(4, 7, "text"),
        ],
    )

    def titles(query: ItemQuery) -> list[str]:
        return [item.title for item in search_items(engine, query).items]

    assert titles(ItemQuery(keyword="pak-us")) == ["Story 3", "Story 1", "Story 2", "Story 4"]
    assert titles(ItemQuery(keyword="pak-us", sort="newest")) == [
        "Story 2",
        "Story 4",
        "Story 3",
        "Story 1",
    ]
    paged = [hit.item.title for hit in iter_items(engine, ItemQuery(keyword="pak-us"), page_size=1)]
    assert paged == ["Story 3", "Story 1", "Story 2", "Story 4"]
    newest_cursor = search_items(engine, ItemQuery(limit=1)).next_cursor
    with pytest.raises(QueryError, match="invalid cursor"):
        search_items(engine, ItemQuery(keyword="pak-us", cursor=newest_cursor))
    engine.dispose()
