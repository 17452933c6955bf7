"""Source alerts: each source's condition (storage/health.py) kept, and an alert owed to each
channel that wants it when the condition changes, never once per run.

The new state and its owed alerts are written in one transaction, so a change is announced
once, whatever ends the process. Delivery is at-least-once, as for item alerts
(storage/deliveries.py): a row is claimed with a lease before sending, and its delivery id is
fixed by what it announces, so a receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Row, and_, select, update

from storage.clock import utcnow
from storage.db import dialect_insert
from storage.deliveries import CLAIM_LEASE, FAILED, PENDING, SENT
from storage.health import OK, Condition
from storage.tables import source_alerts, source_states, sources

RECOVERED = "source_recovered"


def event_of(old: str | None, new: str) -> str | None:
    """The alert event of a change of state; None for a source first seen ok."""
    if new != OK:
        return f"source_{new}"
    return RECOVERED if old not in (None, OK) else None


@dataclass(frozen=True)
class Change:
    """A source's condition changed: from `old` (None: first judged) to `condition`."""

    source: str
    old: str | None
    old_since: datetime | None
    condition: Condition
    event: str | None
    at: datetime


Compose = Callable[[Change], tuple[str, str]]  # a change -> (title, body) of its message


def record_changes(
    engine: Engine,
    conditions: Mapping[str, Condition],
    routes: Mapping[str, frozenset[str]],
    compose: Compose,
    now: datetime | None = None,
) -> list[Change]:
    """Keep each source's condition; where it changed, owe an alert to every channel in
    `routes` (alert name -> events it announces) that wants the change's event."""
    now = now or utcnow()
    changes = []
    for name, condition in conditions.items():
        with engine.begin() as connection:
            source_id = connection.scalar(select(sources.c.id).where(sources.c.name == name))
            if source_id is None:
                continue  # never crawled: nothing to judge yet
            old = connection.execute(
                select(source_states.c.state, source_states.c.since).where(
                    source_states.c.source_id == source_id
                )
            ).first()
            if old is not None and old.state == condition.state:
                continue
            values = {
                "state": condition.state,
                "since": condition.since,
                "why": condition.why,
                "changed_at": now,
            }
            if old is None:
                connection.execute(source_states.insert().values(source_id=source_id, **values))
            else:
                connection.execute(
                    update(source_states)
                    .where(source_states.c.source_id == source_id)
                    .values(**values)
                )
            change = Change(
                name,
                old.state if old else None,
                old.since if old else None,
                condition,
                event_of(old.state if old else None, condition.state),
                now,
            )
            changes.append(change)
            wanting = [alert for alert, events in routes.items() if change.event in events]
            if wanting:
                title, body = compose(change)
                rows = [
                    {
                        "alert": alert,
                        "source_id": source_id,
                        "event": change.event,
                        "changed_at": now,
                        "title": title,
                        "body": body,
                        "status": PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                    for alert in wanting
                ]
                insert = dialect_insert(engine)(source_alerts).on_conflict_do_nothing()
                connection.execute(insert, rows)
    return changes


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return and_(
        source_alerts.c.status.in_((PENDING, FAILED)),
        source_alerts.c.next_attempt_at.is_not(None),
        source_alerts.c.next_attempt_at <= now,
    )


def claim_due(
    engine: Engine, alerts: Sequence[str], now: datetime | None = None
) -> list[Row[tuple[int, str, str, str, int, str, datetime, int]]]:
    """Take this process's due source alerts of these channels: attempts + 1, leased."""
    now = now or utcnow()
    with engine.begin() as connection:
        ids = list(
            connection.scalars(
                update(source_alerts)
                .where(source_alerts.c.alert.in_(list(alerts)), _due(now))
                .values(attempts=source_alerts.c.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
                .returning(source_alerts.c.id)
            )
        )
        if not ids:
            return []
        return list(
            connection.execute(
                select(
                    source_alerts.c.id,
                    source_alerts.c.alert,
                    source_alerts.c.title,
                    source_alerts.c.body,
                    source_alerts.c.source_id,
                    source_alerts.c.event,
                    source_alerts.c.changed_at,
                    source_alerts.c.attempts,
                )
                .where(source_alerts.c.id.in_(ids))
                .order_by(source_alerts.c.id)
            )
        )


def delivery_id(alert: str, source_id: int, event: str, changed_at: datetime) -> str:
    """The id of a source alert's message: fixed by what it announces, the same on retries."""
    key = f"{alert}|{source_id}|{event}|{changed_at.isoformat()}"
    return f"newsmon-source-{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def mark(
    engine: Engine,
    row_id: int,
    *,
    error: str | None = None,
    retry_at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Sent (no `error`), or failed with `error`, retried at `retry_at` (None: given up)."""
    if error is None:
        values = {"status": SENT, "sent_at": now or utcnow(), "next_attempt_at": None}
    else:
        values = {"status": FAILED, "last_error": error[:2000], "next_attempt_at": retry_at}
    with engine.begin() as connection:
        connection.execute(update(source_alerts).where(source_alerts.c.id == row_id).values(values))
