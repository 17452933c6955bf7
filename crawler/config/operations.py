"""How newsmon runs, beside what it crawls: the daemon, alerts and digests, near-duplicates and
distributed workers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from crawler.config.fields import SOURCE_NAME, Duration, StrictModel


class Daemon(StrictModel):
    """How `newsmon run` behaves: run limits, logging and the health verdict."""

    run_timeout: Duration = 15 * 60.0
    shutdown_grace: Duration = 30.0
    misfire_grace: Duration = 5 * 60.0
    max_parallel: int = Field(default=4, ge=1, le=64)
    # How long a changed source waits for others to share a crawl child; None: a tenth of its
    # shortest interval, at most 20 s (jobs/daemon.py gather_for).
    batch_wait: Duration | None = None
    log_format: Literal["plain", "json"] = "plain"
    max_consecutive_failures: int = Field(default=3, ge=1)


class Digest(StrictModel):
    every: Duration = 3600.0

    @field_validator("every")
    @classmethod
    def _at_least_a_minute(cls, every: float) -> float:
        if every < 60:
            raise ValueError("a digest period must be at least 1m")
        return every


def _alert_mode_shorthand(value: Any) -> Any:
    """`mode: {digest: {every: 1h}}`, `mode: digest` + `digest: {every: 1h}` and a bare
    `digest: {every: 1h}` all mean the same; `mode: digest` alone digests hourly."""
    if not isinstance(value, dict):
        return value
    mode = value.get("mode")
    if isinstance(mode, dict) and set(mode) == {"digest"} and "digest" not in value:
        return {**value, "mode": "digest", "digest": mode["digest"] or {}}
    if mode is None and value.get("digest") is not None:
        return {**value, "mode": "digest"}
    if mode == "digest" and value.get("digest") is None:
        return {**value, "digest": {}}
    return value


AlertEvent = Literal[
    "flagged",
    "keyword_spike",
    "source_broken",
    "source_degraded",
    "source_silent",
    "source_recovered",
]


class Alert(StrictModel):
    """Where flagged items are announced: any Apprise URL, each item or a periodic digest."""

    name: str = Field(pattern=SOURCE_NAME, max_length=64)
    url: str = Field(min_length=1)
    keywords: list[str] = []  # empty: every keyword rule
    mode: Literal["each", "digest"] = "each"
    digest: Digest | None = None
    # What this channel announces: flagged items (as `mode` says), spikes of a keyword rule,
    # changes of a source's health. Each event of the last two is sent once per change.
    on: list[AlertEvent] = Field(default=["flagged"], min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Alert:
        if self.digest is not None and self.mode == "each":
            raise ValueError("digest settings need mode: digest (or leave mode out)")
        if len(set(self.on)) != len(self.on):
            raise ValueError("on: each event once")
        if "://" not in self.url:
            raise ValueError("url must be an Apprise URL such as json://host/path or slack://...")
        return self


AlertEntry = Annotated[Alert, BeforeValidator(_alert_mode_shorthand)]


class NearDuplicates(StrictModel):
    """When a new item counts as a copy of a stored one (Jaccard of word 3-shingles)."""

    # Below 0.7 the LSH bands (storage/neardup.py) start to miss candidates.
    threshold: float = Field(0.8, ge=0.7, le=1.0)


class Distributed(StrictModel):
    """Crawl jobs on Celery workers (`newsmon worker`, `newsmon run --dispatch celery`)."""

    broker: str = Field(pattern=r"^(redis|rediss|amqp|amqps)://")
    queue: str = Field("newsmon", pattern=r"^[A-Za-z0-9_.-]+$")
    # How long a task a dead worker had taken waits before another worker gets it.
    redelivery_after: Duration = Field(3600.0, gt=0)
    # How often a standby scheduler tries to take over from the active one.
    standby_poll: Duration = Field(5.0, gt=0)
    # How long a worker waits for another worker's lease of a host before it puts the task
    # back for that much later (jobs/hostlease.py), rather than hold a thread for a long crawl.
    lease_wait: Duration = Field(30.0, gt=0)
