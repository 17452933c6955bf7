"""The schema as SQLAlchemy Core tables: sources, items, keyword matches, crawl runs and the rest.

Core only, no ORM: the query path (storage/search.py, `newsmon items`) runs on these tables and
starts faster for it. storage/models.py maps its ORM classes onto the same tables and MetaData.
Every schema change here ships with an Alembic revision in storage/migrations/versions/.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

from storage.clock import to_utc, utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite has no time zones, so we pin one."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return to_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return to_utc(value)  # stored naive, in UTC


metadata = MetaData()

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("mode", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

# One article, stored once: `url_key` (canonical URL without scheme and www.) is its identity.
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("url_key", Text, nullable=False, unique=True),
    Column("canonical_url", Text),
    Column("title", Text),
    Column("author", Text),
    Column("published_at", UTCDateTime, index=True),
    Column("date_source", String(16)),
    Column("fetched_at", UTCDateTime, nullable=False, default=utcnow, index=True),
    Column("language", String(16)),
    Column("language_source", String(8)),  # page (declared) | text (detected)
    Column("site_name", Text),
    Column("text", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    # The earliest stored near-copy of this text (issue 4); no FK so `items` needs no rebuild.
    Column("duplicate_of", Integer, index=True),
    Column("extracted_by", String(32)),  # rules | trafilatura | trafilatura+fallback
    Column("accessible_for_free", Boolean),  # ld+json isAccessibleForFree; NULL: not said
)

# Where a keyword rule hit an item: field, offsets into that field, and a snippet.
keyword_matches = Table(
    "keyword_matches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("keyword", String(100), nullable=False),
    Column("field", String(16), nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("snippet", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("item_id", "keyword", "field", "start", name="uq_match_position"),
    Index("ix_keyword_matches_keyword_item", "keyword", "item_id"),
)

# One crawl of one source, written when it starts and finished when it ends.
crawl_runs = Table(
    "crawl_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False, default=utcnow),
    Column("finished_at", UTCDateTime),
    Column("status", String(16), nullable=False, default="running"),
    Column("pages", Integer, nullable=False, default=0),
    Column("new_items", Integer, nullable=False, default=0),
    Column("flagged", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("error_kinds", JSON, nullable=False, default=dict),
    # What was skipped, by reason (known, not_article, robots…); NULL on runs from before 0007.
    Column("skip_kinds", JSON),
    # Links the discovery pages listed, and how many of them were article candidates (matched
    # `follow`, or a feed's or sitemap's entries); NULL when no discovery page was read (the
    # probe or a 304 found it unchanged), so an unchanged source never looks broken.
    Column("discovered", Integer),
    Column("matched", Integer),
    Column("error_text", Text),
    Column("pid", Integer),
    Index("ix_crawl_runs_source_started", "source_id", "started_at"),
)

# One alert owed for one (alert, item, rule): the unique key makes it go out at most once.
# Digest alerts share rows the same way; one message then carries every due row of an alert.
# `story_key` is for near-duplicate bundling (issue 4): rows sharing it are sent once.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert", String(64), nullable=False),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("keyword", String(100), nullable=False),
    Column("story_key", String(64)),
    # The id of the message that carries this row, fixed when first claimed: every retry of
    # that message repeats it, so receivers can drop a repeat (delivery is at-least-once).
    Column("message_id", String(64)),
    Column("status", String(16), nullable=False, default="pending"),  # pending|sent|failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("sent_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("alert", "item_id", "keyword", name="uq_alert_item_keyword"),
    Index("ix_alert_deliveries_status_due", "status", "next_attempt_at"),
    Index("ix_alert_deliveries_story", "alert", "keyword", "story_key"),
)

# What a URL's last successfully processed response said: for conditional GETs. Keyed by the
# digest of the URL (it may carry an api_key), kept only redacted (storage/urlkeys.py).
http_validators = Table(
    "http_validators",
    metadata,
    Column("url_digest", String(64), primary_key=True),
    Column("url", Text, nullable=False),  # redacted, for a person to read
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("status", Integer),
    Column("checked_at", UTCDateTime, nullable=False, default=utcnow),
)

# One text of an item as fetched; version 1 is the original, later ones are corrections.
item_versions = Table(
    "item_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("title", Text),
    Column("text", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("item_id", "version", name="uq_item_version"),
)

# An item's MinHash over word shingles (hash values as little-endian uint64 bytes).
signatures = Table(
    "signatures",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("minhash", LargeBinary, nullable=False),
)

# One LSH band hash of a signature: items sharing a (band, hash) are near-copy candidates.
signature_bands = Table(
    "signature_bands",
    metadata,
    Column("band", SmallInteger, primary_key=True),
    Column("hash", BigInteger, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_signature_bands_item", "item_id"),
)

# How far each discovery walk got (crawler/walks.py): one row per source, kind of walk and
# discovery URL (feed, sitemap, child sitemap, listing page). A shortcut (a 304, an unchanged
# body, a listing stopped at a stored page, the probe) may end a walk only where the last walk
# of that URL caught up, for the same `target` (what the walk was asked to cover). As in
# http_validators, a URL is keyed by its digest and kept only redacted.
discovery_walks = Table(
    "discovery_walks",
    metadata,
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # crawl | backfill
    Column("url_digest", String(64), primary_key=True),
    Column("url", Text, nullable=False),  # redacted, for a person to read
    Column("target", Text, nullable=False, default=""),
    Column("caught_up", Boolean, nullable=False, default=False),
    Column("page", Integer),  # a listing page's number in its walk
    Column("started_at", UTCDateTime, nullable=False, default=utcnow),
    Column("caught_up_at", UTCDateTime),
)

# A source's backfill (`newsmon backfill`): what it was asked for and where it resumes.
backfills = Table(
    "backfills",
    metadata,
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("target", Text, nullable=False),
    Column("pages", Integer),  # as asked: --pages
    Column("since", Text),  # as asked: --since, as typed (a duration stays relative)
    # A listing's first page not yet done, less the source URL's secrets (crawler/redact.py).
    Column("resume_url", Text),
    Column("resume_page", Integer),
    Column("steps_done", Integer, nullable=False, default=0),
    Column("started_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    Column("finished_at", UTCDateTime),
)

# A source's poll schedule now (jobs/cadence.py): the interval, what set it, the next poll, and
# whether its server's conditional answers are still trusted.
source_schedules = Table(
    "source_schedules",
    metadata,
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("interval_s", Float, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("next_at", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("healthy_interval_s", Float),
    Column("conditional", Boolean, nullable=False, default=True),
    Column("conditional_note", Text),
    Column("last_poll_at", UTCDateTime),
    Column("last_unconditional_at", UTCDateTime),
    Column("last_new_at", UTCDateTime),
)

# One keyword spike as one alert channel was told of it (storage/spikes.py): created when the
# spike is found, ended when the rule is back to its baseline; only then may a new one start.
keyword_spikes = Table(
    "keyword_spikes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert", String(64), nullable=False),
    Column("keyword", String(100), nullable=False),
    Column("started_at", UTCDateTime, nullable=False, default=utcnow),
    Column("ended_at", UTCDateTime),
    Column("items", Integer, nullable=False),  # flagged in the window when it was found
    Column("threshold", Float, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),  # pending|sent|failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("sent_at", UTCDateTime),
    Index("ix_keyword_spikes_alert_keyword", "alert", "keyword", "ended_at"),
)

# Each source's last judged condition (storage/health.py): a source alert goes out when it
# changes, never once per run.
source_states = Table(
    "source_states",
    metadata,
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(16), nullable=False),  # ok | broken | degraded | silent
    Column("since", UTCDateTime),  # when the condition began, by its evidence
    Column("why", Text),
    Column("changed_at", UTCDateTime, nullable=False, default=utcnow),
)

# One source alert owed to one channel for one change of state (unique: owed once). Delivery
# as for item alerts: claimed with a lease, retried with backoff, at-least-once with a stable
# id (storage/source_alerts.py).
source_alerts = Table(
    "source_alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert", String(64), nullable=False),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(32), nullable=False),  # source_broken | … | source_recovered
    Column("changed_at", UTCDateTime, nullable=False),  # the change it announces
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),  # pending|sent|failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("alert", "source_id", "event", "changed_at", name="uq_source_alert"),
    Index("ix_source_alerts_status_due", "status", "next_attempt_at"),
)

# The page an item was extracted from, kept when the source archives (`archive: true`) so that
# `newsmon reextract` can extract it again and `newsmon export --format warc` can hand it on.
# The body as fetched (transfer and content codings undone), compressed with `codec`; headers
# as [name, value] pairs without cookies, hop-by-hop or content-coding headers.
page_archive = Table(
    "page_archive",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("url", Text, nullable=False),  # the final URL, after redirects
    Column("status", SmallInteger, nullable=False),
    Column("headers", JSON, nullable=False, default=list),
    Column("codec", String(8), nullable=False),  # zstd | gzip
    Column("body", LargeBinary, nullable=False),
    Column("body_bytes", Integer, nullable=False),  # as fetched
    Column("stored_bytes", Integer, nullable=False),  # compressed
    Column("fetched_at", UTCDateTime, nullable=False, default=utcnow),
)
