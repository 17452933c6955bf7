from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from storage.db import make_engine, prepare_for_writing
from tests.postgres import throwaway_database, throwaway_schema


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The same test against a real SQLite file and a real PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newsmon.db'}"
        return
    with throwaway_schema(request.getfixturevalue("postgres_database")) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A newsmon schema on that database."""
    engine = make_engine(database_url)
    prepare_for_writing(engine)
    yield engine
    engine.dispose()
