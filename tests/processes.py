"""The processes a test started and what is left of them, read from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def _live() -> list[tuple[int, list[str]]]:
    """(pid, fields after the command name) of every live process; zombies left out."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session …; comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            found.append((int(entry.name), fields))
    return found


def session_members(session: int) -> list[int]:
    """Live processes of session `session` (a child started with start_new_session=True and
    everything it started, pool processes included)."""
    return [pid for pid, fields in _live() if int(fields[3]) == session]


def children_of(parent: int) -> list[int]:
    return [pid for pid, fields in _live() if int(fields[1]) == parent]


def wait_until_gone(session: int, timeout: float) -> list[int]:
    """Wait up to `timeout` for session `session` to have no live process; the survivors."""
    deadline = time.monotonic() + timeout
    while (alive := session_members(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def kill_session(session: int) -> None:
    """SIGKILL whatever is left of session `session`: a test leaves nothing behind."""
    for pid in session_members(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
