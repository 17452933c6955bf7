"""`newsmon reflag`: re-apply the current keyword rules to stored items after rules change."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from crawler.config.models import Config
from crawler.keywords import Matcher
from storage.deliveries import AlertRoute, owed_rows
from storage.queries import MatchRecord
from storage.reflag import MatchKey, apply_match_changes, iter_item_batches, stored_matches

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class ReflagReport:
    items: int = 0  # scanned
    added: int = 0  # matches
    removed: int = 0
    newly_flagged: int = 0  # items with no match (in scope) before, some now
    unflagged: int = 0  # items with some match before, none now
    alerts_owed: int = 0  # (item, rule) pairs newly flagged and handed to alerts (--alert)


def reflag(
    config: Config,
    engine: Engine,
    keyword: str | None = None,
    since: datetime | None = None,
    alert: bool = False,
    batch_size: int = BATCH,
) -> ReflagReport:
    """Diff every stored item's matches against the current rules and apply the difference.

    Without `keyword`, matches of rules no longer configured (renamed or removed) go too.
    With it, only that rule's matches are touched; a rule no longer configured loses them all.
    Alerts are owed for newly flagged (item, rule) pairs only when `alert` is set.
    """
    rules = [rule for rule in config.keywords if keyword is None or rule.name == keyword]
    matcher = Matcher.from_rules(rules)
    scope = {keyword} if keyword is not None else None
    routes = (
        [AlertRoute(a.name, frozenset(a.keywords) or None) for a in config.item_alerts()]
        if alert
        else []
    )
    report = ReflagReport()
    for batch in iter_item_batches(engine, since, batch_size):
        before = stored_matches(engine, [item.id for item in batch], scope)
        removed: list[int] = []
        added: list[tuple[int, MatchRecord]] = []
        newly: list[tuple[int, str]] = []
        for item in batch:
            old = before.get(item.id, {})
            new: dict[MatchKey, MatchRecord] = {
                (m.keyword, m.field, m.start, m.end): MatchRecord(
                    m.keyword, m.field, m.start, m.end, m.snippet
                )
                for m in matcher.match(item.title, item.text, source=item.source)
            }
            removed += [match_id for key, match_id in old.items() if key not in new]
            added += [(item.id, match) for key, match in new.items() if key not in old]
            old_keywords = {key[0] for key in old}
            newly += [(item.id, kw) for kw in sorted({key[0] for key in new} - old_keywords)]
            report.newly_flagged += bool(new) and not old
            report.unflagged += bool(old) and not new
        apply_match_changes(engine, removed, added, routes, newly)
        report.items += len(batch)
        report.added += len(added)
        report.removed += len(removed)
        report.alerts_owed += len(owed_rows(routes, newly))
        log.info("reflag: %s items scanned so far", report.items)
    return report
