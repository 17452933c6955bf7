"""Running the real `newsmon` command against a config written for a local site."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from jobs.localsite import LocalSite

REPO = Path(__file__).resolve().parents[2]

KEYWORDS = """\
keywords:
  - Pakistan-US
  - name: us-pakistan
    terms: ["Pakistan-US", "US-Pakistan", "Pak-US"]
"""


def write_config(
    tmp_path: Path,
    site: LocalSite,
    sources: str,
    extra: str = "",
    database: str = "sqlite:///newsmon.db",
) -> Path:
    """A config.yaml in tmp_path crawling `sources` ({base} is the site's URL), politeness off."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {database}\n"
        'user_agent: "newsmon-tests/0.1"\n'
        "sources:\n" + sources.format(base=site.base_url) + "politeness:\n"
        "  delay: 0s\n  autothrottle: false\n  concurrency_per_host: 8\n  timeout: 10s\n  retries: 1\n"
        + KEYWORDS
        + extra
    )
    return config


def newsmon(
    config: Path | None, *args: str, timeout: float = 120, python_args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run `newsmon [--config CONFIG] ARGS` in a child process, as cron would."""
    command = [sys.executable, *python_args, "-m", "jobs.cli"]
    if config is not None:
        command += ["--config", str(config)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSMON_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )
