"""The alert dispatcher on SQLite and PostgreSQL; a fake channel, or Apprise to 127.0.0.1."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crawler.config.operations import Alert
from jobs.alerts import (
    MAX_ATTEMPTS,
    DeliveryError,
    Dispatcher,
    apprise_send,
    backoff,
    with_delivery_id,
)
from storage.clock import utcnow
from storage.crawlstate import ensure_source
from storage.deliveries import AlertRoute, delivery_counts
from storage.models import AlertDelivery
from storage.queries import ArticleRecord, MatchRecord, store_articles
from tests.localsite import LocalSite, Response


class Channel:
    """Records what it is asked to send; fails while `failing` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.ids: list[str] = []  # the delivery id of every attempt
        self.failing = False

    def __call__(self, url: str, title: str, body: str, delivery_id: str) -> None:
        self.ids.append(delivery_id)
        if self.failing:
            raise DeliveryError("HTTP 500")
        self.sent.append((url, title, body))


def flag(engine, numbers, *keywords, alerts=("desk",)) -> None:
    source_id = ensure_source(engine, "mofa", "feed", "https://example.com/feed")
    articles = [
        ArticleRecord(
            url=f"https://example.com/{n}",
            url_key=f"example.com/{n}",
            title=f"Story {n}",
            text=f"The Pakistan-US talks, part {n}.",
            content_hash=f"{n:064d}",
            matches=[
                MatchRecord(k, "text", 4, 15, f"…The Pakistan-US talks {n}…") for k in keywords
            ],
        )
        for n in numbers
    ]
    store_articles(engine, source_id, articles, [AlertRoute(name) for name in alerts])


def statuses(engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        return [
            tuple(row)
            for row in session.execute(select(AlertDelivery.status, AlertDelivery.attempts))
        ]


def test_each_mode_sends_one_message_per_item_naming_every_rule(engine):
    channel = Channel()
    flag(engine, [1, 2], "pak-us", "us-pak")
    dispatcher = Dispatcher([Alert(name="desk", url="json://x/")], engine, channel)
    report = dispatcher.deliver_due()
    assert (report.messages, report.sent, report.failed) == (2, 4, 0)
    url, title, body = channel.sent[0]
    assert url == "json://x/" and title == "newsmon [pak-us, us-pak]: Story 1"
    assert "mofa · " in body and "https://example.com/1" in body
    assert "pak-us: …The Pakistan-US talks 1…" in body
    assert dispatcher.deliver_due().messages == 0  # sent once
    assert statuses(engine) == [("sent", 1)] * 4


def test_failures_back_off_exponentially_then_give_up(engine):
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert backoff(30) is None and backoff(MAX_ATTEMPTS - 1) == timedelta(hours=6)
    channel = Channel()
    channel.failing = True
    flag(engine, [1], "pak-us")
    dispatcher = Dispatcher([Alert(name="desk", url="json://x/")], engine, channel)
    assert dispatcher.deliver_due().failed == 1
    assert dispatcher.deliver_due().failed == 0  # not due again for a minute
    with Session(engine) as session:
        row = session.scalars(select(AlertDelivery)).one()
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "DeliveryError: HTTP 500")
    assert timedelta(seconds=50) < row.next_attempt_at - utcnow() <= timedelta(minutes=1)
    for _ in range(MAX_ATTEMPTS - 1):  # time passes: each retry falls due
        with Session(engine) as session, session.begin():
            session.execute(update(AlertDelivery).values(next_attempt_at=utcnow()))
        dispatcher.deliver_due()
    assert statuses(engine) == [("failed", MAX_ATTEMPTS)]
    assert delivery_counts(engine).given_up == 1
    channel.failing = False
    assert dispatcher.deliver_due().sent == 0  # given up: only `newsmon alerts --retry` resumes


def test_a_digest_bundles_what_is_due_once_per_period(engine):
    channel = Channel()
    flag(engine, [1, 2, 3], "pak-us", alerts=("daily",))
    daily = Alert(name="daily", url="json://x/", mode="digest", digest={"every": "1h"})
    dispatcher = Dispatcher([daily], engine, channel)
    assert dispatcher.deliver_due().messages == 1
    [(_, title, body)] = channel.sent
    assert title == "newsmon digest (daily): 3 flagged items"
    assert all(f"https://example.com/{n}" in body for n in (1, 2, 3))
    flag(engine, [4, 5], "pak-us", alerts=("daily",))
    assert dispatcher.deliver_due().messages == 0  # within the hour: they wait
    assert dispatcher.deliver_due(force=True).sent == 2
    assert "2 flagged items" in channel.sent[-1][1]


def test_apprise_posts_json_to_a_local_webhook_and_reports_a_refusal():
    bodies: list[dict] = []
    replies = [Response(b"no", 500), Response(b"ok")]

    def receive(request):
        bodies.append(json.loads(request.body))
        return replies.pop(0)

    with LocalSite() as hook:
        hook.route("/hook", receive)
        url = hook.base_url.replace("http://", "json://") + "/hook"
        with pytest.raises(DeliveryError, match="500"):
            apprise_send(url, "a title", "a body", "newsmon-1")
        apprise_send(url, "a title", "a body", "newsmon-1")
    sent = [(b["title"], b["message"], b["delivery_id"]) for b in bodies]
    assert sent == [("a title", "a body\n\ndelivery id: newsmon-1", "newsmon-1")] * 2
    with pytest.raises(DeliveryError, match="nosuchscheme://"):
        apprise_send("nosuchscheme://secret-token", "t", "b", "newsmon-1")


def test_a_retried_message_repeats_its_delivery_id_and_new_rows_get_their_own(engine):
    channel = Channel()
    channel.failing = True
    flag(engine, [1, 2], "pak-us", alerts=("daily",))
    daily = Alert(name="daily", url="json://x/", mode="digest", digest={"every": "1h"})
    dispatcher = Dispatcher([daily], engine, channel)
    assert dispatcher.deliver_due().failed == 2
    flag(engine, [3], "pak-us", alerts=("daily",))
    channel.failing = False
    with Session(engine) as session, session.begin():
        session.execute(update(AlertDelivery).values(next_attempt_at=utcnow()))
    report = dispatcher.deliver_due(force=True)
    assert (report.messages, report.sent) == (2, 3)
    first, retried, new = channel.ids
    assert retried == first != new  # the failed digest again, as it was; item 3 apart
    assert [title for _, title, _ in channel.sent] == [
        "newsmon digest (daily): 2 flagged items",
        "newsmon digest (daily): 1 flagged items",
    ]


def test_every_channel_gets_the_delivery_id_in_its_text_webhooks_also_as_a_field():
    assert with_delivery_id("slack://T/B/C", "body", "newsmon-9") == (
        "slack://T/B/C",
        "body\n\ndelivery id: newsmon-9",
    )
    url, _ = with_delivery_id("jsons://hooks.example.org/x?+X-Token=abc", "body", "newsmon-9")
    assert url == "jsons://hooks.example.org/x?+X-Token=abc&:delivery_id=newsmon-9"
