from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import deliveries
from storage.clock import utcnow
from storage.crawlstate import ensure_source
from storage.deliveries import AlertRoute, delivery_counts
from storage.models import AlertDelivery
from storage.queries import ArticleRecord, MatchRecord, store_articles
from storage.reflag import apply_match_changes, iter_item_batches, stored_matches


def article(n: int, *keywords: str) -> ArticleRecord:
    return ArticleRecord(
        url=f"https://example.com/news/{n}",
        url_key=f"example.com/news/{n}",
        text=f"Article {n} body text.",
        content_hash=f"{n:064d}",
        title=f"Article {n}",
        matches=[MatchRecord(k, "text", 0, 7, "Article") for k in keywords],
    )


def owed(engine) -> set[tuple[str, int, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(AlertDelivery.alert, AlertDelivery.item_id, AlertDelivery.keyword)
        )
        return {tuple(row) for row in rows}


def test_storing_flagged_items_owes_one_delivery_per_alert_item_and_rule(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    routes = [AlertRoute("desk"), AlertRoute("econ", frozenset({"rates"}))]
    stored = store_articles(
        engine, source_id, [article(1, "pak-us", "rates"), article(2), article(3, "pak-us")], routes
    )
    one, _, three = stored.new_item_ids
    assert owed(engine) == {
        ("desk", one, "pak-us"),
        ("desk", one, "rates"),
        ("econ", one, "rates"),
        ("desk", three, "pak-us"),
    }
    # The same items again (a rerun) owe nothing more.
    store_articles(engine, source_id, [article(1, "pak-us", "rates")], routes)
    assert len(owed(engine)) == 4
    assert delivery_counts(engine) == deliveries.DeliveryCounts(pending=4)


def test_a_claimed_delivery_cannot_be_claimed_again_until_its_lease_ends(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    store_articles(engine, source_id, [article(1, "pak-us")], [AlertRoute("desk")])
    ids = deliveries.due_ids(engine, "desk")
    [claimed] = deliveries.claim(engine, ids)
    assert claimed.attempts == 1 and claimed.item.title == "Article 1"
    assert deliveries.claim(engine, ids) == []  # another process finds nothing to send
    assert deliveries.due_ids(engine, "desk") == []
    later = utcnow() + deliveries.CLAIM_LEASE + timedelta(seconds=1)
    assert deliveries.due_ids(engine, "desk", now=later) == ids  # a killed sender's row returns


def test_counts_tell_failing_from_given_up_and_sent(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    store_articles(engine, source_id, [article(n, "k") for n in range(4)], [AlertRoute("desk")])
    a, b, c, _ = deliveries.due_ids(engine, "desk")
    deliveries.mark_sent(engine, [a])
    deliveries.mark_failed(engine, [b], "HTTP 500", utcnow() + timedelta(minutes=1))
    deliveries.mark_failed(engine, [c], "HTTP 500", None)
    assert delivery_counts(engine) == deliveries.DeliveryCounts(
        pending=1, failing=1, given_up=1, sent=1
    )
    assert [row.id for row in deliveries.list_unsent(engine)] == [b, c, _]
    assert deliveries.make_due_now(engine) == 3
    assert set(deliveries.due_ids(engine, "desk")) == {b, c, _}


def test_reflag_batches_page_by_id_and_changes_apply_together(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    stored = store_articles(engine, source_id, [article(n, "old") for n in range(7)])
    batches = list(iter_item_batches(engine, batch_size=3))
    assert [len(batch) for batch in batches] == [3, 3, 1]
    assert [item.id for batch in batches for item in batch] == sorted(stored.new_item_ids)
    first = stored.new_item_ids[0]
    before = stored_matches(engine, [first])
    [(key, match_id)] = before[first].items()
    assert key == ("old", "text", 0, 7)
    apply_match_changes(
        engine,
        [match_id],
        [(first, MatchRecord("new", "title", 0, 7, "Article"))],
        [AlertRoute("desk")],
        [(first, "new")],
    )
    [keys] = stored_matches(engine, [first]).values()
    assert set(keys) == {("new", "title", 0, 7)}
    assert stored_matches(engine, [first], keywords={"old"}) == {}
    assert owed(engine) == {("desk", first, "new")}
