"""Reading config.yaml: YAML with the line of every key, ${VAR} expansion, ConfigError.

No pydantic here. Read-only commands take only `database` from the file (database_url), so a
config being edited elsewhere never blocks a query; crawler/config/load.py validates the whole file.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

CONFIG_ENV = "NEWSMON_CONFIG"
DATABASE_ENV = "NEWSMON_DATABASE_URL"
DEFAULT_DATABASE = "sqlite:///data/newsmon.db"
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


def read_config_file(
    path: str | Path, keys: Collection[str] | None = None
) -> tuple[dict[str, Any], dict[YamlPath, int]]:
    """The top-level mapping of a config file and the line of every key, with ${VAR} expanded
    and $NEWSMON_DATABASE_URL applied. With `keys`, only those top-level keys are read (and
    checked); the rest of the file need only be well-formed YAML."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{name}: cannot read the config file: {reason}") from None
    data, lines = _parse(text, name, keys)
    if not isinstance(data, dict):
        found = "an empty file" if data is None else kind_of(data)
        raise ConfigError(
            f"{name}:{lines.get((), 1)}: the top level must be a mapping of keys "
            f"(sources, keywords, ...), found {found}"
        )
    if os.environ.get(DATABASE_ENV):
        logger.debug("database comes from $%s", DATABASE_ENV)
        data["database"] = os.environ[DATABASE_ENV]
    return data, lines


def database_url(path: str | Path) -> str:
    """Only the `database` of a config file, checked, with a relative SQLite path resolved."""
    data, lines = read_config_file(path, keys={"database"})
    try:
        url = check_database_url(data.get("database", DEFAULT_DATABASE))
    except ValueError as exc:
        raise ConfigError(format_problem(str(path), lines, ("database",), str(exc))) from None
    return resolve_sqlite(url, Path(path).absolute().parent)


def check_database_url(value: Any) -> str:
    """`value` if SQLAlchemy can parse it as a database URL, else ValueError saying why."""
    if not isinstance(value, str):
        raise ValueError(f"expected a database URL, found {kind_of(value)}")
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise ValueError(f"not a database URL ({exc}); e.g. {DEFAULT_DATABASE}") from None
    return value


def resolve_sqlite(url: str, base: Path) -> str:
    """A relative SQLite file is relative to the config's directory, not the working one."""
    match = _SQLITE_FILE_URL.match(url)
    if not match:
        return url
    file = match.group("file")
    if not file or file == ":memory:" or file.startswith("file:") or Path(file).is_absolute():
        return url
    return f"{match.group('prefix')}{os.path.normpath(base / file)}{match.group('query') or ''}"


def _parse(text: str, name: str, keys: Collection[str] | None) -> tuple[Any, dict[YamlPath, int]]:
    """YAML text -> (data, line of every key and list item), with ${VAR} expanded."""
    builder = _Builder(name, keys)
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
    """Turns a composed YAML node tree into plain data, keeping the line of each key.

    With `keys`, top-level values under other keys are skipped: not built, not checked.
    """

    def __init__(self, name: str, keys: Collection[str] | None = None) -> None:
        self.name = name
        self.keys = keys
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

    def _wanted(self, path: YamlPath) -> bool:
        return self.keys is None or not path or path[0] in self.keys

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
            if not self._wanted((*path, key)):
                continue
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
            if key in first_line and self._wanted((*path, key)):
                message = f"duplicate key {key!r} (first given at line {first_line[key]})"
                self.errors.append(format_at(self.name, line, (*path, key), message))
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
        self.errors.append(format_problem(self.name, self.lines, path, message))

    def _fail(self, path: YamlPath, message: str, line: int | None = None) -> Any:
        line = line or line_of(self.lines, path)
        raise ConfigError([*self.errors, format_at(self.name, line, path, message)])


def line_of(lines: dict[YamlPath, int], path: tuple[Any, ...]) -> int | None:
    """The line of the key at `path`, else of the nearest enclosing key that exists."""
    for depth in range(len(path), -1, -1):
        if path[:depth] in lines:
            return lines[path[:depth]]
    return None


def format_problem(name: str, lines: dict[YamlPath, int], path: YamlPath, message: str) -> str:
    return format_at(name, line_of(lines, path), path, message)


def format_at(name: str, line: int | None, path: YamlPath, message: str) -> str:
    """`file:line: dotted.path[0]: message`."""
    where = f"{name}:{line}" if line is not None else name
    dotted = _dotted(path)
    return f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}"


def _dotted(path: YamlPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def kind_of(value: Any) -> str:
    """How a message names a YAML value of the wrong kind: `the number 5`, `a list`, `null`."""
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    if isinstance(value, bool) or value is None:
        return str(value).lower().replace("none", "null")
    if isinstance(value, int | float):
        return f"the number {value}"
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"
