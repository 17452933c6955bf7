"""load_config: read the file, validate it against the models, then the checks across models
(unique names, known sources and keywords, keyword rules that compile)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from crawler.config.fields import PATTERN_MESSAGES
from crawler.config.file import (
    ConfigError,
    YamlPath,
    format_problem,
    kind_of,
    line_of,
    read_config_file,
    resolve_sqlite,
)
from crawler.config.models import Config, config_model
from crawler.keywords import Matcher, RuleError
from crawler.userregex import TIME_LIMIT, nested_quantifier


def load_config(path: str | Path) -> Config:
    """Read, expand and validate a config file; any problem raises ConfigError."""
    name = str(path)
    data, lines = read_config_file(path)
    model = config_model()
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda error: line_of(lines, error["loc"]) or 0)
        raise ConfigError(
            [_describe_pydantic(name, error, lines, model) for error in errors]
        ) from None
    problems = _cross_field_problems(config, lines)
    if problems:
        raise ConfigError(
            [format_problem(name, lines, where, message) for where, message in problems]
        )
    database = resolve_sqlite(config.database, Path(path).absolute().parent)
    return config.model_copy(update={"database": database})


def pattern_warnings(config: Config) -> list[str]:
    """A warning for every configured pattern with a nested quantifier."""
    patterns = [(f"keyword {rule.name}: regex", p) for rule in config.keywords for p in rule.regex]
    patterns += [(f"source {s.name}: follow", s.follow) for s in config.sources if s.follow]
    warnings = []
    for where, pattern in patterns:
        group = nested_quantifier(pattern)
        if group:
            warnings.append(
                f"{where} {pattern!r} has a nested quantifier, {group}: on text that almost"
                f" matches it can backtrack for a very long time (each search stops after"
                f" {TIME_LIMIT:g}s)"
            )
    return warnings


def _describe_pydantic(
    name: str, error: Any, lines: dict[YamlPath, int], model: type[BaseModel]
) -> str:
    loc: YamlPath = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        message = f"missing required key {loc[-1]!r}"
    elif kind == "extra_forbidden":
        message = _unknown_key_message(loc, model)
    elif kind == "value_error":
        message = str(error["ctx"]["error"])
    elif kind == "model_type":
        shorthand = " (or, for a keyword, a plain term)" if loc[:1] == ("keywords",) else ""
        message = f"expected a mapping of keys{shorthand}, found {kind_of(error['input'])}"
    elif kind == "string_pattern_mismatch" and error["ctx"]["pattern"] in PATTERN_MESSAGES:
        message = f"{error['input']!r}: {PATTERN_MESSAGES[error['ctx']['pattern']]}"
    else:
        message = error["msg"]
    return format_problem(name, lines, loc, message)


def _unknown_key_message(loc: YamlPath, root: type[BaseModel]) -> str:
    key = str(loc[-1])
    model = _model_at(loc[:-1], root)
    if model is None:
        return f"unknown key {key!r}"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (allowed: {', '.join(allowed)})"


def _model_at(loc: YamlPath, root: type[BaseModel]) -> type[BaseModel] | None:
    """The model that validates the mapping at `loc`, e.g. ('sources', 0) -> Source."""
    model: type[BaseModel] | None = root
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
    problems: list[tuple[YamlPath, str]] = []
    sources: dict[str, YamlPath] = {}
    for index, source in enumerate(config.sources):
        _unique_name("source", ("sources", index, "name"), source.name, sources, lines, problems)
    keywords: dict[str, YamlPath] = {}
    for index, rule in enumerate(config.keywords):
        _unique_name("keyword", ("keywords", index, "name"), rule.name, keywords, lines, problems)
        try:
            Matcher.from_rules([rule])  # compiling is the loader's step: the model is data
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
        _unique_name("alert", ("alerts", index, "name"), alert.name, alerts, lines, problems)
        for position, keyword in enumerate(alert.keywords):
            if keyword not in keywords:
                message = f"unknown keyword {keyword!r} (keywords: {', '.join(keywords) or 'none'})"
                problems.append((("alerts", index, "keywords", position), message))
    return problems


def _unique_name(
    kind: str,
    path: YamlPath,
    name: str,
    seen: dict[str, YamlPath],
    lines: dict[YamlPath, int],
    problems: list[tuple[YamlPath, str]],
) -> None:
    """Note `name` at `path` in `seen`; a second definition is a problem naming the first."""
    if name in seen:
        first = line_of(lines, seen[name])
        problems.append((path, f"duplicate {kind} name {name!r} (first defined at line {first})"))
    seen.setdefault(name, path)
