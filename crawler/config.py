"""The declarative config: models, validation and loading.

Imports nothing heavy (no Scrapy, no trafilatura): read-only commands load it too.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

logger = logging.getLogger(__name__)

SOURCE_NAME = r"^[a-z0-9_-]+$"
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2}


def parse_duration(value: Any) -> float:
    """'90s', '30m', '1.5h', '3d' or a bare number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number with a unit, such as 30s, 10m, 2h or 3d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*", str(value))
        if not match:
            raise ValueError(
                f"{value!r} is not a duration; use a number with a unit: 30s, 10m, 2h, 3d"
            )
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_size(value: Any) -> int:
    """'10MB', '512KiB' or a bare number of bytes -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*", str(value), re.IGNORECASE)
        if not match:
            raise ValueError(f"{value!r} is not a size; use bytes or a unit: 500KB, 10MB")
        number = float(match.group(1)) * SIZE_UNITS[(match.group(2) or "").lower()]
        if not math.isfinite(number):  # int(inf) would raise OverflowError, not ValueError
            raise ValueError(f"{value!r} is too large")
        size = int(number)
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


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
    enabled: bool = True
    schedule: Schedule | None = None
    expect_new_within: Duration | None = None
    recheck: Duration | None = None  # re-fetch articles first fetched this recently (off)
    max_age: Duration | None = None  # sitemap entries older than this are skipped

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
        if self.max_age is not None and not self.sitemap:
            raise ValueError("max_age only applies to a sitemap source")
        return self

    @field_validator("follow")
    @classmethod
    def _follow_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"follow is not a valid regular expression: {exc}") from exc
        return pattern

    @property
    def mode(self) -> Literal["feed", "sitemap", "listing"]:
        if self.feed:
            return "feed"
        return "sitemap" if self.sitemap else "listing"

    @property
    def url(self) -> str:
        return self.feed or self.sitemap or self.listing or ""

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
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regex {pattern!r} is not valid: {exc}") from exc
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

    database: str = "sqlite:///data/newsmon.db"
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
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except (ArgumentError, ValueError) as exc:
            raise ValueError(
                f"not a database URL ({exc}); e.g. sqlite:///data/newsmon.db"
            ) from None
        return value

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

CONFIG_ENV = "NEWSMON_CONFIG"
DATABASE_ENV = "NEWSMON_DATABASE_URL"
MAX_YAML_NODES = 200_000  # stops alias "billion laughs" expansion long before memory runs out

YamlPath = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# "$${" escapes a literal "${"; a bare "${" that is not a reference is a mistake worth reporting.
_ENV_REF = re.compile(
    r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$\{"
)
_SQLITE_FILE_URL = re.compile(r"^(?P<prefix>sqlite(?:\+\w+)?:///)(?P<file>[^?]*)(?P<query>\?.*)?$")
_PATTERN_MESSAGES = {
    SOURCE_NAME: "use only lowercase letters, digits, '-' and '_'",
    HTTP_URL: "must be an http:// or https:// URL",
}


class ConfigError(Exception):
    """A config that cannot be used; each line is `file:line: path: message`."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


def find_config_path(cli_path: str | None) -> Path:
    """--config first, then $NEWSMON_CONFIG, then ./config.yaml."""
    if cli_path:
        chosen, origin = cli_path, "given with --config"
    elif os.environ.get(CONFIG_ENV):
        chosen, origin = os.environ[CONFIG_ENV], f"from ${CONFIG_ENV}"
    else:
        chosen, origin = "config.yaml", f"the default; pass --config PATH or set ${CONFIG_ENV}"
    path = Path(chosen)
    if not path.is_file():
        raise ConfigError(f"{chosen}: config file not found ({origin})")
    return path


def load_config(path: str | Path) -> Config:
    """Read, expand and validate a config file; any problem raises ConfigError."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{name}: cannot read the config file: {reason}") from None
    data, lines = _parse(text, name)
    if not isinstance(data, dict):
        found = "an empty file" if data is None else _kind_of(data)
        raise ConfigError(
            f"{name}:{lines.get((), 1)}: the top level must be a mapping of keys "
            f"(sources, keywords, ...), found {found}"
        )
    if os.environ.get(DATABASE_ENV):
        logger.debug("database comes from $%s", DATABASE_ENV)
        data["database"] = os.environ[DATABASE_ENV]
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda error: _line_of(lines, error["loc"]) or 0)
        raise ConfigError([_describe_pydantic(name, error, lines) for error in errors]) from None
    problems = _cross_field_problems(config, lines)
    if problems:
        raise ConfigError([_format(name, lines, where, message) for where, message in problems])
    database = _resolve_sqlite(config.database, Path(path).absolute().parent)
    return config.model_copy(update={"database": database})


def _parse(text: str, name: str) -> tuple[Any, dict[YamlPath, int]]:
    """YAML text -> (data, line of every key and list item), with ${VAR} expanded."""
    builder = _Builder(name)
    try:
        data = builder.build(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            f"{name}:{line}: character U+{exc.character:04X} is not allowed"
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_format_yaml_error(name, exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: YAML error: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{name}: the YAML is nested too deeply") from None
    if builder.errors:
        raise ConfigError(builder.errors)
    return data, builder.lines


def _format_yaml_error(name: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{name}:{mark.line + 1}" if mark else name
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem and exc.context_mark:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    kind = (
        "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
    )
    return f"{where}: {kind}: {message}"


class _Builder:
    """Turns a composed YAML node tree into plain data, keeping the line of each key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: dict[YamlPath, int] = {}
        self.errors: list[str] = []
        self._budget = MAX_YAML_NODES
        self._open: set[int] = set()  # containers being built, to catch recursive aliases
        self._pairs: dict[int, list[tuple[yaml.Node, yaml.Node]]] = {}

    def build(self, text: str) -> Any:
        self.loader = yaml.SafeLoader(text)
        try:
            root = self.loader.get_single_node()
            if root is None:
                return None
            self.lines[()] = root.start_mark.line + 1
            return self._value(root, ())
        finally:
            self.loader.dispose()

    def _value(self, node: yaml.Node, path: YamlPath) -> Any:
        self._budget -= 1
        if self._budget < 0:
            self._fail(path, f"more than {MAX_YAML_NODES} values (runaway aliases?)")
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag in (
            _MAP_TAG,
            _SEQ_TAG,
        ):
            if id(node) in self._open:
                self._fail(path, "an alias refers to the mapping or list that contains it")
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return self._sequence(node, path)
            finally:
                self._open.discard(id(node))
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's tag constructors raise assorted errors on bad input
            self._fail(path, f"cannot read this value: {exc}")
        return self._expand(value, path) if isinstance(value, str) else value

    def _mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in self._flattened(node, path):
            key = key_node.value
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self._value(value_node, (*path, key))
        return result

    def _sequence(self, node: yaml.SequenceNode, path: YamlPath) -> list[Any]:
        result = []
        for index, item in enumerate(node.value):
            self.lines[(*path, index)] = item.start_mark.line + 1
            result.append(self._value(item, (*path, index)))
        return result

    def _flattened(
        self, node: yaml.MappingNode, path: YamlPath
    ) -> list[tuple[yaml.Node, yaml.Node]]:
        """The pairs with `<<` merges applied; checked once per node, as aliases reuse nodes."""
        if id(node) in self._pairs:
            return self._pairs[id(node)]
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._fail(path, f"a key must be plain text, not a {key_node.id}", line)
            key = key_node.value
            if key in first_line:
                message = f"duplicate key {key!r} (first given at line {first_line[key]})"
                self.errors.append(_format_at(self.name, line, (*path, key), message))
            first_line.setdefault(key, line)
        self.loader.flatten_mapping(node)
        for key_node, _ in node.value:  # merged-in keys are not checked above
            if not isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                self._fail(path, f"a key must be plain text, not a {key_node.id}", line)
        self._pairs[id(node)] = list(node.value)
        return self._pairs[id(node)]

    def _expand(self, text: str, path: YamlPath) -> str:
        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            variable = match.group("name")
            if variable is None:
                self._error(path, "'${' must start a ${VAR} or ${VAR:-default} reference")
                return ""
            value = os.environ.get(variable)
            if value:
                return value
            if match.group("default") is not None:
                return match.group("default")
            if value is None:
                self._error(
                    path,
                    f"environment variable {variable} is not set (or use ${{{variable}:-default}})",
                )
            return ""

        return _ENV_REF.sub(substitute, text) if "${" in text else text

    def _error(self, path: YamlPath, message: str) -> None:
        self.errors.append(_format(self.name, self.lines, path, message))

    def _fail(self, path: YamlPath, message: str, line: int | None = None) -> Any:
        line = line or _line_of(self.lines, path)
        raise ConfigError([*self.errors, _format_at(self.name, line, path, message)])


def _line_of(lines: dict[YamlPath, int], path: tuple[Any, ...]) -> int | None:
    """The line of the key at `path`, else of the nearest enclosing key that exists."""
    for depth in range(len(path), -1, -1):
        if path[:depth] in lines:
            return lines[path[:depth]]
    return None


def _format(name: str, lines: dict[YamlPath, int], path: YamlPath, message: str) -> str:
    return _format_at(name, _line_of(lines, path), path, message)


def _format_at(name: str, line: int | None, path: YamlPath, message: str) -> str:
    """`file:line: dotted.path[0]: message`."""
    where = f"{name}:{line}" if line is not None else name
    dotted = _dotted(path)
    return f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}"


def _dotted(path: YamlPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


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
        message = f"expected a mapping of keys{shorthand}, found {_kind_of(error['input'])}"
    elif kind == "string_pattern_mismatch" and error["ctx"]["pattern"] in _PATTERN_MESSAGES:
        message = f"{error['input']!r}: {_PATTERN_MESSAGES[error['ctx']['pattern']]}"
    else:
        message = error["msg"]
    return _format(name, lines, loc, message)


def _kind_of(value: Any) -> str:
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    if isinstance(value, bool) or value is None:
        return str(value).lower().replace("none", "null")
    if isinstance(value, int | float):
        return f"the number {value}"
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"


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
            first = _line_of(lines, sources[source.name])
            message = f"duplicate source name {source.name!r} (first defined at line {first})"
            problems.append((path, message))
        sources.setdefault(source.name, path)
    keywords: dict[str, YamlPath] = {}
    for index, rule in enumerate(config.keywords):
        path = ("keywords", index, "name")
        if rule.name in keywords:
            first = _line_of(lines, keywords[rule.name])
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
            first = _line_of(lines, alerts[alert.name])
            problems.append(
                (path, f"duplicate alert name {alert.name!r} (first defined at line {first})")
            )
        alerts.setdefault(alert.name, path)
        for position, keyword in enumerate(alert.keywords):
            if keyword not in keywords:
                message = f"unknown keyword {keyword!r} (keywords: {', '.join(keywords) or 'none'})"
                problems.append((("alerts", index, "keywords", position), message))
    return problems


def _resolve_sqlite(url: str, base: Path) -> str:
    """A relative SQLite file is relative to the config's directory, not the working one."""
    match = _SQLITE_FILE_URL.match(url)
    if not match:
        return url
    file = match.group("file")
    if not file or file == ":memory:" or file.startswith("file:") or Path(file).is_absolute():
        return url
    return f"{match.group('prefix')}{os.path.normpath(base / file)}{match.group('query') or ''}"
