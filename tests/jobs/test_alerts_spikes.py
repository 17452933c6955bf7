"""`on: [keyword_spike]`: a spike is alerted once, with its items and sources, and not again
until the rule is back to its baseline."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crawler.config.operations import Alert
from jobs.alerts import DeliveryError, Dispatcher
from storage.tables import items
from tests.services import newsmon_engine, rows
from tests.storage.recent import BURST, build

RULES = ["Pakistan-US", "Kashmir"]


@pytest.fixture
def recent(tmp_path):
    engine = newsmon_engine(f"sqlite:///{tmp_path / 'newsmon.db'}")
    yield engine, build(engine), tmp_path / "newsmon.db"
    engine.dispose()


class Channel:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.refuse = False

    def __call__(self, url: str, title: str, body: str, delivery_id: str) -> None:
        if self.refuse:
            raise DeliveryError("HTTP 503")
        self.messages.append((title, body, delivery_id))


def spike_channel(engine, channel, **settings):
    alert = Alert(name="desk", url="json://127.0.0.1:9/desk", on=["keyword_spike"], **settings)
    return Dispatcher([alert], engine, send=channel, rules=RULES)


def move_burst(engine, stored, by: timedelta) -> None:
    keys = [key for key in stored.ids if key.startswith(("burst", "story", "urdu"))]
    with engine.begin() as connection:
        dates = connection.execute(
            select(items.c.id, items.c.published_at).where(
                items.c.id.in_([stored.ids[key] for key in keys])
            )
        ).all()
        for item_id, published in dates:
            connection.execute(
                update(items).where(items.c.id == item_id).values(published_at=published + by)
            )


def test_a_spike_is_sent_once_with_its_items_and_sources(recent):
    engine, stored, db = recent
    channel = Channel()
    dispatcher = spike_channel(engine, channel)
    report = dispatcher.deliver_due()
    assert (report.messages, report.sent) == (1, 1)
    ((title, body, delivery_id),) = channel.messages
    assert title == f"newsmon spike [Pakistan-US]: {BURST} items in 6 h"
    assert "Dar and Rubio hold talks in Washington" in body
    assert "https://tribune.example/story-tribune" in body
    assert "sources: " in body and "dawn (" in body and "mofa (" in body
    assert delivery_id.startswith("newsmon-spike-")
    dispatcher.deliver_due()
    dispatcher.deliver_due()
    assert len(channel.messages) == 1  # still the same spike: nothing more
    assert rows(db, "SELECT keyword, status, ended_at IS NULL FROM keyword_spikes") == [
        ("Pakistan-US", "sent", 1)
    ]


def test_after_the_rule_is_back_to_baseline_the_next_spike_is_sent(recent):
    engine, stored, db = recent
    channel = Channel()
    dispatcher = spike_channel(engine, channel)
    dispatcher.deliver_due()
    move_burst(engine, stored, timedelta(hours=-7))  # the burst is now out of the window
    dispatcher.deliver_due()
    assert rows(db, "SELECT count(*) FROM keyword_spikes WHERE ended_at IS NOT NULL") == [(1,)]
    move_burst(engine, stored, timedelta(hours=7))
    dispatcher.deliver_due()
    assert len(channel.messages) == 2
    assert rows(db, "SELECT status FROM keyword_spikes ORDER BY id") == [("sent",), ("sent",)]


def test_a_failed_spike_message_is_retried_and_a_channel_can_pick_its_rules(recent):
    engine, _, db = recent
    channel = Channel()
    channel.refuse = True
    dispatcher = spike_channel(engine, channel)
    assert dispatcher.deliver_due().failed == 1
    assert rows(db, "SELECT status, attempts, last_error FROM keyword_spikes") == [
        ("failed", 1, "DeliveryError: HTTP 503")
    ]
    channel.refuse = False
    dispatcher.deliver_due()
    assert len(channel.messages) == 1
    quiet = Channel()
    spike_channel(engine, quiet, keywords=["Kashmir"]).deliver_due()
    assert quiet.messages == []  # Kashmir is steady


def test_channels_without_keyword_spike_never_look_for_spikes(recent, monkeypatch):
    engine, _, db = recent
    import storage.spikes

    def refuse(*args, **kwargs):
        raise AssertionError("spike detection ran with no channel asking for it")

    monkeypatch.setattr(storage.spikes, "current_verdicts", refuse)
    alert = Alert(name="desk", url="json://127.0.0.1:9/desk")
    Dispatcher([alert], engine, send=Channel(), rules=RULES).deliver_due()
    assert rows(db, "SELECT count(*) FROM keyword_spikes") == [(0,)]


def test_after_a_crawl_spikes_go_to_the_channels_that_ask_for_them(tmp_path):
    from crawler.config.load import load_config
    from jobs.alerts import deliver_after_crawl
    from storage.db import make_engine
    from tests.storage.recent import recent_store

    config_path, _ = recent_store(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'newsmon.db'}")
    # Both channels point at a closed port: the spike is recorded as failing, to be retried.
    deliver_after_crawl(load_config(config_path), engine)
    engine.dispose()
    assert rows(tmp_path / "newsmon.db", "SELECT alert, keyword, status FROM keyword_spikes") == [
        ("desk", "Pakistan-US", "failed")
    ]
