"""Source alerts after a crawl: judge each source against its own normal (storage/health.py),
owe an alert where its condition changed (storage/source_alerts.py), send what is due.

Channels announce these when their `on:` lists `source_broken`, `source_degraded`,
`source_silent` or `source_recovered`. The message says what changed, since when, and the
problems seen: the health verdict and the last run's outcome (a live check from inside the
crawl would double its requests; the message says which command runs one).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine

from crawler.check import run_problems
from crawler.config.models import Config, Source
from crawler.redact import hide_parts_of, redact_text
from jobs.alerts import DeliveryReport, Sender, apprise_send, backoff
from storage import source_alerts
from storage.clock import utcnow
from storage.health import source_conditions
from storage.runs import by_kind, list_runs, outcome_of

log = logging.getLogger(__name__)

SOURCE_EVENTS = frozenset(
    {"source_broken", "source_degraded", "source_silent", source_alerts.RECOVERED}
)


def routes(config: Config) -> dict[str, frozenset[str]]:
    """The channels that announce source health, with the events each wants."""
    found = {alert.name: frozenset(alert.on) & SOURCE_EVENTS for alert in config.alerts}
    return {name: events for name, events in found.items() if events}


def note_source_health(
    config: Config, engine: Engine, names: Sequence[str], now: datetime | None = None
) -> list[source_alerts.Change]:
    """Judge the named sources; keep each one's condition and owe alerts where it changed."""
    by_name = {source.name: source for source in config.sources}
    chosen = [by_name[name] for name in names if name in by_name]
    conditions = source_conditions(
        engine, [(source.name, source.expect_new_within) for source in chosen], now
    )

    def compose(change: source_alerts.Change) -> tuple[str, str]:
        return message(engine, change, by_name.get(change.source))

    return source_alerts.record_changes(engine, conditions, routes(config), compose, now)


def message(
    engine: Engine, change: source_alerts.Change, source: Source | None = None
) -> tuple[str, str]:
    """(title, body): what changed, since when, and the problems seen: the health verdict,
    the last run, and what `check --live` would say of that run."""
    condition, name = change.condition, change.source
    if change.event == source_alerts.RECOVERED:
        title = f"newsmon: source {name} recovered"
        since = change.old_since or change.at
        lines = [f"{name} is ok again; it was {change.old} since {since:%Y-%m-%d %H:%M} UTC."]
    else:
        title = f"newsmon: source {name} is {condition.state}"
        since = condition.since or change.at
        lines = [
            f"{name} is {condition.state} since {since:%Y-%m-%d %H:%M} UTC"
            f" (was {change.old or 'not yet judged'}).",
            f"Problem: {condition.why}",
        ]
    last = next(iter(list_runs(engine, name, limit=1)), None)
    if last is not None:
        detail = (
            f"Last run: {last.status}, pages={last.pages} new={last.new_items}"
            f" skipped={last.skipped}"
            + (f" [{by_kind(last.skip_kinds)}]" if last.skip_kinds else "")
            + f" errors={last.errors}"
            + (f" [{by_kind(last.error_kinds)}]" if last.error_kinds else "")
        )
        lines.append(detail)
        if last.error_text:
            lines.append(f"Last error: {redact_text(last.error_text)}")
        if source is not None and change.event != source_alerts.RECOVERED:
            lines += [f"Check: {problem}" for problem in run_problems(source, outcome_of(last))]
    lines.append(f"A live check: newsmon check --live --source {name}")
    return title, "\n".join(lines)


def deliver_source_alerts(
    config: Config, engine: Engine, send: Sender = apprise_send, now: datetime | None = None
) -> DeliveryReport:
    """Send every due source alert; a failure is retried with the item alerts' backoff."""
    channels = {alert.name: alert for alert in config.alerts}
    report = DeliveryReport()
    wanted = [name for name in routes(config) if name in channels]
    for row in source_alerts.claim_due(engine, wanted, now) if wanted else []:
        alert = channels[row.alert]
        delivery = source_alerts.delivery_id(row.alert, row.source_id, row.event, row.changed_at)
        try:
            send(alert.url, row.title, row.body, delivery)
        except Exception as error:  # noqa: BLE001 - any channel failure is recorded and retried
            wait = backoff(row.attempts)
            retry_at = (now or utcnow()) + wait if wait is not None else None
            text = hide_parts_of(alert.url, f"{error.__class__.__name__}: {error}")
            source_alerts.mark(engine, row.id, error=text, retry_at=retry_at)
            log.warning(
                "alert %s: source alert failed (attempt %s): %s", alert.name, row.attempts, text
            )
            report.failed += 1
            continue
        source_alerts.mark(engine, row.id, now=now)
        report.sent += 1
        report.messages += 1
    return report
