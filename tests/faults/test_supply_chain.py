"""What CI and the Docker image install (issue 14): floors past known advisories, and every
package pinned by version and hash in the lock files they install from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.jobs.helpers import REPO

fault = pytest.mark.fault
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCKS = {"dev": REPO / "requirements" / "dev.txt", "runtime": REPO / "requirements" / "runtime.txt"}
# Advisories the floors must be past: h11 request smuggling (CVE-2025-43859), the Jinja2
# sandbox escapes (CVE-2024-56201, CVE-2024-56326, CVE-2025-27516), Starlette's multipart
# denial of service (CVE-2024-47874, CVE-2025-54121) and Host header (CVE-2026-48710).
FLOORS = {"h11": "0.16", "jinja2": "3.1.6", "starlette": "1.0.1"}
PIN = re.compile(r"^([A-Za-z0-9_.\[\],-]+)==([^\s;\\]+)")


def declared() -> dict[str, Requirement]:
    """Every requirement pyproject.toml names, in any extra, by package name."""
    found: dict[str, Requirement] = {}
    groups = [
        PYPROJECT["project"]["dependencies"],
        *PYPROJECT["project"]["optional-dependencies"].values(),
    ]
    for group in groups:
        for text in group:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) != "newsmon":
                found[canonicalize_name(requirement.name)] = requirement
    return found


def pins(lock: Path) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) in a pip-compile --generate-hashes file."""
    found: dict[str, tuple[Version, int]] = {}
    name = None
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1).split("[", 1)[0])
            found[name] = (Version(match.group(2)), 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[name]
            found[name] = (version, hashes + 1)
    return found


@fault(
    "dependency floors",
    "h11 >= 0.16, jinja2 >= 3.1.6, starlette >= 1.0.1: no resolver may pick a version with "
    "the advisories",
)
def test_floors_are_past_the_known_advisories(observe):
    requirements = declared()
    observe(
        ", ".join(
            f"{name}{requirements[name].specifier}" for name in FLOORS if name in requirements
        )
    )
    for name, floor in FLOORS.items():
        assert name in requirements, f"{name} has no floor in pyproject.toml"
        lowest = [Version(s.version) for s in requirements[name].specifier if s.operator == ">="]
        assert lowest and max(lowest) >= Version(floor), f"{name}{requirements[name].specifier}"


@fault(
    "what CI and the image install",
    "every package pinned by version and sha256 in requirements/*.txt; CI and the Dockerfile "
    "install with --require-hashes",
)
def test_ci_and_the_image_install_from_hash_pinned_locks(observe):
    missing = [str(path.relative_to(REPO)) for path in LOCKS.values() if not path.exists()]
    assert not missing, f"no lock file: {missing}"
    dev, runtime = pins(LOCKS["dev"]), pins(LOCKS["runtime"])
    observe(f"dev lock: {len(dev)} packages; runtime lock: {len(runtime)} packages")
    unhashed = [name for lock in (dev, runtime) for name, (_, hashes) in lock.items() if not hashes]
    assert unhashed == []
    for name, requirement in declared().items():
        assert name in dev, f"{name} is not in the dev lock"
        assert requirement.specifier.contains(dev[name][0]), f"{name}: lock breaks {requirement}"
    for text in PYPROJECT["project"]["dependencies"]:
        assert canonicalize_name(Requirement(text).name) in runtime
    assert all(runtime[name][0] == dev[name][0] for name in runtime if name in dev)
    for lock in LOCKS.values():  # pip 23.2 resolves an extra apart from its package's pin
        text = lock.read_text()
        assert f"lxml[html_clean]=={dev['lxml'][0]} \\" in text, (
            f"{lock.name}: no lxml[html_clean] pin"
        )
    ci, dockerfile = (REPO / ".ci" / "run").read_text(), (REPO / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/dev.txt" in ci
    assert "--require-hashes -r requirements/runtime.txt" in dockerfile
    assert "--no-deps" in ci and "--no-deps" in dockerfile
