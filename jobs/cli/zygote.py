"""The crawl zygote itself: `python -m jobs.cli.zygote`, started by the daemon's Zygote
(jobs/zygote.py, which describes both sides). It runs the CLI in each child it forks, so it
lives with the CLI."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import select
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from crawler.extract import warm_up
from crawler.language import identifier
from crawler.lifeline import PARENT_ENV, die_with_parent
from crawler.pool import extract_inline
from jobs.cli import main

# What a crawl child would import, loaded once here; the extraction stack too, since the child
# extracts small batches itself.
PRELOAD = [
    "jobs.cli.crawl",
    "jobs.crawl",
    "scrapy.crawler",
    "crawler.runner",
    "crawler.spiders",
    "crawler.worker",
    "trafilatura",
    "numpy",
]
# A child extracts in its own process until one discovery lists more pages than this.
INLINE_PAGES = 20


def serve() -> None:
    parent = os.environ.get(PARENT_ENV, "")
    die_with_parent(int(parent) if parent.isdigit() else None)
    for name in PRELOAD:
        importlib.import_module(name)
    identifier()
    warm_up()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up fd is written
    signal.set_wakeup_fd(wake_write)
    children: set[int] = set()
    pending, closing = b"", False
    while not closing or children:
        watched = [wake_read] if closing else [0, wake_read]
        ready, _, _ = select.select(watched, [], [])
        if wake_read in ready:
            os.read(wake_read, 4096)
        _reap(children)
        if 0 not in ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            closing = True
            continue
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                request = json.loads(line)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(request, (wake_read, wake_write))
                children.add(pid)
                _reply({"pid": pid})


def _reap(children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)
        _reply({"exited": pid, "returncode": os.waitstatus_to_exitcode(status)})


def _reply(message: Mapping[str, Any]) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def _child(request: Mapping[str, Any], own_fds: Sequence[int]) -> NoReturn:
    code = 1
    try:
        zygote = os.getppid()
        os.setsid()  # its own session and group: killed as one at run_timeout
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in own_fds:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        for fd, target in ((null, 0), (null, 1), (stderr, 2)):
            os.dup2(fd, target)
        os.close(null)
        os.close(stderr)
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[PARENT_ENV] = str(zygote)  # whom its lifeline watches
        extract_inline(INLINE_PAGES)
        main.main(args=list(request["argv"]), prog_name="newsmon")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported on its stderr, as a crashed process would
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve()
