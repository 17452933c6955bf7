"""Shared fixtures: the local sites, served on 127.0.0.1, and the databases and services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests import corpus
from tests.localsite import LocalSite
from tests.services import newsmon_engine, redis_url, throwaway_database, throwaway_schema


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on the session's PostgreSQL database carries the `postgres` marker."""
    for item in items:
        if "postgres_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def fixture_site() -> Iterator[LocalSite]:
    """The fixture site over the corpus (tests/corpus.py), shared by read-only tests."""
    with corpus.fixture_site() as site:
        yield site


@pytest.fixture(scope="session")
def demo_site() -> Iterator[LocalSite]:
    """jobs/demo_site alone, the site `newsmon demo` crawls."""
    with LocalSite(corpus.CORPUS_ROOT) as site:
        yield site


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database for this test session, dropped at its end."""
    with throwaway_database() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """An empty schema of the test's own in the session's PostgreSQL database."""
    with throwaway_schema(postgres_database) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test against a real SQLite file and a real PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newsmon.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The newsmon schema on that database."""
    engine = newsmon_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_broker() -> str:
    return redis_url()
