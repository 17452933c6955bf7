"""The declarative config: models and full validation (crawler/config_file.py reads the file).

Imports nothing heavy (no Scrapy, no trafilatura), but pydantic: read-only commands use
crawler/config_file.py instead.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from crawler.config_file import (
    DEFAULT_DATABASE,
    ConfigError,
    YamlPath,
    check_database_url,
    find_config_path,  # noqa: F401 - public here too: tests and older callers import it
    format_problem,
    kind_of,
    line_of,
    read_config_file,
    resolve_sqlite,
)
from crawler.units import parse_duration, parse_size
from crawler.urls import split_credentials
from crawler.userregex import compile_pattern

SOURCE_NAME = r"^[a-z0-9_-]+$"


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class Schedule(StrictModel):
    """When a source is crawled: every N (s/m/h/d) or a 5-field cron line, optional jitter."""

    every: Duration | None = None
    cron: str | None = None
    timezone: str | None = None
    jitter: Duration | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("a schedule needs exactly one of every or cron")
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
            from crawler.cron import cron_trigger  # light: no scheduler machinery

            try:
                cron_trigger(expression)
            except ValueError as exc:
                raise ValueError(f"cron {expression!r} is not valid: {exc}") from None
        return expression


class Daemon(StrictModel):
    """How `newsmon run` behaves: run limits, logging and the health verdict."""

    run_timeout: Duration = 15 * 60.0
    shutdown_grace: Duration = 30.0
    misfire_grace: Duration = 5 * 60.0
    max_parallel: int = Field(default=4, ge=1, le=64)
    log_format: Literal["plain", "json"] = "plain"
    max_consecutive_failures: int = Field(default=3, ge=1)


HTTP_URL = r"^https?://[^\s/$.?#][^\s]*$"
HttpUrlText = Annotated[str, Field(pattern=HTTP_URL)]


class Source(StrictModel):
    """One monitored site, found through exactly one discovery mode."""

    name: str = Field(pattern=SOURCE_NAME, max_length=64)
    feed: HttpUrlText | None = None
    sitemap: HttpUrlText | None = None
    listing: HttpUrlText | None = None
    follow: str | None = None
    pages: int = Field(1, ge=1, le=1000)
    max_articles: int = Field(200, ge=1)
    politeness: PolitenessOverride = PolitenessOverride()
    allow_private_hosts: list[str] = []
    # False only for a host the user knowingly trusts (an intranet one with a self-signed cert).
    tls_verify: bool = True
    enabled: bool = True
    schedule: Schedule | None = None
    expect_new_within: Duration | None = None
    recheck: Duration | None = None  # re-fetch articles first fetched this recently (off)
    max_age: Duration | None = None  # sitemap entries older than this are skipped
    # Bounds on what one discovery page can make a run do (counted and logged when reached).
    max_links_per_page: int = Field(50_000, ge=1)  # the sitemap protocol's own limit
    max_sitemaps: int = Field(200, ge=1)  # child sitemaps fetched per run
    max_sitemap_depth: int = Field(3, ge=0, le=10)  # levels of child sitemaps below the source's
    sitemap_hosts: list[str] = []  # hosts besides the source's own site that serve its sitemaps

    @model_validator(mode="after")
    def _one_discovery_mode(self) -> Source:
        given = [mode for mode in ("feed", "sitemap", "listing") if getattr(self, mode)]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"source {self.name!r} needs exactly one of feed, sitemap or listing "
                f"(found: {found})"
            )
        if (self.follow is not None or self.pages != 1) and not self.listing:
            raise ValueError("follow and pages only apply to a listing source")
        sitemap_only = {"max_age", "max_sitemaps", "max_sitemap_depth", "sitemap_hosts"}
        given_here = sorted(sitemap_only & self.model_fields_set)
        if given_here and not self.sitemap:
            raise ValueError(f"{', '.join(given_here)} only apply to a sitemap source")
        return self

    @field_validator("follow")
    @classmethod
    def _follow_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise ValueError(f"follow is not a valid regular expression: {exc}") from None
        return pattern

    @property
    def mode(self) -> Literal["feed", "sitemap", "listing"]:
        if self.feed:
            return "feed"
        return "sitemap" if self.sitemap else "listing"

    @property
    def url(self) -> str:
        """The discovery URL newsmon requests: as configured, less any user:password@."""
        return split_credentials(self.feed or self.sitemap or self.listing or "")[0]

    @property
    def credentials(self) -> tuple[str, str] | None:
        """(user, password) from the configured URL's user:password@, sent as basic auth."""
        return split_credentials(self.feed or self.sitemap or self.listing or "")[1]

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
    """A watched keyword: literal terms (or regexes) plus optional conditions."""

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


class Alert(StrictModel):
    """Where flagged items are announced: any Apprise URL, each item or a periodic digest."""

    name: str = Field(pattern=SOURCE_NAME, max_length=64)
    url: str = Field(min_length=1)
    keywords: list[str] = []  # empty: every keyword rule
    mode: Literal["each", "digest"] = "each"
    digest: Digest | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Alert:
        if self.digest is not None and self.mode == "each":
            raise ValueError("digest settings need mode: digest (or leave mode out)")
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


class Config(StrictModel):
    """The whole of config.yaml."""

    database: str = DEFAULT_DATABASE
    user_agent: str = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
    sources: list[Source] = Field(min_length=1)
    politeness: Politeness = Politeness()
    keywords: list[Keyword] = []
    alerts: list[AlertEntry] = []
    schedule: Schedule = Schedule(every=30 * 60.0)
    daemon: Daemon = Daemon()
    near_duplicates: NearDuplicates = NearDuplicates()
    distributed: Distributed | None = None

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Checked here, not when the engine is made: a bad URL is a config error (exit 2).
        return check_database_url(value)

    def politeness_for(self, source: Source) -> Politeness:
        return source.effective_politeness(self.politeness)

    def schedule_for(self, source: Source) -> Schedule:
        return source.schedule or self.schedule

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


# --- Loading -------------------------------------------------------------------------------------

_PATTERN_MESSAGES = {
    SOURCE_NAME: "use only lowercase letters, digits, '-' and '_'",
    HTTP_URL: "must be an http:// or https:// URL",
}


def load_config(path: str | Path) -> Config:
    """Read, expand and validate a config file; any problem raises ConfigError."""
    name = str(path)
    data, lines = read_config_file(path)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda error: line_of(lines, error["loc"]) or 0)
        raise ConfigError([_describe_pydantic(name, error, lines) for error in errors]) from None
    problems = _cross_field_problems(config, lines)
    if problems:
        raise ConfigError(
            [format_problem(name, lines, where, message) for where, message in problems]
        )
    database = resolve_sqlite(config.database, Path(path).absolute().parent)
    return config.model_copy(update={"database": database})


def _describe_pydantic(name: str, error: Any, lines: dict[YamlPath, int]) -> str:
    loc: YamlPath = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        message = f"missing required key {loc[-1]!r}"
    elif kind == "extra_forbidden":
        message = _unknown_key_message(loc)
    elif kind == "value_error":
        message = str(error["ctx"]["error"])
    elif kind == "model_type":
        shorthand = " (or, for a keyword, a plain term)" if loc[:1] == ("keywords",) else ""
        message = f"expected a mapping of keys{shorthand}, found {kind_of(error['input'])}"
    elif kind == "string_pattern_mismatch" and error["ctx"]["pattern"] in _PATTERN_MESSAGES:
        message = f"{error['input']!r}: {_PATTERN_MESSAGES[error['ctx']['pattern']]}"
    else:
        message = error["msg"]
    return format_problem(name, lines, loc, message)


def _unknown_key_message(loc: YamlPath) -> str:
    key = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown key {key!r}"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (allowed: {', '.join(allowed)})"


def _model_at(loc: YamlPath) -> type[BaseModel] | None:
    """The model that validates the mapping at `loc`, e.g. ('sources', 0) -> Source."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _inner_model(field.annotation) if field else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found:
            return found
    return None


def _cross_field_problems(config: Config, lines: dict[YamlPath, int]) -> list[tuple[YamlPath, str]]:
    """Checks pydantic cannot make one model at a time: unique names, known sources, rules
    that could never match."""
    from crawler.keywords import Matcher, RuleError  # it imports this module

    problems: list[tuple[YamlPath, str]] = []
    sources: dict[str, YamlPath] = {}
    for index, source in enumerate(config.sources):
        path: YamlPath = ("sources", index, "name")
        if source.name in sources:
            first = line_of(lines, sources[source.name])
            message = f"duplicate source name {source.name!r} (first defined at line {first})"
            problems.append((path, message))
        sources.setdefault(source.name, path)
    keywords: dict[str, YamlPath] = {}
    for index, rule in enumerate(config.keywords):
        path = ("keywords", index, "name")
        if rule.name in keywords:
            first = line_of(lines, keywords[rule.name])
            message = f"duplicate keyword name {rule.name!r} (first defined at line {first})"
            problems.append((path, message))
        keywords.setdefault(rule.name, path)
        try:
            Matcher.from_rules([rule])
        except RuleError as error:
            problems.append((("keywords", index), str(error)))
        for position, source_name in enumerate(rule.sources):
            if source_name not in sources:
                message = f"unknown source {source_name!r} (sources: {', '.join(sources)})"
                problems.append((("keywords", index, "sources", position), message))
    problems += _alert_problems(config, lines, set(keywords))
    return problems


def _alert_problems(
    config: Config, lines: dict[YamlPath, int], keywords: set[str]
) -> list[tuple[YamlPath, str]]:
    """Alert names are unique and name only keyword rules that exist."""
    problems: list[tuple[YamlPath, str]] = []
    alerts: dict[str, YamlPath] = {}
    for index, alert in enumerate(config.alerts):
        path: YamlPath = ("alerts", index, "name")
        if alert.name in alerts:
            first = line_of(lines, alerts[alert.name])
            problems.append(
                (path, f"duplicate alert name {alert.name!r} (first defined at line {first})")
            )
        alerts.setdefault(alert.name, path)
        for position, keyword in enumerate(alert.keywords):
            if keyword not in keywords:
                message = f"unknown keyword {keyword!r} (keywords: {', '.join(keywords) or 'none'})"
                problems.append((("alerts", index, "keywords", position), message))
    return problems
