"""What the analyst's pages show: the dashboard, a story, the sources and the alert channels.

Each function returns a template context; scraped text stays plain (the templates autoescape)
except the *_html values, which are escaped here before any markup goes in.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import Engine

from crawler.config.models import Config
from jobs.charts import charted_trends, trend_svg
from jobs.sources import SourceRow, duration, source_rows, state_counts
from jobs.versions import diff_lines
from storage import spikes
from storage.db import current_revision
from storage.deliveries import channel_summary
from storage.incremental import list_versions
from storage.search import ItemQuery, StoredItem, search_items
from storage.stories import StoryMember, story_members
from storage.text import html_snippet

PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
LATEST_STORIES = 15
NO_SCHEMA = "the database lacks the newsmon schema: run `newsmon db upgrade`"
COPY_NAMES = 5  # sources named in "and N copies: …"


@dataclass(frozen=True)
class LiveSpike:
    keyword: str
    verdict: spikes.Verdict


def dashboard(engine: Engine, config: Config | None, days: int) -> dict[str, Any]:
    """Per rule a chart with its spikes, the live spikes, the latest stories, source health."""
    if current_revision(engine) is None:
        return {"days": days, "periods": PERIODS, "charts": [], "spikes": [], "stories": [],
                "window_hours": 0, "health": None, "error": NO_SCHEMA}  # fmt: skip
    charted = charted_trends(engine, days)
    verdicts = spikes.current_verdicts(engine, [trend.keyword for trend, _ in charted])
    charts, live = [], []
    for trend, marks in charted:
        verdict = verdicts[trend.keyword]
        if verdict.spike:
            live.append(LiveSpike(trend.keyword, verdict))
            marks[-1] = True  # today's bar carries the spike found now
        svg = Markup(trend_svg(trend, marks))  # noqa: S704 - trend_svg escapes every name
        charts.append({"keyword": trend.keyword, "svg": svg, "total": sum(trend.counts)})
    page = search_items(
        engine,
        ItemQuery(flagged=True, collapse_duplicates=True, sort="newest", limit=LATEST_STORIES),
    )
    copies = story_members(engine, [item.id for item in page.items])
    stories = [story_row(item, copies.get(item.id, [])) for item in page.items]
    rows = _source_rows(engine, config)
    return {
        "days": days,
        "periods": PERIODS,
        "charts": charts,
        "spikes": live,
        "window_hours": spikes.DETECTOR.window.total_seconds() / 3600,
        "stories": stories,
        "health": state_counts(rows) if rows is not None else None,
        "error": None,
    }


def story_row(item: StoredItem, members: Sequence[StoryMember]) -> dict[str, Any]:
    """One row of the latest stories: the item, then "and N copies: a, b, c"."""
    names = list(dict.fromkeys(member.source for member in members))
    folded = None
    if members:
        listed = ", ".join(names[:COPY_NAMES]) + (", …" if len(names) > COPY_NAMES else "")
        folded = f"and {len(members)} cop{'y' if len(members) == 1 else 'ies'}: {listed}"
    return {**result(item, None), "copies": folded}


def result(item: StoredItem, snippet: str | None) -> dict[str, Any]:
    """What the templates show of one item; *_html values are escaped already."""
    return {
        "id": item.id,
        # Stored URLs come from crawling http(s); anything else is not linked.
        "url": item.url if item.url.startswith(("http://", "https://")) else "",
        "title": item.title or item.url,
        "source": item.source_name,
        "date": (item.published_at or item.fetched_at).strftime("%Y-%m-%d"),
        "author": item.author,
        "language": item.language,
        "keywords": item.keywords,
        "flagged": bool(item.matches),
        "snippet_html": Markup(html_snippet(snippet)) if snippet else None,
        "contexts": contexts(item)[:3],
        "text": item.text,
    }


def contexts(item: StoredItem) -> list[dict[str, Any]]:
    """Each match context once, naming every rule that matched there."""
    return [
        {"html": Markup(html_snippet(marked)), "keywords": rules}  # noqa: S704 - escaped first
        for marked, rules in item.shared_contexts()
    ]


def story_page(engine: Engine, item: StoredItem) -> dict[str, Any]:
    """An item with every context, the other items of its story and its versions side by side."""
    shown = result(item, None)
    shown["contexts"] = contexts(item)
    versions = list_versions(engine, item.id)
    changes = [
        {
            "old": old.version,
            "new": new.version,
            "fetched": new.fetched_at,
            "rows": side_by_side(diff_lines(old.text), diff_lines(new.text)),
            "title": (old.title, new.title) if (old.title or "") != (new.title or "") else None,
        }
        for old, new in zip(versions, versions[1:], strict=False)
    ]
    return {
        "item": shown,
        "members": story_members(engine, [item.id]).get(item.id, []),
        "versions": versions,
        "changes": changes,
    }


def side_by_side(old: Sequence[str], new: Sequence[str]) -> list[tuple[str, str, str]]:
    """(kind, old line, new line) rows of a readable diff: equal, delete, insert or replace
    (a changed sentence next to what it became); unchanged runs kept to one line of context."""
    rows: list[tuple[str, str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(1):
        if rows:
            rows.append(("gap", "…", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows.extend(("equal", line, line) for line in old[i1:i2])
                continue
            left, right = list(old[i1:i2]), list(new[j1:j2])
            width = max(len(left), len(right))
            left += [""] * (width - len(left))
            right += [""] * (width - len(right))
            rows.extend((tag, a, b) for a, b in zip(left, right, strict=True))
    return rows


def sources_page(engine: Engine, config: Config | None) -> dict[str, Any]:
    rows = _source_rows(engine, config)
    return {"rows": [_source_view(row) for row in rows or []], "configured": rows is not None}


def _source_rows(engine: Engine, config: Config | None) -> list[SourceRow] | None:
    if config is None:
        return None
    return source_rows(config, engine, schema=current_revision(engine) is not None)


def _source_view(row: SourceRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "state": row.state,
        "verdict": row.verdict,
        "last_success": _when(row.facts.last_success),
        "last_failure": _when(row.facts.last_failure),
        "new_24h": row.facts.new_24h,
        "new_7d": row.facts.new_7d,
        "interval": f"every {duration(row.interval_s)} ({row.set_by})",
        "walk": row.walk,
        "last_error": row.last_error,
    }


def alerts_page(engine: Engine, config: Config | None) -> dict[str, Any]:
    """Per channel: item deliveries owed, sent, failing, given up, the last error; spikes."""
    schema = current_revision(engine) is not None
    summary = channel_summary(engine) if schema else {}
    spiked = spikes.spike_counts(engine) if schema else {}
    names = [alert.name for alert in config.alerts] if config else []
    names += sorted((set(summary) | set(spiked)) - set(names))
    announces = {alert.name: ", ".join(alert.on) for alert in config.alerts} if config else {}
    rows = []
    for name in names:
        counts, error = summary.get(name, (None, None))
        spike = spiked.get(name)
        rows.append(
            {
                "name": name,
                "on": announces.get(name, "(not in the config)"),
                "pending": counts.pending if counts else 0,
                "sent": counts.sent if counts else 0,
                "failing": counts.failing if counts else 0,
                "given_up": counts.given_up if counts else 0,
                "spikes": spike,
                "last_error": error or (spike or {}).get("last_error"),
            }
        )
    return {"rows": rows}


def _when(value: datetime | None) -> str | None:
    return f"{value:%Y-%m-%d %H:%M}" if value else None
