"""The fault-injection suite as a table: fault, expected behaviour, observed behaviour, pass/fail.

Runs tests/faults (real `newsmon crawl`s against the local fault server) and reads back what
each test recorded. A fault the code does not handle yet shows as FAIL with the assertion that
failed as its observation; it is never dropped from the table.

    python bench/faults.py            # about a minute on 2 cores
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_suite(report: Path) -> int:
    return subprocess.call(
        [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider",
         f"--junitxml={report}", "-o", "junit_family=xunit1"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def rows(report: Path) -> list[tuple[str, str, str, str]]:
    found = []
    for case in ET.parse(report).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value", "") for p in case.iter("property")}
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        name = case.get("name", "")
        param = name[name.index("[") :] if "[" in name else ""
        fault = props.get("fault", name.removeprefix("test_").replace("_", " ")) + param
        observed = props.get("observed", "")
        if problem is not None:
            message = (problem.get("message") or problem.text or "").strip().splitlines()
            observed = f"{observed} | {message[0] if message else 'failed'}".strip(" |")
        verdict = (
            "SKIP"
            if case.find("skipped") is not None
            else "FAIL"
            if problem is not None
            else "pass"
        )
        found.append((fault, props.get("expected", ""), observed, verdict))
    return found


def table(found: list[tuple[str, str, str, str]]) -> str:
    widths = (34, 52, 60, 4)
    header = ("fault", "expected", "observed", "")
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for row in found:
        wrapped = [textwrap.wrap(cell, w) or [""] for cell, w in zip(row, widths, strict=True)]
        for i in range(max(map(len, wrapped))):
            cells = [
                (col[i] if i < len(col) else "").ljust(w)
                for col, w in zip(wrapped, widths, strict=True)
            ]
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "faults.xml"
        code = run_suite(report)
        found = rows(report)
    print(table(found))
    failed = sum(1 for *_, verdict in found if verdict == "FAIL")
    print(f"\n{len(found) - failed}/{len(found)} fault scenarios pass")
    return 1 if failed or code not in (0, 1) else 0


if __name__ == "__main__":
    sys.exit(main())
