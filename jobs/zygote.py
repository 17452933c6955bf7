"""A warm parent for the daemon's crawl children.

Each crawl child used to start from nothing: Python, newsmon, Scrapy, then an extraction pool
that loads trafilatura again, about 2 s of CPU before its first request. The zygote
(jobs/cli/zygote.py, started by Zygote here) loads all of it once, single-threaded, and forks
one child per batch, which extracts in its own process (crawler/pool.py extract_inline) and
starts a pool only for a large crawl. Each child is still its own process in its own session,
killed as a group at run_timeout, as before; it dies with the zygote (crawler/lifeline.py), and
the zygote dies with the daemon.

One JSON line each way: a request `{"argv": [...], "env": {...}, "stderr": path}` is answered
`{"pid": N}` once forked, and `{"exited": N, "returncode": R}` when the child ends (R < 0: killed
by signal -R). At the end of its input the zygote waits for its children, then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import deque
from collections.abc import Mapping, Sequence

from crawler.lifeline import PARENT_ENV

# A fork is answered in milliseconds; a zygote silent this long is stuck and is replaced.
FORK_TIMEOUT_S = 30.0


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
            process = await self._running()
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

    async def _running(self) -> asyncio.subprocess.Process:
        if self.process is not None and self.process.returncode is None:
            return self.process
        # Started from the event loop's (main) thread: its parent-death signal follows it.
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jobs.cli.zygote",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, PARENT_ENV: str(os.getpid())},  # not a batch's: one per child
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
