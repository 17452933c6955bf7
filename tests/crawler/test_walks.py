"""The walk tracker: a walk catches up only when everything below it settled well."""

from __future__ import annotations

from crawler.walks import WalkTracker
from storage.urlkeys import url_digest
from storage.walks import WalkState

TARGET = "pages=1 follow= max_age=None"


def tracker(**known: WalkState) -> WalkTracker:
    return WalkTracker(TARGET, {url_digest(f"/{name}"): state for name, state in known.items()})


def test_an_index_catches_up_after_its_children_and_their_stored_items():
    walks = tracker()
    index = walks.open("/index")
    walks.walking(index)
    children = [walks.open(f"/child-{n}", index) for n in range(2)]
    walks.parsed(index)
    for child in children:
        walks.walking(child)
        walks.below(child)  # one article each
        walks.parsed(child)
        walks.expect(f"key{child.url}", child)
    assert walks.take().walking == [("/index", None), ("/child-0", None), ("/child-1", None)]

    walks.stored("key/child-0", ok=True)
    assert walks.take().caught_up == [("/child-0", None)]
    walks.stored("key/child-1", ok=True)
    assert walks.take().caught_up == [("/child-1", None), ("/index", None)]


def test_a_failure_anywhere_below_leaves_every_walk_above_it_walking():
    walks = tracker()
    first = walks.open("/page-1", page=1)
    second = walks.open("/page-2", first, page=2)
    walks.parsed(first)
    walks.below(second)
    walks.parsed(second)
    walks.settle(second, ok=False)  # its article failed
    assert walks.take().caught_up == []
    assert first.done and first.failed and second.failed


def test_a_cut_walk_does_not_catch_up_and_an_unchanged_one_is_not_recorded_again():
    walks = tracker(unchanged=WalkState(True, TARGET))
    index = walks.open("/index")
    unchanged = walks.open("/unchanged", index)
    cut = walks.open("/cut", index)
    walks.parsed(index)
    walks.unchanged(unchanged)
    walks.parsed(cut, complete=False)  # max_articles left some out
    progress = walks.take()
    assert progress.caught_up == []
    assert index.failed


def test_walking_is_recorded_once_and_caught_up_needs_the_same_target():
    walks = tracker(
        walking=WalkState(False, TARGET),
        other=WalkState(True, "pages=9 follow= max_age=None"),
        done=WalkState(True, TARGET),
    )
    assert walks.caught_up("/done") and not walks.caught_up("/other")
    assert not walks.caught_up("/walking") and not walks.caught_up("/never")
    for name in ("walking", "other", "done", "never"):
        walks.walking(walks.open(f"/{name}"))
    # Already walking for this target: nothing to write again.
    assert [url for url, _ in walks.take().walking] == ["/other", "/done", "/never"]


def test_a_url_is_walked_once_per_run_and_a_hook_runs_when_it_is_done():
    walks = tracker()
    root = walks.open("/list")
    assert walks.open("/list") is None
    done = []
    root.then = done.append
    walks.parsed(root)
    assert done == [root]
