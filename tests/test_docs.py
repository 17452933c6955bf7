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

import click
import pytest
import yaml
from click.testing import CliRunner

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
