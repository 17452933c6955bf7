"""crawler/config/file.py: the `database` that read-only commands take from a config file."""

import pytest

from crawler.config.file import DATABASE_ENV, ConfigError, database_url
from crawler.config.load import load_config

VALID = (
    "database: sqlite:///data/news.db\nsources:\n  - name: dawn\n    feed: https://dawn.example/\n"
)


def test_database_url_agrees_with_the_full_load(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(VALID)
    assert database_url(config) == load_config(config).database
    assert database_url(config) == f"sqlite:///{tmp_path / 'data' / 'news.db'}"


def test_the_default_database_is_next_to_the_config(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("sources: []\n")
    assert database_url(config) == f"sqlite:///{tmp_path / 'data' / 'newsmon.db'}"


def test_the_environment_overrides_the_file(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text("database: [not, a, url]\n")
    monkeypatch.setenv(DATABASE_ENV, "postgresql+psycopg://newsmon@db/newsmon")
    assert database_url(config) == "postgresql+psycopg://newsmon@db/newsmon"


def test_other_keys_are_neither_built_nor_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("UNSET_NEWSMON_TEST_VAR", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources: ${UNSET_NEWSMON_TEST_VAR}\nsources: again\ndatabase: sqlite:////tmp/x.db\n"
    )
    assert database_url(config) == "sqlite:////tmp/x.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "database: a\ndatabase: b\n",
            ":2: database: duplicate key 'database' (first given at line 1)",
        ),
        ("\ndatabase: ${UNSET_NEWSMON_TEST_VAR}\n", ":2: database: environment variable"),
        ("database: nope\n", ":1: database: not a database URL"),
        ("- database\n", ":1: the top level must be a mapping"),
    ],
)
def test_problems_with_the_database_name_its_line(tmp_path, monkeypatch, text, message):
    monkeypatch.delenv("UNSET_NEWSMON_TEST_VAR", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as raised:
        database_url(config)
    assert str(raised.value).startswith(f"{config}{message}")
