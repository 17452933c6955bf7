"""Alert delivery through Apprise: a message per flagged item, or one digest per period.

Nothing here exists unless `alerts:` is configured. Delivery runs after a crawl has stored its
items, in a thread with a time limit: a slow or failing channel never blocks or fails a crawl.
Failed deliveries are retried with exponential backoff; their state lives in the database
(storage/deliveries.py), so a restart loses no alert. Delivery is at-least-once: a process
killed after a channel took a message but before it was marked sent sends it again later, with
the same delivery id (a JSON field for webhooks, a last line in the text for chat channels),
so a receiver can drop the repeat.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import Engine, select

from crawler.config.models import Config
from crawler.config.operations import Alert
from crawler.redact import hide_parts_of
from storage import deliveries, spikes
from storage.clock import utcnow
from storage.models import AlertDelivery, Item

log = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
MAX_ATTEMPTS = 12  # about a day of retries; then it waits for `newsmon alerts --retry`
DELIVERY_BUDGET_S = 60.0  # per pass; what is left over is sent by the next one
HANG_GRACE_S = 15.0  # beyond the budget, for a send already under way

Sender = Callable[[str, str, str, str], None]  # (url, title, body, delivery id); DeliveryError
# Apprise's generic webhooks take extra payload fields as ":name=value" URL arguments.
PAYLOAD_FIELD_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls"}
DELIVERY_ID_FIELD = "delivery_id"


class DeliveryError(RuntimeError):
    """A channel refused or could not take a message."""


def apprise_send(url: str, title: str, body: str, delivery_id: str) -> None:
    """Send one message through Apprise, carrying its delivery id; DeliveryError says why it
    did not go out."""
    url, body = with_delivery_id(url, body, delivery_id)
    with warnings.catch_warnings():
        # Apprise's email plugin imports the deprecated imghdr module while loading plugins.
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        notifier = apprise.Apprise()
        if not notifier.add(url):
            # The URL may hold a token: say what kind it is, never the whole of it.
            raise DeliveryError(f"Apprise does not understand the {url.split('://')[0]}:// URL")
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            delivered = notifier.notify(title=title, body=body)
    if not delivered:
        reason = captured.getvalue().strip().splitlines()
        raise DeliveryError(reason[-1] if reason else "the channel did not accept the message")


def with_delivery_id(url: str, body: str, delivery_id: str) -> tuple[str, str]:
    """The URL and text of a message that carries `delivery_id`: as the last line of the text
    on every channel, and as a `delivery_id` field of a webhook's payload."""
    body = f"{body}\n\ndelivery id: {delivery_id}"
    if url.split("://", 1)[0].lower() in PAYLOAD_FIELD_SCHEMES:
        separator = "&" if "?" in url else "?"
        url = f"{url}{separator}:{DELIVERY_ID_FIELD}={quote(delivery_id)}"
    return url, body


def backoff(attempts: int) -> timedelta | None:
    """Wait before attempt `attempts + 1`: 1m, 2m, 4m … capped at 6h; None once we give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, attempts - 1))


@dataclass
class DeliveryReport:
    sent: int = 0  # deliveries (alert, item, rule) marked sent
    failed: int = 0
    messages: int = 0  # messages that went out

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.messages += other.messages


class Dispatcher:
    """Sends what is due for each configured alert."""

    def __init__(
        self,
        alerts: Sequence[Alert],
        engine: Engine,
        send: Sender = apprise_send,
        budget_s: float = DELIVERY_BUDGET_S,
        rules: Sequence[str] = (),
    ) -> None:
        self.alerts = list(alerts)
        self.rules = list(rules)  # every keyword rule: what `on: [keyword_spike]` watches
        self.engine = engine
        self.send = send
        self.budget_s = budget_s
        # Held from a channel taking a message until it is marked sent: a process ending at
        # its time limit waits for that, the shortest window it can leave (crawl.py).
        self.recording = threading.Lock()
        self._verdict_cache: dict[str, spikes.Verdict] = {}

    def deliver_due(self, force: bool = False) -> DeliveryReport:
        """Send every due delivery; `force` also sends a digest before its period is up."""
        deadline = time.monotonic() + self.budget_s
        report = DeliveryReport()
        self._verdict_cache.clear()
        for alert in self.alerts:
            if time.monotonic() > deadline:
                log.warning("alert delivery ran out of time; the rest goes out next time")
                break
            if "keyword_spike" in alert.on:
                report.add(self._spikes(alert))
            if "flagged" not in alert.on:
                continue
            if alert.mode == "digest":
                report.add(self._digest(alert, force))
            else:
                report.add(self._each(alert, deadline))
        return report

    def _spikes(self, alert: Alert) -> DeliveryReport:
        """Start the channel's new spikes, end those back to baseline, send what is unsent."""
        now = utcnow()
        watched = alert.keywords or self.rules
        current = self._verdicts(watched, now)
        open_now = spikes.open_spikes(self.engine, alert.name)
        for rule in watched:
            verdict, known = current[rule], open_now.get(rule)
            if known is None and verdict.spike:
                spikes.start_spike(self.engine, alert.name, rule, verdict, now)
            elif known is not None and verdict.calm:
                spikes.end_spike(self.engine, known.id, now)
        report = DeliveryReport()
        for spike in spikes.unsent(self.engine, alert.name):
            title, body = spike_text(self.engine, spike, now)
            delivery_id = f"newsmon-spike-{spike.id}"
            try:
                with self.recording:
                    self.send(alert.url, title, body, delivery_id)
                    spikes.record_attempt(self.engine, spike.id, None)
            except Exception as error:  # noqa: BLE001 - recorded and retried next pass
                message = hide_parts_of(alert.url, f"{error.__class__.__name__}: {error}")
                spikes.record_attempt(self.engine, spike.id, message)
                log.warning("alert %s: spike delivery failed: %s", alert.name, message)
                report.add(DeliveryReport(failed=1))
            else:
                report.add(DeliveryReport(sent=1, messages=1))
        return report

    def _verdicts(self, rules: Sequence[str], now: datetime) -> dict[str, spikes.Verdict]:
        """Each rule judged once per pass, however many channels watch it."""
        missing = [rule for rule in rules if rule not in self._verdict_cache]
        if missing:
            self._verdict_cache.update(spikes.current_verdicts(self.engine, missing, now))
        return {rule: self._verdict_cache[rule] for rule in rules}

    def _each(self, alert: Alert, deadline: float) -> DeliveryReport:
        report = DeliveryReport()
        by_item: dict[int, list[int]] = {}
        for delivery_id, item_id in self._due(alert):
            by_item.setdefault(item_id, []).append(delivery_id)
        for ids in by_item.values():
            if time.monotonic() > deadline:
                break
            for rows in by_message(deliveries.claim(self.engine, ids)):
                item = rows[0].item
                keywords = [row.keyword for row in rows]
                title = f"newsmon [{', '.join(keywords)}]: {item.title or item.url}"
                report.add(self._send(alert, rows, title, item_text(item, keywords)))
        return report

    def _digest(self, alert: Alert, force: bool) -> DeliveryReport:
        assert alert.digest is not None
        now = utcnow()
        last = deliveries.last_sent_at(self.engine, alert.name)
        if not force and last is not None and now - last < timedelta(seconds=alert.digest.every):
            return DeliveryReport()
        report = DeliveryReport()
        # A digest that failed is retried as it was (same rows, same id); what came due since
        # goes in a message of its own.
        claimed = deliveries.claim(
            self.engine, [delivery_id for delivery_id, _ in self._due(alert)]
        )
        for rows in by_message(claimed):
            by_item: dict[int, list[AlertDelivery]] = {}
            for row in rows:
                by_item.setdefault(row.item_id, []).append(row)
            parts = [
                item_text(group[0].item, [row.keyword for row in group])
                for group in by_item.values()
            ]
            title = f"newsmon digest ({alert.name}): {len(by_item)} flagged items"
            report.add(self._send(alert, rows, title, "\n\n".join(parts)))
        return report

    def _due(self, alert: Alert) -> list[tuple[int, int]]:
        ids = deliveries.due_ids(self.engine, alert.name)
        if not ids:
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(AlertDelivery.id, AlertDelivery.item_id)
                .where(AlertDelivery.id.in_(ids))
                .order_by(AlertDelivery.id)
            )
            return [(delivery_id, item_id) for delivery_id, item_id in rows]

    def _send(
        self, alert: Alert, rows: Sequence[AlertDelivery], title: str, body: str
    ) -> DeliveryReport:
        ids = [row.id for row in rows]
        delivery_id = rows[0].message_id or deliveries.message_id(ids)
        try:
            with self.recording:
                self.send(alert.url, title, body, delivery_id)
                deliveries.mark_sent(self.engine, ids)  # at once: the window is this short
        except Exception as error:  # noqa: BLE001 - any channel failure is recorded and retried
            attempts = max(row.attempts for row in rows)
            wait = backoff(attempts)
            retry_at: datetime | None = utcnow() + wait if wait is not None else None
            # The channel's error may quote its URL, and an Apprise URL is a secret.
            message = hide_parts_of(alert.url, f"{error.__class__.__name__}: {error}")
            deliveries.mark_failed(self.engine, ids, message, retry_at)
            log.warning(
                "alert %s: delivery failed (attempt %s, %s): %s",
                alert.name,
                attempts,
                f"retry at {retry_at:%Y-%m-%d %H:%M} UTC" if retry_at else "giving up",
                message,
            )
            return DeliveryReport(failed=len(ids))
        return DeliveryReport(sent=len(ids), messages=1)


def by_message(rows: Sequence[AlertDelivery]) -> list[list[AlertDelivery]]:
    """Claimed rows grouped into the messages that carry them (by message id)."""
    groups: dict[str | None, list[AlertDelivery]] = {}
    for row in rows:
        groups.setdefault(row.message_id, []).append(row)
    return list(groups.values())


def item_text(item: Item, keywords: Sequence[str]) -> str:
    """Title, source, date, URL, then each matched rule with a snippet."""
    when = item.published_at or item.fetched_at
    lines = [
        item.title or item.url,
        f"{item.source.name} · {when:%Y-%m-%d %H:%M} UTC",
        item.url,
    ]
    for keyword in keywords:
        match = deliveries.first_snippet(item, keyword)
        lines.append(f"{keyword}: {match.snippet}" if match else keyword)
    return "\n".join(lines)


SPIKE_ITEMS = 10  # items quoted in a spike message


def spike_text(engine: Engine, spike: spikes.SpikeRecord, now: datetime) -> tuple[str, str]:
    """A spike's message: how many items against what threshold, their sources, the newest."""
    from storage.search import ItemQuery, search_items

    window = spikes.DETECTOR.window
    since = min(spike.started_at, now) - window
    page = search_items(
        engine,
        ItemQuery(keyword=spike.keyword, since=since, sort="newest", limit=SPIKE_ITEMS),
    )
    by_source: dict[str, int] = {}
    for item in page.items:
        by_source[item.source_name] = by_source.get(item.source_name, 0) + 1
    hours = window.total_seconds() / 3600
    title = f"newsmon spike [{spike.keyword}]: {spike.items} items in {hours:g} h"
    lines = [
        f"{spike.keyword}: {spike.items} flagged items in the {hours:g} hours to"
        f" {spike.started_at:%Y-%m-%d %H:%M} UTC (spike threshold {spike.threshold:.1f})",
        "sources: " + ", ".join(f"{name} ({n})" for name, n in sorted(by_source.items())),
        "",
    ]
    for item in page.items:
        when = item.published_at or item.fetched_at
        lines.append(f"- {item.title or item.url} · {item.source_name} · {when:%Y-%m-%d %H:%M}")
        lines.append(f"  {item.url}")
    return title, "\n".join(lines)


def make_dispatcher(config: Config, engine: Engine) -> Dispatcher | None:
    """The alerts component, or None when no alert is configured."""
    if not config.alerts:
        return None
    return Dispatcher(config.alerts, engine, rules=[rule.name for rule in config.keywords])


def deliver_after_crawl(config: Config, engine: Engine) -> DeliveryReport | None:
    """Send what is due within a time limit; never raises, so the crawl's result stands."""
    dispatcher = make_dispatcher(config, engine)
    if dispatcher is None:
        return None
    outcome: list[DeliveryReport] = []

    def deliver() -> None:
        try:
            outcome.append(dispatcher.deliver_due())
        except Exception:  # noqa: BLE001 - delivery must never fail the crawl
            log.exception("alert delivery failed; it is retried on the next run")

    # A daemon thread: a channel that hangs past every socket timeout cannot hold the process.
    worker = threading.Thread(target=deliver, name="newsmon-alerts", daemon=True)
    worker.start()
    limit = dispatcher.budget_s + HANG_GRACE_S
    worker.join(limit)
    if worker.is_alive():
        # A message a channel already took is marked sent before this process goes on.
        if dispatcher.recording.acquire(timeout=HANG_GRACE_S):
            dispatcher.recording.release()
        log.warning("alert delivery is still running after %ss; left for the next run", limit)
        return None
    return outcome[0] if outcome else None
