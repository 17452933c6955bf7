"""`newsmon items | export | stats` (jobs/cli/query.py) run as child processes; their outputs parse."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.jobs.helpers import REPO, newsmon
from tests.storage.seed import DAR_TITLE, FILLERS, seeded_store

TOTAL = FILLERS + 5


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A config and a seeded SQLite database next to it; returns (config path, ids)."""
    return seeded_store(tmp_path_factory.mktemp("cli"))


def next_cursor(stderr: str) -> str | None:
    lines = [line for line in stderr.splitlines() if line.startswith("next-cursor: ")]
    return lines[-1].removeprefix("next-cursor: ") if lines else None


def test_search_as_csv_pages_with_the_cursor(seeded):
    config, ids = seeded
    first = newsmon(config, "items", "--search", "relat*", "--format", "csv", "--limit", "3")
    assert first.returncode == 0, first.stderr
    rows = list(csv.DictReader(io.StringIO(first.stdout)))
    assert [row["id"] for row in rows][0] == str(ids["dar"])
    assert "»relationship«" in rows[0]["snippet"] or "»stable" in rows[0]["snippet"]
    assert rows[0]["title"] == DAR_TITLE and rows[0]["keywords"] == "Pakistan-US"
    cursor = next_cursor(first.stderr)
    assert cursor
    rest = newsmon(
        config, "items", "--search", "relat*", "--format", "csv", "--limit", "3", "--cursor", cursor
    )
    assert rest.returncode == 0, rest.stderr
    more = list(csv.DictReader(io.StringIO(rest.stdout)))
    assert len(rows) + len(more) == 5  # dar, dar_copy, xss, cricket, urdu
    assert {row["id"] for row in rows}.isdisjoint(row["id"] for row in more)
    assert next_cursor(rest.stderr) is None


def test_json_and_jsonl_with_chosen_fields(seeded):
    config, ids = seeded
    result = newsmon(config, "items", "--flagged", "--format", "json", "--fields", "id,title,text")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {row["id"] for row in rows} == {ids["dar"], ids["dar_copy"]}
    assert all(set(row) == {"id", "title", "text"} for row in rows)
    lines = newsmon(config, "items", "--language", "ur", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [ids["urdu"]]
    assert json.loads(lines[0])["language"] == "ur"


def test_malformed_search_exits_2_with_one_line(seeded):
    config, _ = seeded
    result = newsmon(config, "items", "--search", '"stable relationship')
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "newsmon: search syntax: unbalanced quote: the phrase opened at character 1 is not closed"
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_writes_every_matching_item(seeded, tmp_path, fmt):
    config, _ = seeded
    out = tmp_path / f"items.{fmt}"
    result = newsmon(config, "export", "--format", fmt, "--out", str(out), "--source", "dawn")
    assert result.returncode == 0, result.stderr
    expected = 3 + FILLERS // 2
    assert f"exported {expected} items" in result.stderr
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert all(row["source"] == "dawn" and row["text"] for row in rows)
    elif fmt == "csv":
        with out.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert all(row["source"] == "dawn" for row in rows) and "text" not in rows[0]
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(out)
        rows = table.to_pylist()
        assert table.schema.field("published_at").type.tz == "UTC"
        assert any(row["keywords"] == ["Pakistan-US"] for row in rows)
    assert len(rows) == expected
    assert len({row["id"] for row in rows}) == expected


def test_parquet_without_pyarrow_says_what_to_install(seeded, tmp_path, monkeypatch):
    from jobs.cli import main

    config, _ = seeded
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    result = CliRunner().invoke(
        main,
        ["--config", str(config), "export", "--format", "parquet", "--out", str(tmp_path / "x")],
    )
    assert result.exit_code == 1
    assert "pip install 'newsmon[parquet]'" in result.output


def test_stats_counts_per_source_keyword_and_day(seeded):
    config, _ = seeded
    result = newsmon(config, "stats", "--format", "json", "--days", "3650")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["total"] == TOTAL and stats["flagged"] == 2
    assert {row["name"]: row["items"] for row in stats["sources"]} == {
        "dawn": 3 + FILLERS // 2,
        "mofa": 2 + FILLERS // 2,
    }
    assert stats["keywords"] == [{"keyword": "Pakistan-US", "items": 2}]
    assert sum(day["items"] for day in stats["days"]) == TOTAL
    table = newsmon(config, "stats")
    assert "per source:" in table.stdout and "Pakistan-US" in table.stdout


def test_items_imports_neither_the_orm_nor_pydantic_nor_the_crawler(seeded):
    config, _ = seeded
    # -X importtime lists every module the process imported, on stderr.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "jobs.cli", "--config", str(config)]
        + ["items", "--limit", "20", "--since", "3650d"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-500:]
    imported = {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    packages = {name.split(".")[0] for name in imported}
    assert "sqlalchemy" in packages  # the listing really ran
    assert not packages & {"pydantic", "scrapy", "twisted", "trafilatura", "fastapi", "pyarrow"}
    assert not {name for name in imported if name.startswith("sqlalchemy.orm")}
    # Only crawler/config/file.py (no pydantic) of the config layer: the models are not loaded.
    config_models = {"crawler.config.models", "crawler.config.load"}
    assert not imported & {*config_models, "storage.models", "storage.queries"}


def test_items_reads_only_the_database_of_a_config_being_edited(seeded):
    shipped, ids = seeded
    config = shipped.parent / "editing.yaml"  # the same relative database
    config.write_text(
        "database: sqlite:///newsmon.db\n"
        "sources:\n  - name: Not Valid\n    feed: nope\n    feeed: typo\n"
        "alerts:\n  - name: ops\n    url: json://${UNSET_NEWSMON_TEST_TOKEN}\n"
    )
    listed = newsmon(config, "items", "--format", "jsonl", "--limit", "1")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["id"] == ids["dar_copy"]  # the newest
    shown = newsmon(config, "show", str(ids["dar"]))
    assert shown.returncode == 0 and DAR_TITLE in shown.stdout
    check = newsmon(config, "check")
    assert check.returncode == 2
    assert f"{config}:8: alerts[0].url: environment variable" in check.stderr


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ("not a url", "database: not a database URL"),
        ("", "database: expected a database URL, found null"),
        ("[1, 2]", "database: expected a database URL, found a list"),
    ],
)
def test_a_bad_database_stops_items_with_exit_2_naming_the_line(tmp_path, database, message):
    config = tmp_path / "config.yaml"
    config.write_text(f"# newsmon\nsources: []\ndatabase: {database}\n")
    result = newsmon(config, "items")
    assert result.returncode == 2
    assert result.stderr.startswith(f"newsmon: {config}:3: {message}"), result.stderr
    assert "Traceback" not in result.stderr


def test_broken_yaml_stops_items_with_exit_2_naming_the_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("database: sqlite:///x.db\nsources:\n  - name: [unclosed\n")
    result = newsmon(config, "items")
    assert result.returncode == 2
    assert result.stderr.startswith(f"newsmon: {config}:4: YAML syntax error"), result.stderr
