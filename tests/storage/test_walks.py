"""Walk state and backfill progress, on SQLite and PostgreSQL."""

from storage import walks
from storage.crawlstate import ensure_source
from storage.urlkeys import url_digest
from storage.walks import Progress, WalkState


def test_walk_state_is_recorded_walking_then_caught_up(engine):
    source = ensure_source(engine, "archive", "sitemap", "https://example.com/sitemap.xml")
    root, child = "https://example.com/sitemap.xml", "https://example.com/sitemap-1.xml"
    walks.record(engine, source, walks.CRAWL, "t1", Progress(walking=[(root, None), (child, None)]))
    states = walks.walk_states(engine, source)
    assert {key: state.caught_up for key, state in states.items()} == {
        url_digest(root): False,
        url_digest(child): False,
    }
    assert walks.caught_up_roots(engine, [("archive", root, "t1")]) == set()
    [(name, catching_up)] = walks.catching_up(engine, [("archive", root)]).items()
    assert (name, catching_up.done, catching_up.walked) == ("archive", 0, 2)

    walks.record(
        engine, source, walks.CRAWL, "t1", Progress(caught_up=[(child, None), (root, None)])
    )
    assert walks.walk_states(engine, source)[url_digest(root)] == WalkState(
        True, "t1", None, states[url_digest(root)].started_at
    )
    assert walks.caught_up_roots(engine, [("archive", root, "t1")]) == {"archive"}
    assert walks.caught_up_roots(engine, [("archive", root, "t2")]) == set()  # other target
    assert walks.catching_up(engine, [("archive", root)]) == {}
    # Backfill walks are kept apart from the crawl's.
    assert walks.walk_states(engine, source, walks.BACKFILL) == {}


def test_a_backfill_resumes_where_its_last_step_left_it(engine):
    source = ensure_source(engine, "press", "listing", "https://example.com/press/")
    assert walks.backfill_of(engine, source) is None
    walks.start_backfill(engine, source, "backfill pages=50", 50, None)
    walks.record(engine, source, walks.BACKFILL, "backfill pages=50", Progress([("u", 1)]))
    walks.backfill_step(engine, source, "https://example.com/press/page/2/", 2)
    backfill = walks.backfill_of(engine, source)
    assert (backfill.resume_url, backfill.resume_page, backfill.steps_done) == (
        "https://example.com/press/page/2/",
        2,
        1,
    )
    assert set(walks.unfinished_backfills(engine, ["press"])) == {"press"}
    walks.finish_backfill(engine, source)
    assert walks.unfinished_backfills(engine, ["press"]) == {}
    walks.start_backfill(engine, source, "backfill pages=80", 80, "30d")  # a new one starts clean
    restarted = walks.backfill_of(engine, source)
    assert (restarted.steps_done, restarted.pages, restarted.since) == (0, 80, "30d")
    assert walks.walk_states(engine, source, walks.BACKFILL) == {}
