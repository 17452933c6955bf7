"""The docs stay true: every command has help with an example and is documented, and every
config block in the docs loads with the real config loader.

The docs are README.md and docs/*.md. A ```yaml block is a config.yaml, or a fragment of one:
a fragment without `sources` is given the sources the docs define elsewhere, and a minimal
config fills in the rest. A yaml block that is not config says so on the line before it:
`<!-- docs-test: not config -->`.
"""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path
from typing import get_args

import click
import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from crawler.config.file import ConfigError
from crawler.config.load import load_config

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NOT_CONFIG = "<!-- docs-test: not config -->"
FENCE = re.compile(r"^```(\S*)\s*$")
ENV_REFERENCE = re.compile(r"\$\{(\w+)\}")  # without a default: the loader needs it set


def newsmon() -> click.Group:
    """The `newsmon` console script, as installed."""
    [script] = entry_points(group="console_scripts", name="newsmon")
    return script.load()


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            paths += command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


def docs_text() -> str:
    return "\n".join(path.read_text("utf-8") for path in DOCS)


def yaml_blocks(docs: list[Path]) -> list[tuple[str, int, str]]:
    """(doc, line of the opening fence, block text) of every config block in `docs`."""
    blocks = []
    for doc in docs:
        lines = doc.read_text("utf-8").splitlines()
        index = 0
        while index < len(lines):
            opening = FENCE.match(lines[index])
            if not opening or not opening.group(1):
                index += 1
                continue
            end = next(n for n in range(index + 1, len(lines)) if FENCE.match(lines[n]))
            previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
            if opening.group(1) == "yaml" and previous.strip() != NOT_CONFIG:
                name = doc.relative_to(REPO) if doc.is_relative_to(REPO) else doc
                blocks.append((str(name), index + 1, "\n".join(lines[index + 1 : end]) + "\n"))
            index = end + 1
    return blocks


BLOCKS = yaml_blocks(DOCS)


def documented_sources() -> list[dict]:
    """Every source the docs' config blocks define, the first definition of each name."""
    sources: dict[str, dict] = {}
    for _, _, text in BLOCKS:
        for source in (yaml.safe_load(text) or {}).get("sources", []):
            sources.setdefault(source["name"], source)
    return list(sources.values())


def test_every_command_has_help_with_an_example() -> None:
    main = newsmon()
    paths = command_paths(main)
    assert ("crawl",) in paths and ("db", "migrate-from") in paths
    for path in paths:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.output, path
        assert " ".join(("newsmon", *path)) in result.output, f"{path}: the example runs it"


def test_every_command_is_in_the_docs() -> None:
    text = docs_text()
    missing = [
        " ".join(path)
        for path in command_paths(newsmon())
        if path and not re.search(rf"\bnewsmon {re.escape(' '.join(path))}(?![\w-])", text)
    ]
    assert missing == [], f"undocumented commands: {missing}"


def test_the_docs_have_config_blocks() -> None:
    assert BLOCKS, "no ```yaml block found in README.md or docs/*.md"
    assert any("sources" in yaml.safe_load(text) for _, _, text in BLOCKS)


def test_only_yaml_blocks_not_marked_otherwise_are_config(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text(
        "```sh\nnewsmon crawl\n```\n\n```yaml\nschedule: {every: 1h}\n```\n"
        f"{NOT_CONFIG}\n```yaml\nservices: {{db: {{image: postgres}}}}\n```\n"
    )
    assert yaml_blocks([doc]) == [(str(doc), 5, "schedule: {every: 1h}\n")]


@pytest.mark.parametrize(
    ("doc", "line", "text"), BLOCKS, ids=[f"{doc}:{line}" for doc, line, _ in BLOCKS]
)
def test_a_config_block_in_the_docs_loads(
    doc: str, line: int, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = yaml.safe_load(text)
    assert isinstance(block, dict), f"{doc}:{line}: not a mapping; mark it {NOT_CONFIG!r}"
    # What the fragment leaves out, appended after it, so errors keep the block's line numbers.
    rest = {"sources": documented_sources()} if "sources" not in block else {}
    config = tmp_path / "config.yaml"
    config.write_text(text + (yaml.safe_dump(rest, sort_keys=False) if rest else ""), "utf-8")
    for name in ENV_REFERENCE.findall(text):
        monkeypatch.setenv(name, "json://docs.example/hook" if name.endswith("URL") else "docs")
    try:
        load_config(config)
    except ConfigError as error:
        # Point at the docs: line N of the block is line `line + N` of the doc.
        where = re.compile(rf"{re.escape(str(config))}:(\d+)")
        message = where.sub(lambda found: f"{doc}:{line + int(found.group(1))}", str(error))
        pytest.fail(f"a config block in the docs does not load:\n{message}", pytrace=False)


# --- docs/ pages -------------------------------------------------------------------------------

PAGES = REPO / "docs"
SETUP = (
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/newsmon crawl"
    "     # the main job: shipped config.yaml, SQLite in data/\n"
    "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest"
    "     # the tests (local fixture sites only)\n"
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block of a markdown text, in order."""
    blocks: list[tuple[str, str]] = []
    language: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        fence = FENCE.match(line)
        if language is None and fence:
            language, body = fence.group(1), []
        elif language is not None and fence:
            blocks.append((language, "".join(body)))
            language = None
        elif language is not None:
            body.append(line + "\n")
    return blocks


def prose_lines(text: str) -> list[str]:
    """The lines of a markdown text outside fenced blocks."""
    lines, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def anchors(doc: Path) -> set[str]:
    """The anchors GitHub gives the headings of `doc`: lower case, punctuation dropped, spaces
    as dashes, a repeated one numbered."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose_lines(doc.read_text("utf-8")):
        heading = HEADING.match(line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(2).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def command_at(group: click.Group, path: tuple[str, ...]) -> click.Command:
    command: click.Command = group
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def cli_page() -> str:
    return (PAGES / "cli.md").read_text("utf-8")


def test_the_docs_pages_exist() -> None:
    pages = {path.name for path in PAGES.glob("*.md")}
    expected = {"configuration.md", "cli.md", "operations.md", "architecture.md"}
    assert expected | {"extending.md", "benchmarks.md"} <= pages


def test_the_readme_opens_with_the_two_set_up_commands() -> None:
    """CI and users copy them: the first code block of README.md, byte for byte."""
    first = fenced_blocks((REPO / "README.md").read_text("utf-8"))[0]
    assert first == ("sh", SETUP)


def test_every_command_has_a_section_in_the_cli_page() -> None:
    page = cli_page()
    headings = [line for line in prose_lines(page) if line.startswith("## ")]
    main = newsmon()
    missing: list[str] = []
    for path in command_paths(main):
        command = command_at(main, path)
        name = " ".join(("newsmon", *path))
        if not path or isinstance(command, click.Group):
            assert not path or re.search(rf"\b{re.escape(name)}(?![\w-])", page), name
            continue
        if not any(re.search(rf"\b{re.escape(name)}(?![\w-])", line) for line in headings):
            missing.append(name)
    assert missing == [], f"commands without a section in docs/cli.md: {missing}"


def test_every_option_is_in_the_cli_page() -> None:
    page = cli_page()
    main = newsmon()
    missing: list[str] = []
    for path in command_paths(main):
        command = command_at(main, path)
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for option in (*param.opts, *param.secondary_opts):
                if option.startswith("--") and f"`{option}" not in page:
                    missing.append(f"{' '.join(('newsmon', *path))} {option}")
    assert missing == [], f"options not in docs/cli.md: {missing}"


def config_models(
    model: type[BaseModel], seen: set[type[BaseModel]] | None = None
) -> list[type[BaseModel]]:
    """`model` and every pydantic model its fields hold, however nested in the annotation."""
    seen = set() if seen is None else seen
    if model in seen:
        return []
    seen.add(model)
    found = [model]

    def inner(annotation: object) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [model for arg in get_args(annotation) for model in inner(arg)]

    for field in model.model_fields.values():
        for nested in inner(field.annotation):
            found += config_models(nested, seen)
    return found


def test_every_config_key_is_in_the_configuration_page(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("sources: [{name: docs, feed: https://docs.example/feed}]\n", "utf-8")
    page = (PAGES / "configuration.md").read_text("utf-8")
    models = config_models(type(load_config(config)))
    assert len(models) > 5
    missing = sorted(
        f"{model.__name__}.{key}"
        for model in models
        for key in model.model_fields
        if f"`{key}`" not in page
    )
    assert missing == [], f"config keys not in docs/configuration.md: {missing}"


def test_relative_links_between_the_docs_resolve() -> None:
    broken = []
    for doc in DOCS:
        for line in prose_lines(doc.read_text("utf-8")):
            for target in LINK.findall(line):
                if re.match(r"[a-z][a-z0-9+.-]*:", target):
                    continue  # https:, mailto: and the like
                file, _, anchor = target.partition("#")
                linked = (doc.parent / file).resolve() if file else doc
                where = f"{doc.relative_to(REPO)}: {target}"
                if not linked.exists():
                    broken.append(f"{where} (no such file)")
                elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                    broken.append(f"{where} (no such heading)")
    assert broken == [], "broken links:\n" + "\n".join(broken)


def test_anchors_are_made_as_github_makes_them(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text(
        "# The probe: unchanged sources\n\n## bench/daemon_memory.py\n\n```yaml\n# not a heading\n"
        "```\n\n## Twice\n\n## Twice\n"
    )
    assert anchors(doc) == {
        "the-probe-unchanged-sources",
        "benchdaemon_memorypy",
        "twice",
        "twice-1",
    }
