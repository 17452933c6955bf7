"""CPU of a whole process tree, for the benches (Linux).

A crawl's fork server and its extraction workers are not children of the process a bench
starts, so timing that process alone misses them. A bench becomes a child subreaper: orphans of
the tree are re-parented to it, and their CPU is counted once they are reaped. For processes
still alive, /proc gives their CPU and what they reaped themselves.
"""

from __future__ import annotations

import ctypes
import os
import resource
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
TICKS = os.sysconf("SC_CLK_TCK")


def become_subreaper() -> bool:
    """Orphans of this process's tree come back to it (so their CPU counts when reaped)."""
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def reap_orphans(keep: int = -1, timeout: float = 0.0) -> None:
    """Reap exited children except `keep` (one a Popen waits for); with `timeout`, wait that
    long for the rest (a fork server and its workers) to exit."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == keep:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)
            continue
        os.waitpid(info.si_pid, 0)


def proc_table() -> dict[int, tuple[int, float, float]]:
    """pid -> (parent pid, its own CPU seconds, those of the children it reaped), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        own = (int(fields[11]) + int(fields[12])) / TICKS
        reaped = (int(fields[13]) + int(fields[14])) / TICKS
        table[int(entry.name)] = (int(fields[1]), own, reaped)
    return table


def descendants(
    root: int | None = None, table: dict[int, tuple[int, float, float]] | None = None
) -> list[int]:
    """Live processes below `root` (default: this process)."""
    table = proc_table() if table is None else table
    root = os.getpid() if root is None else root
    found = []
    for pid in table:
        ancestor = table[pid][0]
        while ancestor > 1 and ancestor != root:
            ancestor = table.get(ancestor, (1, 0.0, 0.0))[0]
        if ancestor == root:
            found.append(pid)
    return found


def own_cpu(root: int) -> dict[int, float]:
    """Own CPU seconds of `root` and each live descendant, by pid. Without what each reaped, so
    that samples taken over time can be merged by pid without counting an exited one twice."""
    table = proc_table()
    return {pid: table[pid][1] for pid in [root, *descendants(root, table)] if pid in table}


def tree_cpu(root: int | None = None) -> float:
    """CPU seconds of `root` and everything below it, live or gone. Default root: this
    process's children (reaped ones through getrusage, which includes what they reaped)."""
    table = proc_table()
    live = sum(table[pid][1] + table[pid][2] for pid in descendants(root, table))
    if root is not None:
        _, own, reaped = table.get(root, (0, 0.0, 0.0))
        return own + reaped + live
    gone = resource.getrusage(resource.RUSAGE_CHILDREN)
    return gone.ru_utime + gone.ru_stime + live
