"""Running the real `newsmon` command against a config written for a local site."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.localsite import LocalSite

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
    config: Path | None,
    *args: str,
    timeout: float = 120,
    python_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `newsmon [--config CONFIG] ARGS` in a child process, as cron would (with `env` set
    besides the test's environment, less its NEWSMON_ variables)."""
    command = [sys.executable, *python_args, "-m", "jobs.cli"]
    if config is not None:
        command += ["--config", str(config)]
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSMON_")}
    child_env.update(env or {}, PYTHONPATH=str(REPO))
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=child_env
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(config: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[int]:
    """`newsmon serve ARGS` in a child process on a free port; yields the port once it listens."""
    port = free_port()
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSMON_")}
    child_env.update(env or {}, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "jobs.cli", "--config", str(config), "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port), *args],
        cwd=REPO,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    output = server.communicate()[0]
                    raise RuntimeError(f"newsmon serve did not start: {output}") from None
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.communicate(timeout=10)
