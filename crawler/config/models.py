"""The declarative config: sources, politeness, schedules, keyword rules and the whole file.

Imports nothing heavy (no Scrapy, no trafilatura), but pydantic: read-only commands use
crawler/config/file.py instead. Loading and the checks across models are in
crawler/config/load.py; the daemon, alert and distributed models in crawler/config/operations.py.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from crawler.config.fetch import FetchOptions
from crawler.config.fields import (
    SOURCE_NAME,
    Duration,
    HttpUrlText,  # noqa: F401 - public here too: the type of a mode's URL key
    Size,
    StrictModel,
)
from crawler.config.file import DEFAULT_DATABASE, check_database_url
from crawler.config.modes import (
    MODES,
    DiscoveryMode,
    FeedOptions,
    ListingOptions,
    SitemapOptions,
    either,
)
from crawler.config.operations import Alert, AlertEntry, Daemon, Distributed, NearDuplicates
from crawler.siterules import DateRule, SiteRules, css_xpath
from crawler.urls import split_credentials
from crawler.userregex import compile_pattern


class Politeness(StrictModel):
    """How hard newsmon may hit a host. Global defaults; a source may override any field."""

    delay: Duration = 1.0
    concurrency_per_host: int = Field(default=2, ge=1, le=64)
    autothrottle: bool = True
    obey_robots: bool = True
    timeout: Duration = 30.0
    retries: int = Field(default=2, ge=0, le=10)
    max_page_bytes: Size = 10 * 1000**2


class PolitenessOverride(StrictModel):
    """Per-source override: only the fields given replace the global value."""

    delay: Duration | None = None
    concurrency_per_host: int | None = Field(default=None, ge=1, le=64)
    autothrottle: bool | None = None
    obey_robots: bool | None = None
    timeout: Duration | None = None
    retries: int | None = Field(default=None, ge=0, le=10)
    max_page_bytes: Size | None = None


class Adaptive(StrictModel):
    """Bounds of a schedule that follows the source's own publication rate (jobs/cadence.py)."""

    min: Duration = 5 * 60.0
    max: Duration = 12 * 3600.0

    @model_validator(mode="after")
    def _ordered(self) -> Adaptive:
        if self.min < 1:
            raise ValueError("min must be at least 1s")
        if self.max < self.min:
            raise ValueError("max must be at least min")
        return self


def _schedule_shorthand(value: Any) -> Any:
    """`schedule: adaptive` and `adaptive:` with no bounds mean the default bounds."""
    if value == "adaptive":
        return {"adaptive": {}}
    if isinstance(value, dict) and "adaptive" in value and value["adaptive"] is None:
        return {**value, "adaptive": {}}
    return value


class Schedule(StrictModel):
    """When a source is polled: adaptive within bounds, every N (s/m/h/d) or a 5-field cron
    line, with optional jitter."""

    every: Duration | None = None
    cron: str | None = None
    adaptive: Adaptive | None = None
    timezone: str | None = None
    jitter: Duration | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if sum(kind is not None for kind in (self.every, self.cron, self.adaptive)) != 1:
            raise ValueError("a schedule needs exactly one of adaptive, every or cron")
        if self.every is not None and self.every < 1:
            raise ValueError("every must be at least 1s")
        if self.timezone is not None and self.cron is None:
            raise ValueError("timezone only applies to a cron schedule")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str | None) -> str | None:
        if name is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown timezone {name!r} (use an IANA name: Asia/Karachi)"
                ) from None
        return name

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, expression: str | None) -> str | None:
        if expression is not None:
            from crawler.config.schedules import cron_trigger  # light: no scheduler machinery

            try:
                cron_trigger(expression)
            except ValueError as exc:
                raise ValueError(f"cron {expression!r} is not valid: {exc}") from None
        return expression


ScheduleEntry = Annotated[Schedule, BeforeValidator(_schedule_shorthand)]


def _css_selector(selector: str) -> str:
    css_xpath(selector)  # a RuleError is a ValueError: reported with its line
    return selector


CssSelector = Annotated[str, AfterValidator(_css_selector)]


class ExtractRules(StrictModel):
    """A source's own extraction rules (crawler/siterules.py runs them in the workers)."""

    body: CssSelector | None = None
    title: CssSelector | None = None
    date: str | None = None  # CSS, CSS@attribute or meta:NAME
    remove: list[CssSelector] = []
    min_chars: int | None = Field(default=None, ge=1)

    @field_validator("date")
    @classmethod
    def _date_rule(cls, spec: str | None) -> str | None:
        if spec is not None:
            DateRule.parse(spec)
        return spec

    def rules(self) -> SiteRules:
        """The rules as the workers take them: plain, picklable data."""
        return SiteRules(
            body=self.body,
            title=self.title,
            date=DateRule.parse(self.date) if self.date else None,
            remove=tuple(self.remove),
            min_chars=self.min_chars,
        )


class _Named(StrictModel):
    # A base of its own so that `name` comes first among a source's keys, before the modes'.
    name: str = Field(pattern=SOURCE_NAME, max_length=64)


class Source(FetchOptions, ListingOptions, SitemapOptions, FeedOptions, _Named):
    """One monitored site, found through exactly one discovery mode (crawler/config/modes.py).

    The built-in modes' keys come from their options models; a source model for modes
    registered later is made by `source_model()`.
    """

    max_articles: int = Field(200, ge=1)
    politeness: PolitenessOverride = PolitenessOverride()
    allow_private_hosts: list[str] = []
    # False only for a host the user knowingly trusts (an intranet one with a self-signed cert).
    tls_verify: bool = True
    enabled: bool = True
    schedule: ScheduleEntry | None = None
    # None: trust 304s and validators until one is caught lying (jobs/cadence.py); False: never.
    conditional: bool | None = None
    expect_new_within: Duration | None = None
    recheck: Duration | None = None  # re-fetch articles first fetched this recently (off)
    archive: bool | None = None  # keep fetched article pages (None: the global `archive`)
    # Bounds on what one discovery page can make a run do (counted and logged when reached).
    max_links_per_page: int = Field(50_000, ge=1)  # the sitemap protocol's own limit
    extract: ExtractRules | None = None  # where trafilatura gets this site wrong

    @model_validator(mode="after")
    def _one_discovery_mode(self) -> Source:
        given = [name for name in MODES if getattr(self, name, None)]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"source {self.name!r} needs exactly one of {either(list(MODES))} (found: {found})"
            )
        try:
            split_credentials(self.discovery_url)
            urlsplit(self.discovery_url).port  # noqa: B018 - raises on a bad port or IPv6 host
        except ValueError as error:
            raise ValueError(f"{given[0]}: not a valid URL ({error})") from None
        for name in sorted(MODES):  # a stable order: listing's options before sitemap's
            if name != given[0]:
                problem = MODES[name].options.misplaced(name, self)
                if problem:
                    raise ValueError(problem)
        if given[0] != "listing" and self.render.listing is not None:
            raise ValueError(
                "render.listing only applies to a listing source (a feed or sitemap is read as"
                " it is; render.articles renders its article pages)"
            )
        return self

    def renders(self, discovery: bool) -> bool:
        """Whether a browser renders this source's discovery pages (`discovery`) or articles."""
        if discovery:
            return self.mode == "listing" and self.render.listing_mode == "browser"
        return self.render.articles == "browser"

    @property
    def mode(self) -> str:
        """The registered discovery mode whose key this source gives."""
        return next(name for name in MODES if getattr(self, name, None))

    @property
    def discovery_url(self) -> str:
        """The URL as configured, user:password@ included."""
        url: str = getattr(self, self.mode)
        return url

    @property
    def url(self) -> str:
        """The discovery URL newsmon requests: as configured, less any user:password@."""
        return split_credentials(self.discovery_url)[0]

    @property
    def credentials(self) -> tuple[str, str] | None:
        """(user, password) from the configured URL's user:password@, sent as basic auth."""
        return split_credentials(self.discovery_url)[1]

    def effective_politeness(self, defaults: Politeness) -> Politeness:
        overrides = self.politeness.model_dump(exclude_none=True)
        return defaults.model_copy(update=overrides)


class Near(StrictModel):
    terms: list[str] = Field(min_length=1)
    within: int = Field(30, ge=1, le=1000)


def _keyword_shorthand(value: Any) -> Any:
    # "- Pakistan-US" is the same as {name: Pakistan-US, terms: [Pakistan-US]}.
    if isinstance(value, str):
        return {"name": value, "terms": [value]}
    return value


class KeywordRule(StrictModel):
    """A watched keyword: literal terms (or regexes) plus optional conditions. Plain data:
    crawler/keywords.py compiles rules into a Matcher (and the loader checks they compile)."""

    name: str = Field(min_length=1, max_length=100)
    terms: list[str] = []
    regex: list[str] = []
    all: list[str] = []
    none: list[str] = []
    near: Near | None = None
    fields: list[Literal["title", "text"]] = ["title", "text"]
    case_sensitive_terms: list[str] = []
    sources: list[str] = []

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise ValueError(f"regex {pattern!r} is not valid: {exc}") from None
        return patterns

    @model_validator(mode="after")
    def _has_terms(self) -> KeywordRule:
        if not self.terms and not self.regex:
            raise ValueError(f"keyword {self.name!r} needs at least one term or regex")
        if not self.fields:
            raise ValueError(f"keyword {self.name!r} has an empty fields list")
        return self


Keyword = Annotated[KeywordRule, BeforeValidator(_keyword_shorthand)]


class Config(StrictModel):
    """The whole of config.yaml."""

    database: str = DEFAULT_DATABASE
    user_agent: str = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
    sources: list[Source] = Field(min_length=1)
    politeness: Politeness = Politeness()
    keywords: list[Keyword] = []
    alerts: list[AlertEntry] = []
    schedule: ScheduleEntry = Schedule(adaptive=Adaptive())
    daemon: Daemon = Daemon()
    near_duplicates: NearDuplicates = NearDuplicates()
    distributed: Distributed | None = None
    archive: bool = False  # keep every fetched article page (storage/archive.py)

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Checked here, not when the engine is made: a bad URL is a config error (exit 2).
        return check_database_url(value)

    def item_alerts(self) -> list[Alert]:
        """The channels that announce flagged items (the others announce only events)."""
        return [alert for alert in self.alerts if "flagged" in alert.on]

    def politeness_for(self, source: Source) -> Politeness:
        return source.effective_politeness(self.politeness)

    def archives(self, source: Source) -> bool:
        """Whether this source's fetched article pages are kept in the page archive."""
        return self.archive if source.archive is None else source.archive

    def schedule_for(self, source: Source) -> Schedule:
        return source.schedule or self.schedule

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


def source_model() -> type[Source]:
    """The source model for the modes registered now: `Source` itself for the built-in ones,
    else a subclass that takes the keys of the others too."""
    return _source_model(tuple(MODES.values()))


def config_model() -> type[Config]:
    """The config model for the modes registered now (`Config` for the built-in ones)."""
    return _config_model(tuple(MODES.values()))


@functools.cache
def _source_model(modes: tuple[DiscoveryMode, ...]) -> type[Source]:
    extra = tuple(mode.options for mode in modes if not issubclass(Source, mode.options))
    if not extra:
        return Source
    bases: tuple[type[Any], ...] = (Source, *extra)
    model: type[Source] = create_model("Source", __base__=bases, __module__=__name__)
    return model


@functools.cache
def _config_model(modes: tuple[DiscoveryMode, ...]) -> type[Config]:
    source = _source_model(modes)
    if source is Source:
        return Config
    sources: Any = (list[source], Field(min_length=1))  # type: ignore[valid-type]
    return create_model("Config", __base__=Config, __module__=__name__, sources=sources)
