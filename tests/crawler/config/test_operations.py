"""The `alerts:` config: the digest shapes, env expansion and errors that name the line."""

from pathlib import Path

import pytest

from crawler.config.file import ConfigError
from crawler.config.load import load_config

BASE = """\
sources:
  - name: mofa
    feed: https://mofa.gov.pk/feed
keywords:
  - Pakistan-US
alerts:
  - name: desk
"""


def load(tmp_path: Path, alert: str):
    path = tmp_path / "config.yaml"
    path.write_text(BASE + alert)
    return load_config(path)


@pytest.mark.parametrize(
    ("alert", "mode", "every"),
    [
        ("    url: json://h/x\n", "each", None),
        ("    url: json://h/x\n    mode: each\n", "each", None),
        ("    url: json://h/x\n    mode: {digest: {every: 2h}}\n", "digest", 7200),
        ("    url: json://h/x\n    mode: digest\n    digest: {every: 30m}\n", "digest", 1800),
        ("    url: json://h/x\n    digest: {every: 1d}\n", "digest", 86400),
        ("    url: json://h/x\n    mode: digest\n", "digest", 3600),
    ],
)
def test_alert_modes(tmp_path, alert, mode, every):
    [loaded] = load(tmp_path, alert).alerts
    assert loaded.mode == mode
    assert (loaded.digest.every if loaded.digest else None) == every
    assert loaded.keywords == []  # every rule


def test_on_says_what_a_channel_announces(tmp_path):
    config = load(
        tmp_path,
        "    url: json://h/x\n"
        "  - name: ops\n    url: json://h/y\n    on: [source_broken, source_recovered]\n"
        "  - name: both\n    url: json://h/z\n    on: [flagged, keyword_spike]\n",
    )
    assert [alert.on for alert in config.alerts] == [
        ["flagged"],
        ["source_broken", "source_recovered"],
        ["flagged", "keyword_spike"],
    ]
    assert [alert.name for alert in config.item_alerts()] == ["desk", "both"]


def test_the_url_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_HOOK", "slack://T000/B000/XXXX")
    [loaded] = load(tmp_path, "    url: ${DESK_HOOK}\n    keywords: [Pakistan-US]\n").alerts
    assert loaded.url == "slack://T000/B000/XXXX"


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        (
            "    url: json://h/x\n    keywords: [nope]\n",
            ":9: alerts[0].keywords[0]: unknown keyword 'nope'",
        ),
        (
            "    url: json://h/x\n    mode: each\n    digest: {every: 1h}\n",
            "digest settings need mode: digest",
        ),
        ("    url: json://h/x\n    mode: hourly\n", "alerts[0].mode"),
        ("    url: json://h/x\n    digest: {every: 10s}\n", "at least 1m"),
        ("    url: hooks.example.org/x\n", "Apprise URL"),
        ("    url: json://h/x\n    on: [flagged, flagged]\n", "each event once"),
        ("    url: json://h/x\n    on: [nonsense]\n", "alerts[0].on[0]"),
        ("    url: json://h/x\n    on: []\n", "alerts[0].on"),
        ("    url: ${NO_SUCH_HOOK}\n", "NO_SUCH_HOOK is not set"),
        (
            "    url: json://h/x\n  - name: desk\n    url: json://h/y\n",
            "duplicate alert name 'desk'",
        ),
    ],
)
def test_alert_errors_name_the_key(tmp_path, monkeypatch, alert, message):
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, alert)
    assert message in str(caught.value)
