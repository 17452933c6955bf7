"""Alert delivery state: which (alert, item, rule) is owed, claimed, sent or failing.

A row is created once per (alert, item, rule) (a unique key), so crawling, re-flagging or a
restart never owes an alert twice. Rows are claimed before sending (their next attempt moved
a lease ahead), so two processes never send one row at once. Delivery is at-least-once: a
process killed between a channel accepting a message and the row being marked sent leaves
the row to be sent again when its lease ends. So each message carries a stable id
(`message_id`, fixed when its rows are first claimed) that a receiver can drop repeats by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from storage.clock import utcnow
from storage.models import AlertDelivery, Item, KeywordMatch

PENDING, SENT, FAILED = "pending", "sent", "failed"
BUNDLED = "bundled"  # a near-copy of a story this alert already covers: recorded, not sent
CLAIM_LEASE = timedelta(minutes=10)  # a claim not settled by then (a killed process) is retried


@dataclass(frozen=True)
class AlertRoute:
    """Which keyword rules an alert wants; `keywords` None means every rule."""

    alert: str
    keywords: frozenset[str] | None = None

    def wants(self, keyword: str) -> bool:
        return self.keywords is None or keyword in self.keywords


def owed_rows(
    routes: Sequence[AlertRoute], flagged: Iterable[tuple[int, str]], now: datetime | None = None
) -> list[dict[str, object]]:
    """Delivery rows for newly flagged (item_id, keyword) pairs, due at once."""
    now = now or utcnow()
    return [
        {
            "alert": route.alert,
            "item_id": item_id,
            "keyword": keyword,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for item_id, keyword in dict.fromkeys(flagged)
        for route in routes
        if route.wants(keyword)
    ]


def bundle_stories(session: Session, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Give each owed row its story (the earliest item of its near-duplicates); a row whose
    story an alert already covers for that rule is kept as `bundled`, never sent."""
    if not rows:
        return rows
    item_ids = {row["item_id"] for row in rows}
    roots = {
        item_id: duplicate_of or item_id
        for item_id, duplicate_of in session.execute(
            select(Item.id, Item.duplicate_of).where(Item.id.in_(item_ids))
        )
    }
    for row in rows:
        row["story_key"] = str(roots.get(row["item_id"], row["item_id"]))
    covered = {
        tuple(row)
        for row in session.execute(
            select(AlertDelivery.alert, AlertDelivery.keyword, AlertDelivery.story_key).where(
                AlertDelivery.story_key.in_({row["story_key"] for row in rows}),
                AlertDelivery.status != BUNDLED,
            )
        )
    }
    for row in rows:
        story = (row["alert"], row["keyword"], row["story_key"])
        if story in covered:
            row.update(status=BUNDLED, next_attempt_at=None)
        else:
            covered.add(story)  # later rows of this batch join the first one's story
    return rows


def insert_owed(session: Session, insert, rows: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    """Record owed deliveries inside the caller's transaction; existing ones are kept as they are."""
    if rows:
        session.execute(
            insert(AlertDelivery).on_conflict_do_nothing(
                index_elements=["alert", "item_id", "keyword"]
            ),
            rows,
        )


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return and_(
        AlertDelivery.status.in_((PENDING, FAILED)),
        AlertDelivery.next_attempt_at.is_not(None),
        AlertDelivery.next_attempt_at <= now,
    )


def due_ids(engine: Engine, alert: str, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of the alert's deliveries whose (next) attempt is due, oldest first."""
    now = now or utcnow()
    statement = (
        select(AlertDelivery.id)
        .where(AlertDelivery.alert == alert, _due(now))
        .order_by(AlertDelivery.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        return list(connection.scalars(statement))


def claim(engine: Engine, ids: Sequence[int], now: datetime | None = None) -> list[AlertDelivery]:
    """Take the still-due rows among `ids` for this process: attempts + 1, next attempt leased.

    Returns them with item, source and matches loaded; rows another process took are left out.
    """
    if not ids:
        return []
    now = now or utcnow()
    with Session(engine) as session, session.begin():
        claimed = session.scalars(
            update(AlertDelivery)
            .where(AlertDelivery.id.in_(list(ids)), _due(now))
            .values(attempts=AlertDelivery.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
            .returning(AlertDelivery.id)
        ).all()
        if not claimed:
            return []
        # Rows claimed for the first time form one new message; a retried row keeps its own.
        fresh = session.scalars(
            select(AlertDelivery.id).where(
                AlertDelivery.id.in_(claimed), AlertDelivery.message_id.is_(None)
            )
        ).all()
        if fresh:
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id.in_(fresh))
                .values(message_id=message_id(fresh))
            )
    with Session(engine, expire_on_commit=False) as session:
        statement = (
            select(AlertDelivery)
            .options(selectinload(AlertDelivery.item).selectinload(Item.matches))
            .where(AlertDelivery.id.in_(claimed))
            .order_by(AlertDelivery.id)
        )
        return list(session.scalars(statement))


def message_id(row_ids: Sequence[int]) -> str:
    """The id of the message carrying these rows: the same for the same rows, on any host."""
    digest = hashlib.sha256(",".join(map(str, sorted(row_ids))).encode()).hexdigest()
    return f"newsmon-{digest[:24]}"


def mark_sent(engine: Engine, ids: Sequence[int], now: datetime | None = None) -> None:
    now = now or utcnow()
    with Session(engine) as session, session.begin():
        session.execute(
            update(AlertDelivery)
            .where(AlertDelivery.id.in_(list(ids)))
            .values(status=SENT, sent_at=now, next_attempt_at=None, last_error=None)
        )


def mark_failed(
    engine: Engine,
    ids: Sequence[int],
    error: str,
    retry_at: datetime | None,
) -> None:
    """Record a failed attempt; `retry_at` None means newsmon gives up (until `alerts --retry`)."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(AlertDelivery)
            .where(AlertDelivery.id.in_(list(ids)))
            .values(status=FAILED, last_error=error[:2000], next_attempt_at=retry_at)
        )


def make_due_now(engine: Engine, alerts: Sequence[str] | None = None) -> int:
    """Every pending or failed delivery (given-up ones too) becomes due now; how many."""
    statement = (
        update(AlertDelivery)
        .where(AlertDelivery.status.in_((PENDING, FAILED)))
        .values(next_attempt_at=utcnow())
    )
    if alerts is not None:
        statement = statement.where(AlertDelivery.alert.in_(list(alerts)))
    with Session(engine) as session, session.begin():
        return session.execute(statement).rowcount or 0


def last_sent_at(engine: Engine, alert: str) -> datetime | None:
    """When this alert last sent anything: a digest goes out at most once per period."""
    with Session(engine) as session:
        return session.scalar(
            select(func.max(AlertDelivery.sent_at)).where(
                AlertDelivery.alert == alert, AlertDelivery.status == SENT
            )
        )


@dataclass(frozen=True)
class DeliveryCounts:
    """What `newsmon status` shows: owed, failing (will retry), given up, sent."""

    pending: int = 0
    failing: int = 0
    given_up: int = 0
    sent: int = 0

    @property
    def unsent(self) -> int:
        return self.pending + self.failing + self.given_up


def delivery_counts(engine: Engine, alert: str | None = None) -> DeliveryCounts:
    """Counts of deliveries by state, for `newsmon status` and `newsmon alerts`."""
    gave_up = and_(AlertDelivery.status == FAILED, AlertDelivery.next_attempt_at.is_(None))
    statement = select(
        func.count().filter(AlertDelivery.status == PENDING),
        func.count().filter(AlertDelivery.status == FAILED, ~gave_up),
        func.count().filter(gave_up),
        func.count().filter(AlertDelivery.status == SENT),
    )
    if alert is not None:
        statement = statement.where(AlertDelivery.alert == alert)
    with engine.connect() as connection:
        pending, failing, given_up, sent = connection.execute(statement).one()
    return DeliveryCounts(pending or 0, failing or 0, given_up or 0, sent or 0)


def list_unsent(engine: Engine, limit: int = 100) -> list[AlertDelivery]:
    """Pending and failed deliveries, oldest first, with their items loaded."""
    statement = (
        select(AlertDelivery)
        .options(selectinload(AlertDelivery.item))
        .where(or_(AlertDelivery.status == PENDING, AlertDelivery.status == FAILED))
        .order_by(AlertDelivery.id)
        .limit(limit)
    )
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(statement))


def first_snippet(item: Item, keyword: str) -> KeywordMatch | None:
    """The match to quote in a message: a title hit before a text hit."""
    found = [match for match in item.matches if match.keyword == keyword]
    found.sort(key=lambda match: (match.field != "title", match.start))
    return found[0] if found else None


def channel_summary(engine: Engine) -> dict[str, tuple[DeliveryCounts, str | None]]:
    """Per alert channel with deliveries: their counts and the newest error (for /alerts)."""
    with engine.connect() as connection:
        names = list(connection.scalars(select(AlertDelivery.alert).distinct()))
        errors = {
            alert: connection.scalar(
                select(AlertDelivery.last_error)
                .where(AlertDelivery.alert == alert, AlertDelivery.last_error.is_not(None))
                .order_by(AlertDelivery.id.desc())
                .limit(1)
            )
            for alert in names
        }
    return {alert: (delivery_counts(engine, alert), errors[alert]) for alert in sorted(names)}
