"""The filter table drives the query, the CLI options, the API parameters and the search form:
all four name the same filters, and one filter gives the same rows through each."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.cli.query import export, items, stats
from jobs.web.app import TEMPLATES, create_app
from storage.filters import FILTERS, VIEW_FIELDS, ItemQuery
from storage.search import iter_items
from tests.services import newsmon_engine
from tests.storage.seed import seeded_store

FILTER_NAMES = [item_filter.name for item_filter in FILTERS]

# One value per filter, as the query takes it and as the CLI and the web send it.
SAMPLES: dict[str, tuple[object, str]] = {
    "search": ("relat*", "relat*"),
    "keyword": ("Pakistan-US", "Pakistan-US"),
    "source": ("mofa", "mofa"),
    "since": (datetime(2025, 7, 20, tzinfo=UTC), "2025-07-20"),
    "until": (datetime(2025, 7, 20, tzinfo=UTC), "2025-07-20"),
    "date_field": ("fetched", "fetched"),
    "language": ("ur", "ur"),
    "flagged": (True, "true"),
    "has_duplicates": (True, "true"),
    "access": ("paid", "paid"),
}


def test_every_item_query_field_is_a_filter_or_shapes_the_page() -> None:
    assert sorted(field.name for field in fields(ItemQuery)) == sorted(
        [*FILTER_NAMES, *VIEW_FIELDS]
    )
    assert sorted(SAMPLES) == sorted(FILTER_NAMES)


@pytest.mark.parametrize("command", [items, export, stats], ids=lambda command: command.name)
def test_the_query_commands_have_one_option_per_filter(command: click.Command) -> None:
    options = {param.name: param for param in command.params if isinstance(param, click.Option)}
    for item_filter in FILTERS:
        option = options[item_filter.name]
        assert option.opts == [item_filter.option]
        assert option.help == item_filter.help
        assert option.is_flag == (item_filter.kind == "flag")


def test_the_api_has_one_parameter_per_filter() -> None:
    app = create_app(newsmon_engine("sqlite://"))
    operation = app.openapi()["paths"]["/api/items"]["get"]
    parameters = [parameter["name"] for parameter in operation["parameters"]]
    assert parameters == [*(f.parameter for f in FILTERS), "sort", "limit", "cursor"]


def test_the_search_form_sends_the_filters_it_shows() -> None:
    template = (Path(TEMPLATES) / "search.html").read_text()
    shown = set(re.findall(r'name="([a-z_]+)"', template))
    assert shown == {f.parameter for f in FILTERS if f.on_search_page}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config, _ids = seeded_store(tmp_path_factory.mktemp("filters"))
    return config


def _through_query(config: Path, name: str | None) -> list[int]:
    """The ids of the items the sample of filter `name` selects (None: every item)."""
    query: dict[str, object] = {name: SAMPLES[name][0]} if name else {}
    if name == "date_field":
        query["since"] = SAMPLES["since"][0]
    engine = newsmon_engine(f"sqlite:///{config.parent / 'newsmon.db'}")
    try:
        return [hit.item.id for hit in iter_items(engine, ItemQuery(**query))]
    finally:
        engine.dispose()


def _through_cli(config: Path, name: str) -> list[int]:
    item_filter = next(f for f in FILTERS if f.name == name)
    _value, text = SAMPLES[name]
    argv = [item_filter.option] if item_filter.kind == "flag" else [item_filter.option, text]
    if name == "date_field":
        argv += ["--since", SAMPLES["since"][1]]
    result = CliRunner().invoke(
        main, ["--config", str(config), "items", "--format", "jsonl", "--limit", "1000", *argv]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


def _through_web(config: Path, name: str) -> list[int]:
    item_filter = next(f for f in FILTERS if f.name == name)
    params = {item_filter.parameter: SAMPLES[name][1], "limit": "200"}
    if name == "date_field":
        params["since"] = SAMPLES["since"][1]
    engine = newsmon_engine(f"sqlite:///{config.parent / 'newsmon.db'}")

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get("/api/items", params=params)

    try:
        response = asyncio.run(go())
    finally:
        engine.dispose()
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_one_filter_gives_the_same_rows_through_query_cli_and_web(store: Path, name: str) -> None:
    rows = _through_query(store, name)
    assert rows, f"the sample for {name} should select some items"
    if name != "date_field":  # it only steers since/until
        assert len(rows) < len(_through_query(store, None)), f"{name} should leave items out"
    assert _through_cli(store, name) == rows
    assert _through_web(store, name) == rows
