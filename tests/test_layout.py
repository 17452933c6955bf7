"""Test files mirror module paths: tests/crawler/test_urls.py tests crawler/urls.py, and
tests/jobs/test_crawl_cron.py (a module name, then an aspect) tests jobs/crawl.py."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("crawler", "jobs", "storage")


def mirrored_module(test_file: Path) -> Path | None:
    """The module or package of the tested tree that `test_file` mirrors, if there is one."""
    relative = test_file.relative_to(REPO / "tests")
    folder = REPO / relative.parent
    parts = test_file.stem.removeprefix("test_").split("_")
    for end in range(len(parts), 0, -1):
        name = "_".join(parts[:end])
        for candidate in (folder / f"{name}.py", folder / name / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def test_every_test_file_mirrors_a_module() -> None:
    test_files = [
        path for package in PACKAGES for path in (REPO / "tests" / package).rglob("test_*.py")
    ]
    assert len(test_files) > 40
    strays = [str(path.relative_to(REPO)) for path in test_files if not mirrored_module(path)]
    assert strays == [], "name each test file after the module it tests: " + ", ".join(strays)


def test_the_mirror_finds_the_module_before_the_aspect() -> None:
    tests = REPO / "tests"
    assert mirrored_module(tests / "jobs" / "test_crawl_cron.py") == REPO / "jobs" / "crawl.py"
    assert mirrored_module(tests / "storage" / "test_search_syntax.py") == (
        REPO / "storage" / "search_syntax.py"
    )
    assert mirrored_module(tests / "crawler" / "test_no_such_module.py") is None
