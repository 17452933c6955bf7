"""The registry of discovery modes: the built-in ones, and a toy mode registered by a test."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import Field

from crawler.config.fields import HttpUrlText
from crawler.config.file import ConfigError
from crawler.config.load import load_config
from crawler.config.models import Config, Source, config_model
from crawler.config.modes import MODES, DiscoveryMode, ModeOptions, either, register

REPO = Path(__file__).resolve().parents[3]


class ToyOptions(ModeOptions):
    """A mode as a plugin would add one: its URL key and an option of its own."""

    toy: HttpUrlText | None = None
    depth: int = Field(2, ge=1, le=5)


class ToySpider:  # stands in for a SourceSpider subclass: the registry only names it
    pass


@pytest.fixture
def toy_mode() -> Iterator[DiscoveryMode]:
    mode = register(DiscoveryMode("toy", ToyOptions, f"{__name__}:ToySpider"))
    try:
        yield mode
    finally:
        del MODES["toy"]


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path)


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_the_built_in_modes_name_their_spiders() -> None:
    from crawler.spiders.base import SourceSpider

    assert list(MODES) == ["feed", "sitemap", "listing"]
    for name, mode in MODES.items():
        assert issubclass(mode.spider_class(), SourceSpider)
        assert name in mode.options.model_fields  # the URL key is the mode's name
        assert set(mode.options.model_fields) <= set(Source.model_fields)
    assert config_model() is Config  # no extra model while only the built-in modes exist


def test_a_registered_mode_validates_a_config_using_it(
    tmp_path: Path, toy_mode: DiscoveryMode
) -> None:
    config = load(
        tmp_path,
        """\
        sources:
          - name: toys
            toy: https://user:secret@toys.test/start
            depth: 4
          - name: news
            feed: https://news.test/feed
        """,
    )
    toys, news = config.sources
    assert isinstance(toys, Source)  # everything that takes a Source takes it
    assert (toys.mode, toys.url, toys.credentials) == (
        "toy",
        "https://toys.test/start",
        ("user", "secret"),
    )
    assert toys.depth == 4  # type: ignore[attr-defined]
    assert news.mode == "feed" and news.depth == 2  # type: ignore[attr-defined]
    assert MODES[toys.mode].spider_class() is ToySpider


def test_a_registered_mode_keeps_the_config_errors(tmp_path: Path, toy_mode: DiscoveryMode) -> None:
    two_modes = error(
        tmp_path,
        """\
        sources:
          - name: a
            feed: https://a.test/feed
            toy: https://a.test/toys
        """,
    )
    assert two_modes.endswith(
        ":2: sources[0]: source 'a' needs exactly one of feed, sitemap, listing or toy "
        "(found: feed, toy)"
    )
    foreign = error(
        tmp_path,
        """\
        sources:
          - name: a
            feed: https://a.test/feed
            depth: 3
        """,
    )
    assert foreign.endswith(":2: sources[0]: depth only apply to a toy source")
    bad_option = error(tmp_path, "sources:\n  - name: a\n    toy: https://a.test/\n    depth: 9\n")
    assert ":4: sources[0].depth: Input should be less than or equal to 5" in bad_option
    unknown = error(tmp_path, "sources:\n  - name: a\n    toy: https://a.test/\n    dept: 3\n")
    assert ":4: sources[0].dept: unknown key 'dept'; did you mean 'depth'?" in unknown
    assert "toy, depth" in unknown  # the allowed keys include the mode's own


def test_without_the_mode_its_key_is_unknown_again(tmp_path: Path) -> None:
    message = error(tmp_path, "sources:\n  - name: a\n    toy: https://a.test/\n")
    assert ":3: sources[0].toy: unknown key 'toy'" in message


def test_registering_checks_the_mode() -> None:
    with pytest.raises(ValueError, match="'feed' is registered already"):
        register(DiscoveryMode("feed", ToyOptions, f"{__name__}:ToySpider"))
    with pytest.raises(ValueError, match="ToyOptions needs the URL field 'other'"):
        register(DiscoveryMode("other", ToyOptions, f"{__name__}:ToySpider"))
    assert "other" not in MODES


def test_either_lists_modes_as_a_sentence() -> None:
    assert either(["feed"]) == "feed"
    assert either(["feed", "sitemap"]) == "feed or sitemap"
    assert either(["feed", "sitemap", "listing"]) == "feed, sitemap or listing"


def test_loading_a_config_imports_no_spider(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("sources:\n  - name: a\n    listing: https://a.test/\n", encoding="utf-8")
    code = (
        "import sys; from crawler.config.load import load_config; "
        f"load_config({str(path)!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted')"
        " or m.startswith('crawler.spiders')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
