"""A warm parent for the daemon's crawl children.

Each crawl child used to start from nothing: Python, newsmon, Scrapy, then an extraction pool
that loads trafilatura again, about 2 s of CPU before its first request. The zygote
(`python -m jobs.zygote`, started by the daemon) loads all of it once, single-threaded, and
forks one child per batch, which extracts in its own process (crawler/pool.py extract_inline)
and starts a pool only for a large crawl. Each child is still its own process
in its own session, killed as a group at run_timeout, as before; it dies with the zygote
(crawler/lifeline.py), and the zygote dies with the daemon.

One JSON line each way: a request `{"argv": [...], "env": {...}, "stderr": path}` is answered
`{"pid": N}` once forked, and `{"exited": N, "returncode": R}` when the child ends (R < 0: killed
by signal -R). At the end of its input the zygote waits for its children, then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import select
import signal
import sys
import traceback
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from crawler.lifeline import PARENT_ENV, die_with_parent

# What a crawl child would import, loaded once here; the extraction stack too, since the child
# extracts small batches itself.
PRELOAD = [
    "jobs.cli",
    "jobs.cli.crawl",
    "jobs.crawl",
    "scrapy.crawler",
    "crawler.runner",
    "crawler.spiders",
    "crawler.worker",
    "crawler.language",
    "trafilatura",
    "numpy",
]
# A child extracts in its own process until one discovery lists more pages than this.
INLINE_PAGES = 20
# A fork is answered in milliseconds; a zygote silent this long is stuck and is replaced.
FORK_TIMEOUT_S = 30.0


# --- the zygote ----------------------------------------------------------------------------


def serve() -> None:
    parent = os.environ.get(PARENT_ENV, "")
    die_with_parent(int(parent) if parent.isdigit() else None)
    for name in PRELOAD:
        importlib.import_module(name)
    from crawler.extract import warm_up
    from crawler.language import identifier

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
        from crawler.pool import extract_inline
        from jobs.cli import main

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


# --- the daemon's side ---------------------------------------------------------------------


class Forked:
    """A child the zygote forked: what the daemon reads of an asyncio subprocess."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._exited = asyncio.Event()

    def exited(self, returncode: int) -> None:
        self.returncode = returncode
        self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode


class Zygote:
    """The daemon's zygote, started on first use and again after it died."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None
        self.forking: deque[asyncio.Future[Forked]] = deque()
        self.children: dict[int, Forked] = {}
        self.lock = asyncio.Lock()

    async def spawn(self, argv: Sequence[str], env: Mapping[str, str], stderr: str) -> Forked:
        """Fork a child that runs `newsmon ARGV` with `env`, its stderr appended to `stderr`.
        Raises RuntimeError when the zygote is gone or does not answer."""
        async with self.lock:  # requests and their replies in one order
            process = await self._running(env)
            assert process.stdin is not None
            forked = asyncio.get_running_loop().create_future()
            self.forking.append(forked)
            request = {"argv": list(argv), "env": dict(env), "stderr": stderr}
            try:
                process.stdin.write(json.dumps(request).encode() + b"\n")
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as error:
                self.forking.remove(forked)
                raise RuntimeError("the crawl zygote exited") from error
        try:
            return await asyncio.wait_for(forked, FORK_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # a new one starts with the next batch
            raise RuntimeError(f"the crawl zygote did not fork in {FORK_TIMEOUT_S:g}s") from None

    async def _running(self, env: Mapping[str, str]) -> asyncio.subprocess.Process:
        if self.process is not None and self.process.returncode is None:
            return self.process
        # Started from the event loop's (main) thread: its parent-death signal follows it.
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jobs.zygote",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**env, PARENT_ENV: str(os.getpid())},
            start_new_session=True,
        )
        self.reader = asyncio.create_task(self._read(self.process))
        return self.process

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            message = json.loads(line)
            if "pid" in message:
                child = Forked(message["pid"])
                self.children[child.pid] = child
                forked = self.forking.popleft()
                if not forked.done():  # not given up on (spawn's timeout)
                    forked.set_result(child)
            elif "exited" in message and message["exited"] in self.children:
                self.children.pop(message["exited"]).exited(message["returncode"])
        # The zygote is gone; its children die with it (their lifeline watches it).
        await process.wait()
        while self.forking:
            forked = self.forking.popleft()
            if not forked.done():
                forked.set_exception(RuntimeError("the crawl zygote exited"))
        for child in self.children.values():
            child.exited(-signal.SIGKILL)
        self.children.clear()

    async def close(self, timeout: float = 10.0) -> None:
        """End the zygote's input; it exits once its children have."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        if self.reader is not None:
            await self.reader


if __name__ == "__main__":
    serve()
