"""Fault-suite fixtures: the fault sites, one shared crawl over every HTTP scenario, and
`observe()`, which records what a test saw so bench/faults.py can print it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.scenarios import Sites, install
from tests.faults.server import FaultSite
from tests.jobs.helpers import newsmon, write_config
from tests.services import rows


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault(name, expected): the fault a test injects and the behaviour it expects"
    )


@pytest.fixture(autouse=True)
def _describe_fault(request: pytest.FixtureRequest, record_property: Callable) -> None:
    marker = request.node.get_closest_marker("fault")
    if marker is not None:
        record_property("fault", marker.args[0])
        record_property("expected", marker.args[1])


@pytest.fixture
def observe(record_property: Callable) -> Callable[[str], None]:
    """observe("http_500=1 hits=2"): what the test saw, for the bench table."""
    return lambda text: record_property("observed", text)


@dataclass
class Run:
    """What one source's crawl recorded."""

    status: str
    pages: int
    new_items: int
    skipped: int
    errors: int
    error_kinds: dict[str, int]
    error_text: str | None

    def summary(self) -> str:
        kinds = " ".join(f"{k}={v}" for k, v in sorted(self.error_kinds.items()))
        return f"{self.status} pages={self.pages} new={self.new_items} skipped={self.skipped} {kinds}".strip()


@dataclass
class Crawl:
    sites: Sites
    db: Path
    stdout: str
    stderr: str
    returncode: int
    seconds: float

    def run(self, source: str) -> Run:
        import json

        [(status, pages, new, skipped, errors, kinds, text)] = rows(
            self.db,
            "select r.status, r.pages, r.new_items, r.skipped, r.errors, r.error_kinds,"
            " r.error_text from crawl_runs r join sources s on s.id = r.source_id"
            " where s.name = ?",
            source,
        )
        return Run(status, pages, new, skipped, errors, json.loads(kinds or "{}"), text)

    def items(self, source: str) -> list[tuple[str, str]]:
        """(url, text) of the items stored for `source`."""
        return rows(
            self.db,
            "select i.url, i.text from items i join sources s on s.id = i.source_id"
            " where s.name = ? order by i.url",
            source,
        )


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    started = [
        FaultSite().start(),
        FaultSite("127.0.0.2").start(),
        FaultSite("127.0.0.3").start(),
        FaultSite().start(),
        FaultSite().start(),
    ]
    try:
        yield Sites(*started)
    finally:
        for site in started:
            site.stop()


@pytest.fixture(scope="module")
def crawl(sites: Sites, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """One `newsmon crawl` over every HTTP scenario, one source each (about 5 s)."""
    tmp = tmp_path_factory.mktemp("faults")
    sources = install(sites).replace("{", "{{").replace("}", "}}")
    config = write_config(tmp, sites.main, sources)
    started = time.monotonic()
    result = newsmon(config, "crawl", timeout=120)
    return Crawl(
        sites,
        tmp / "newsmon.db",
        result.stdout,
        result.stderr,
        result.returncode,
        time.monotonic() - started,
    )
