"""Starting `newsmon` as a child process the fault tests can watch, signal or rig.

Unlike tests/jobs/helpers.newsmon this returns the running process, passes NEWSMON_* variables
through, and can import a hook module in the child first (a failing disk, say).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.jobs.helpers import REPO

BOOT = (
    "import importlib, runpy, sys\n"
    "hook = sys.argv.pop(1)\n"
    "if hook: importlib.import_module(hook).install()\n"
    "sys.argv[0] = 'newsmon'\n"
    "runpy.run_module('jobs.cli', run_name='__main__')\n"
)


def start_newsmon(
    config: Path, *args: str, env: dict[str, str] | None = None, hook: str = ""
) -> subprocess.Popen[str]:
    """`newsmon --config CONFIG ARGS` in its own session (so it can be killed as a group)."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    child_env.update(env or {}, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-c", BOOT, hook, "--config", str(config), *args],
        cwd=REPO,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run_newsmon(
    config: Path,
    *args: str,
    env: dict[str, str] | None = None,
    hook: str = "",
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`start_newsmon` to the end; a child still running after `timeout` is killed, group and all."""
    child = start_newsmon(config, *args, env=env, hook=hook)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        raise AssertionError(
            f"newsmon {' '.join(args)} ran over {timeout:g}s:\n{err[-3000:]}"
        ) from None
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)
