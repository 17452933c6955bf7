"""Config fuzzing through the CLI: whatever the file holds, `newsmon` exits 0 or 2 with a
message, never a traceback. (tests/crawler/config/test_load.py fuzzes load_config itself.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.cli import main
from tests.crawler.config.test_load import YAMLISH
from tests.jobs.helpers import newsmon

fault = pytest.mark.fault

VALID = """\
database: sqlite:///x.db
sources:
  - name: a
    feed: https://example.org/feed
keywords: [Pakistan-US]
"""


def mutations(text: str) -> st.SearchStrategy[str]:
    """The valid config with one slice replaced: near-misses the loader must explain."""
    return st.tuples(st.integers(0, len(text)), st.integers(0, 12), st.text(max_size=12)).map(
        lambda t: text[: t[0]] + t[2] + text[t[0] + t[1] :]
    )


CONFIG_BYTES = (
    st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | mutations(VALID).map(str.encode)
    | YAMLISH.map(lambda data: yaml.safe_dump(data, allow_unicode=True).encode())
)


@fault("config fuzzing", "any config file: exit 0 or 2 with a message, never a traceback")
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=CONFIG_BYTES)
def test_the_cli_never_shows_a_traceback_for_any_config(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["--config", str(path), "check"])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 2:
        assert result.stderr.startswith("newsmon: ") and "Traceback" not in result.stderr


NASTY = {
    "binary": b"\x00\xff\xfe garbage \x80\x81",
    "invalid utf-8": b"sources:\n  - name: \xff\xfe\n    feed: https://e.org/\n",
    "alias bomb": (
        b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        b"sources: *f\n"
    ),
    "deep nesting": b"sources: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "python tag": b"sources: !!python/object/apply:os.system ['true']\n",
    "huge number": b"politeness:\n  retries: " + b"9" * 5000 + b"\n",
}


@fault(
    "hostile config files", "binary, bad UTF-8, alias bomb, deep nesting, python tags: exit 2 fast"
)
@pytest.mark.parametrize("name", NASTY)
def test_hostile_config_files_exit_2_through_the_real_cli(tmp_path, observe, name):
    path = tmp_path / "config.yaml"
    path.write_bytes(NASTY[name])
    result = newsmon(path, "crawl", timeout=30)
    message = result.stderr.strip().splitlines()[0].split("config.yaml", 1)[-1]
    observe(f"{name}: exit {result.returncode}: {message[:70]}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("newsmon: ")
