#!/usr/bin/env python3
"""mypy --strict over crawler, jobs and storage, against a baseline that may only shrink.

The baseline (.ci/mypy-baseline.txt) lists the errors the code had when strict mode came in,
without line numbers, so moving code does not disturb it. A new error fails; so does a
baseline entry that no longer occurs (delete it: the baseline shrinks). `--update` rewrites
the baseline from the current errors.

    .venv/bin/python .ci/mypy_baseline.py [--update]
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / ".ci" / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+(?::\d+)?: error: (?P<message>.*)$")


def current_errors() -> Counter[str]:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "crawler", "jobs", "storage"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.exit(result.stdout + result.stderr)
    errors: Counter[str] = Counter()
    for line in result.stdout.splitlines():
        if match := ERROR.match(line):
            errors[f"{match['path']}: {match['message']}"] += 1
    return errors


def main() -> int:
    errors = current_errors()
    if "--update" in sys.argv[1:]:
        BASELINE.write_text("".join(f"{e}\n" for e in sorted(errors.elements())))
        print(f"mypy baseline: {sum(errors.values())} errors written to {BASELINE.name}")
        return 0
    baseline = Counter(BASELINE.read_text().splitlines()) if BASELINE.exists() else Counter()
    new, gone = errors - baseline, baseline - errors
    for error in sorted(new.elements()):
        print(f"new mypy error: {error}")
    for error in sorted(gone.elements()):
        print(f"fixed, delete from {BASELINE.name}: {error}")
    if new or gone:
        return 1
    print(f"mypy --strict: {sum(errors.values())} errors, each in the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
