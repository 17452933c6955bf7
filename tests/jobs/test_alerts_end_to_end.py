"""Keyword rules, reflag and alerts end to end: real `newsmon` processes, a real SQLite file,
and Apprise posting to a JSON webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.corpus import PAGES, name_of
from tests.jobs.helpers import newsmon, write_config
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.services import rows

pytestmark = pytest.mark.slow

SOURCES = """
  - name: rss2
    feed: {base}/feeds/rss2.xml
  - name: atom
    feed: {base}/feeds/atom.xml
"""
# Items carrying "Pakistan-US" (rule Pakistan-US) and those that us-pakistan adds.
PAK_US = {"dar-rubio", "weekly-briefing", "cp1252-header"}
US_PAK = PAK_US | {"opinion-reset"}


class Receiver:
    """A webhook on a LocalSite: records each JSON body, answers with `status`."""

    def __init__(self, site: LocalSite, path: str) -> None:
        self.url = site.base_url.replace("http://", "json://") + path
        self.bodies: list[dict] = []
        self.status = 200
        site.route(path, self.receive)

    def receive(self, request: RecordedRequest) -> Response:
        self.bodies.append(json.loads(request.body))
        return Response(b"{}", self.status)

    def items(self) -> list[str]:
        """The article names each message mentions, one entry per message."""
        return [",".join(sorted(names_in(body["message"]))) for body in self.bodies]


def names_in(text: str) -> set[str]:
    return {name for name, page in PAGES.items() if page in text}


@pytest.fixture
def hooks():
    with LocalSite() as hooks:
        yield hooks


def flagged(db: Path, keyword: str) -> set[str]:
    found = rows(
        db,
        "select distinct i.url from items i join keyword_matches m on m.item_id = i.id"
        " where m.keyword = ?",
        keyword,
    )
    return {name_of(url) for (url,) in found}


def test_one_alert_per_flagged_item_and_one_digest_never_repeated(tmp_path, site, hooks):
    desk, daily = Receiver(hooks, "/desk"), Receiver(hooks, "/daily")
    extra = f"""\
  - name: title-pakistan
    terms: [Pakistan]
    fields: [title]
  - name: atom-pakistan
    terms: [Pakistan]
    sources: [atom]
alerts:
  - name: desk
    url: {desk.url}
    keywords: [Pakistan-US]
  - name: daily
    url: {daily.url}
    keywords: [Pakistan-US, us-pakistan]
    mode: {{digest: {{every: 1h}}}}
"""
    config = write_config(tmp_path, site, SOURCES, extra)
    db = tmp_path / "newsmon.db"
    first = newsmon(config, "crawl")
    assert first.returncode == 0, first.stderr

    # Rule fields and sources, through a real crawl.
    assert flagged(db, "title-pakistan") == {"cricket-series", "opinion-reset", "state-ct-dialogue"}
    assert flagged(db, "atom-pakistan") == {"cp1252-header", "opinion-reset", "state-ct-dialogue"}

    assert sorted(desk.items()) == sorted(PAK_US)  # exactly one message per flagged item
    dar = next(body for body in desk.bodies if PAGES["dar-rubio"] in body["message"])
    assert "Rubio" in dar["title"] and "[Pakistan-US]" in dar["title"]
    for expected in (
        "rss2 · 2025-07-25",
        PAGES["dar-rubio"],
        "Pakistan-US: …",
        "partnership",
    ):
        assert expected in dar["message"]
    [digest] = daily.bodies  # one digest listing every item
    assert names_in(digest["message"]) == US_PAK
    assert "4 flagged items" in digest["title"]
    assert rows(db, "select count(*), min(status), max(status) from alert_deliveries") == [
        (len(PAK_US) + len(PAK_US) + len(US_PAK), "sent", "sent")
    ]

    again = newsmon(config, "crawl")  # a rerun, in a new process: a restart too
    assert again.returncode == 0, again.stderr
    assert len(desk.bodies) == len(PAK_US) and len(daily.bodies) == 1


def test_reflag_applies_changed_rules_and_alerts_only_when_asked(tmp_path, site, hooks):
    desk = Receiver(hooks, "/desk")
    config = write_config(
        tmp_path, site, SOURCES, f"alerts:\n  - name: desk\n    url: {desk.url}\n"
    )
    db = tmp_path / "newsmon.db"
    assert newsmon(config, "crawl").returncode == 0
    assert sorted(desk.items()) == sorted(US_PAK)  # one message per item, both rules named
    pak_us_matches = rows(db, "select count(*) from keyword_matches where keyword = 'Pakistan-US'")

    # The Pakistan-US rule goes, a cricket rule arrives.
    text = config.read_text().replace("  - Pakistan-US\n", "  - name: cricket\n    terms: [T20]\n")
    config.write_text(text)
    result = newsmon(config, "reflag")
    assert result.returncode == 0, result.stderr
    added = rows(db, "select count(*) from keyword_matches where keyword = 'cricket'")[0][0]
    assert added >= 1
    assert (
        f"scanned 7 items: {added} matches added, {pak_us_matches[0][0]} removed; "
        "1 items newly flagged, 0 unflagged"
    ) in result.stdout
    assert flagged(db, "Pakistan-US") == set() and flagged(db, "cricket") == {"cricket-series"}
    assert flagged(db, "us-pakistan") == US_PAK
    assert len(desk.bodies) == len(US_PAK)  # old items: no alert without --alert

    config.write_text(text.replace("alerts:", "  - name: rates\n    terms: [policy rate]\nalerts:"))
    result = newsmon(config, "reflag", "--keyword", "rates", "--alert")
    assert result.returncode == 0, result.stderr
    assert "1 items newly flagged" in result.stdout
    assert desk.items()[len(US_PAK) :] == ["policy-rate-usaid"]  # cricket never alerted

    result = newsmon(config, "reflag")  # nothing changed: nothing to do
    assert "0 matches added, 0 removed; 0 items newly flagged, 0 unflagged" in result.stdout


def test_a_failing_receiver_is_retried_and_never_fails_the_crawl(tmp_path, site, hooks):
    desk = Receiver(hooks, "/desk")
    desk.status = 500
    extra = f"alerts:\n  - name: desk\n    url: {desk.url}\n    keywords: [Pakistan-US]\n"
    config = write_config(tmp_path, site, SOURCES, extra)
    db = tmp_path / "newsmon.db"
    first = newsmon(config, "crawl")
    assert first.returncode == 0, first.stderr
    assert "3 failed" in first.stderr
    assert len(desk.bodies) == len(PAK_US)
    assert rows(db, "select status, attempts, last_error is not null from alert_deliveries") == [
        ("failed", 1, 1)
    ] * len(PAK_US)
    listed = newsmon(config, "alerts")
    assert listed.returncode == 0 and "failing 3" in listed.stdout and "tries=1" in listed.stdout

    desk.status = 200
    early = newsmon(config, "alerts", "--send")  # the backoff has not run out yet
    assert early.returncode == 0 and len(desk.bodies) == len(PAK_US)
    with sqlite3.connect(db) as connection:  # a few minutes pass
        connection.execute("update alert_deliveries set next_attempt_at = '2000-01-01 00:00:00'")
    second = newsmon(config, "crawl")
    assert second.returncode == 0, second.stderr
    assert len(desk.bodies) == 2 * len(PAK_US)
    assert sorted(desk.items()[len(PAK_US) :]) == sorted(PAK_US)
    assert rows(db, "select status, attempts from alert_deliveries") == [("sent", 2)] * len(PAK_US)
    assert "pending 0, failing 0, given up 0, sent 3" in newsmon(config, "alerts").stdout


def test_reflag_and_alerts_have_help_with_an_example():
    for command in ("reflag", "alerts"):
        result = newsmon(None, command, "--help")
        assert result.returncode == 0 and "Example" in result.stdout, command


def test_a_near_copy_of_an_alerted_story_is_bundled_not_sent_again(tmp_path, site, hooks):
    from tests.jobs.test_crawl_incremental import SENTENCES, Pages, article, rss, story

    desk = Receiver(hooks, "/desk")
    pages = Pages(site)
    wire = [*story(SENTENCES), "Both sides reviewed the ongoing Pakistan-US trade dialogue."]
    copy = ["ISLAMABAD: " + wire[0], *wire[1:]]
    pages.put("/a/wire.html", article("Budget unveiled", wire, footer="Copyright A"))
    pages.put("/b/copy.html", article("Budget unveiled amid protests", copy, "(c) B"))
    pages.put("/a/feed.xml", rss(site.base_url, ["/a/wire.html"]), "application/rss+xml")
    pages.put("/b/feed.xml", rss(site.base_url, ["/b/copy.html"]), "application/rss+xml")
    config = write_config(
        tmp_path,
        site,
        "  - name: outlet-a\n    feed: {base}/a/feed.xml\n  - name: outlet-b\n    feed: {base}/b/feed.xml\n",
        f"alerts:\n  - name: desk\n    url: {desk.url}\n    keywords: [Pakistan-US]\n",
    )
    assert newsmon(config, "crawl", "--source", "outlet-a").returncode == 0
    assert newsmon(config, "crawl", "--source", "outlet-b").returncode == 0
    db = tmp_path / "newsmon.db"
    assert rows(db, "select count(*) from items where duplicate_of is not null") == [(1,)]
    assert len(desk.bodies) == 1  # one story, one alert
    assert sorted(rows(db, "select status from alert_deliveries")) == [("bundled",), ("sent",)]


def test_a_crawl_killed_after_the_receiver_took_an_alert_resends_it_with_the_same_id(
    tmp_path, site, hooks
):
    import os
    import signal

    from tests.faults.child import start_newsmon
    from tests.processes import kill_session

    desk = Receiver(hooks, "/desk")
    crawl: list = []

    def take_then_kill(request: RecordedRequest) -> Response:
        reply = desk.receive(request)
        if len(desk.bodies) == 1:  # the channel took it; the sender dies before recording it
            os.killpg(crawl[0].pid, signal.SIGKILL)
        return reply

    hooks.route("/desk", take_then_kill)
    extra = f"alerts:\n  - name: desk\n    url: {desk.url}\n    keywords: [Pakistan-US]\n"
    config = write_config(tmp_path, site, SOURCES, extra)
    db = tmp_path / "newsmon.db"
    crawl.append(start_newsmon(config, "crawl"))
    try:
        crawl[0].communicate(timeout=120)
    finally:
        kill_session(crawl[0].pid)
    assert crawl[0].returncode == -signal.SIGKILL
    [first] = desk.bodies
    assert rows(db, "select count(*) from alert_deliveries where status = 'sent'") == [(0,)]

    retry = newsmon(config, "alerts", "--retry")  # or the claim's lease running out
    assert retry.returncode == 0, retry.stderr
    again = [body for body in desk.bodies[1:] if body["title"] == first["title"]]
    assert [body["delivery_id"] for body in again] == [first["delivery_id"]]  # at-least-once
    assert first["message"].endswith(f"delivery id: {first['delivery_id']}")
    assert len({body["delivery_id"] for body in desk.bodies}) == len(PAK_US)
