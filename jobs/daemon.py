"""`newsmon run`: the scheduler daemon. One APScheduler job per source; each run is a child process.

The daemon itself never imports Scrapy: every crawl is `newsmon crawl --source NAME` in its own
process group, killed at the run timeout, so a crash, a hang or a leak in one crawl cannot
take the daemon down or grow its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from crawler.config.file import ConfigError
from crawler.config.load import load_config
from crawler.config.models import Config, Source
from crawler.lifeline import PARENT_ENV
from jobs.cadence import Observation
from jobs.exits import EXIT_LOCKED
from jobs.healthz import DaemonStatus, SourceStatus, start_health_server
from jobs.schedule import cron_trigger, is_due, next_due, record_polls
from storage import runs
from storage.cadence import load_states
from storage.clock import utcnow
from storage.db import make_engine, prepare_for_writing

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 4000
KILL_WAIT_S = 10.0
# After a child exits, how long its stderr may stay open (held by a process it left behind,
# which its group kill is ending) before the daemon stops reading.
STDERR_EOF_WAIT_S = 5.0
EXIT_POLL_S = 0.1


@dataclass
class RunReport:
    """What one child run did, for the log line, /healthz and --once's exit code."""

    source: str
    status: str
    duration: float
    run_id: int | None = None
    pages: int = 0
    new_items: int = 0
    flagged: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_text: str | None = None


class ConfigSnapshot:
    """The last valid config, and a private copy of its file that the children read.

    Children crawl with the config the daemon validated, even after config.yaml is edited
    into something invalid: a change takes effect on SIGHUP, or not at all.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()
        self._directory = tempfile.TemporaryDirectory(prefix="newsmon-daemon-")
        self.copy = Path(self._directory.name) / "config.yaml"
        self.config = self.load()

    def load(self) -> Config:
        """Validate config.yaml and, if it is valid, make it current (else ConfigError)."""
        text = self.path.read_text(encoding="utf-8")
        config = load_config(self.path)
        # Written aside and renamed over the copy: a child starting now reads the old file or
        # the new one, never half of one.
        staged = self.copy.with_name(f".{self.copy.name}.new")
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, self.copy)
        self.config = config
        return config

    def close(self) -> None:
        self._directory.cleanup()


Dispatcher = Callable[[str], None]
SCHEDULER_LOCK = ".scheduler"  # never a source name: those cannot hold a dot


class Daemon:
    def __init__(
        self,
        snapshot: ConfigSnapshot,
        log_level: str = "WARNING",
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.log_level = log_level
        # With a dispatcher (Celery), a due source is enqueued for a worker, not crawled here.
        self.dispatcher = dispatcher
        self.leadership: Any = None  # the scheduler lock, held for the daemon's lifetime
        self.engine: Engine = make_engine(snapshot.config.database)
        self.children: dict[str, asyncio.subprocess.Process] = {}
        self.active: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()
        self.slots = asyncio.Semaphore(snapshot.config.daemon.max_parallel)
        self.scheduler: Any = None
        self.started_at = utcnow()
        self.runs_total: dict[tuple[str, str], int] = {}
        self.last_reports: dict[str, RunReport] = {}

    @property
    def config(self) -> Config:
        return self.snapshot.config

    def enabled_sources(self) -> list[Source]:
        return [source for source in self.config.sources if source.enabled]

    # --- running one source ----------------------------------------------------------------

    async def run_source(self, name: str) -> RunReport | None:
        """One scheduled run of `name`: skipped when stopping or when it is still running."""
        task = asyncio.current_task()
        assert task is not None
        if self.stopping.is_set():
            return None
        if name in self.children:
            log.warning("source %s is still running; this run is skipped", name)
            return None
        source = self.config.source(name)
        schedule = self.config.schedule_for(source)
        if schedule.adaptive is not None and not await asyncio.to_thread(self._due, source):
            return None  # a heartbeat between the polls its cadence planned
        started_at = utcnow()
        self.active.add(task)
        try:
            if self.dispatcher is not None:
                started = time.monotonic()
                await asyncio.to_thread(self.dispatcher, name)
                report = RunReport(name, "dispatched", time.monotonic() - started)
            else:
                async with self.slots:
                    if self.stopping.is_set():
                        return None
                    report = await self._run_child(name)
        finally:
            self.active.discard(task)
        self._record(report)
        if schedule.adaptive is not None and self.dispatcher is None:
            await asyncio.to_thread(self._follow_cadence, source, started_at)
        return report

    def _due(self, source: Source) -> bool:
        state = load_states(self.engine, [source.name]).get(source.name)
        last = runs.last_started(self.engine).get(source.name)
        return is_due(self.config.schedule_for(source), last, utcnow(), state)

    def _follow_cadence(self, source: Source, started_at: datetime) -> None:
        """Move the source's next run to the poll its cadence planned (jobs/cadence.py).

        The crawl child plans it; a child killed before it could counts as a failed poll.
        """
        state = load_states(self.engine, [source.name]).get(source.name)
        if state is None or state.last_poll_at is None or state.last_poll_at < started_at:
            observation = Observation(utcnow(), "failed")
            state = record_polls(self.config, self.engine, [(source, observation)])[source.name]
        if self.scheduler is not None and self.scheduler.get_job(source.name) is not None:
            self.scheduler.modify_job(source.name, next_run_time=state.next_at)

    def _command(self, name: str) -> list[str]:
        verbosity = {"INFO": ["-v"], "DEBUG": ["-vv"]}.get(self.log_level, [])
        config = str(self.snapshot.copy)
        return [
            sys.executable,
            "-m",
            "jobs.cli",
            *verbosity,
            "--config",
            config,
            "crawl",
            "--source",
            name,
        ]

    def _child_env(self) -> dict[str, str]:
        # The copy lives in a temporary folder: pin the database the daemon resolved. The
        # child dies with the daemon (crawler/lifeline.py), even if the daemon is SIGKILLed.
        return {
            **os.environ,
            "NEWSMON_DATABASE_URL": self.config.database,
            PARENT_ENV: str(os.getpid()),
        }

    async def _run_child(self, name: str) -> RunReport:
        timeout = self.config.daemon.run_timeout
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *self._command(name),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=self._child_env(),
            start_new_session=True,  # its own process group, extraction workers included
        )
        self.children[name] = process
        if self.stopping.is_set():  # stop arrived while the child was starting
            _signal(process.pid, signal.SIGTERM)
        assert process.stderr is not None
        stderr = StderrTail()
        tail = asyncio.create_task(stderr.read(process.stderr))
        try:
            timed_out = not await _exited(process, timeout)
            if timed_out:
                log.warning("source %s: run exceeded run_timeout %gs; killing it", name, timeout)
                _kill_group(process.pid)
                await _exited(process, KILL_WAIT_S)
        finally:
            self.children.pop(name, None)
            # Whatever it left in its group (pool processes of a child killed alone) goes too.
            _kill_group(process.pid)
        try:
            await asyncio.wait_for(asyncio.gather(tail, process.wait()), STDERR_EOF_WAIT_S)
        except TimeoutError:
            log.warning("source %s: stderr still open after the crawl ended; not waiting", name)
        stderr_tail = stderr.text()
        duration = time.monotonic() - started
        return await asyncio.to_thread(
            self._report, name, process, duration, timed_out, stderr_tail
        )

    def _report(
        self,
        name: str,
        process: asyncio.subprocess.Process,
        duration: float,
        timed_out: bool,
        stderr_tail: str,
    ) -> RunReport:
        """Read the child's run record; close it if the child was killed before closing it."""
        if timed_out:
            timeout = self.config.daemon.run_timeout
            runs.end_running_run(
                self.engine,
                process.pid,
                status="failed",
                kind="timeout",
                error_text=f"killed after run_timeout ({timeout:g}s)",
            )
        elif process.returncode is not None and process.returncode < 0:
            runs.end_running_run(
                self.engine,
                process.pid,
                status="interrupted" if self.stopping.is_set() else "failed",
                error_text=f"crawl process killed by signal {-process.returncode}",
            )
        if process.returncode == EXIT_LOCKED:
            return RunReport(name, "skipped", duration, error_text="another crawl holds its lock")
        run = runs.run_of_process(self.engine, name, process.pid)
        if run is None:
            last_line = stderr_tail.strip().splitlines()[-1:] or [f"exit {process.returncode}"]
            return RunReport(name, "failed", duration, error_text=last_line[0])
        return RunReport(
            source=name,
            status=run.status,
            duration=duration,
            run_id=run.id,
            pages=run.pages,
            new_items=run.new_items,
            flagged=run.flagged,
            errors=run.errors,
            error_kinds=dict(run.error_kinds or {}),
            error_text=run.error_text,
        )

    def _record(self, report: RunReport) -> None:
        key = (report.source, report.status)
        self.runs_total[key] = self.runs_total.get(key, 0) + 1
        self.last_reports[report.source] = report
        fields = {
            "source": report.source,
            "status": report.status,
            "duration_s": round(report.duration, 2),
            "pages": report.pages,
            "new": report.new_items,
            "flagged": report.flagged,
            "errors": report.errors,
            "error_kinds": report.error_kinds,
            "run_id": report.run_id,
            "error": report.error_text,
        }
        kinds = " ".join(f"{k}={v}" for k, v in sorted(report.error_kinds.items()))
        level = logging.WARNING if report.status == "failed" else logging.INFO
        log.log(
            level,
            "run %s %s in %.1fs pages=%d new=%d flagged=%d errors=%d%s%s",
            report.source,
            report.status,
            report.duration,
            report.pages,
            report.new_items,
            report.flagged,
            report.errors,
            f" [{kinds}]" if kinds else "",
            f": {report.error_text}" if report.error_text else "",
            extra={"fields": fields},
        )

    # --- scheduling --------------------------------------------------------------------------

    def schedule_all(self) -> None:
        """(Re)create one job per enabled source, continuing from its last recorded run."""
        from apscheduler.triggers.interval import IntervalTrigger

        last, now = runs.last_started(self.engine), utcnow()
        states = load_states(self.engine)
        self.scheduler.remove_all_jobs()
        for source in self.enabled_sources():
            schedule = self.config.schedule_for(source)
            if schedule.adaptive is not None:
                # A heartbeat at the floor; each run moves the next one to its planned poll.
                trigger = IntervalTrigger(seconds=schedule.adaptive.min, timezone=UTC)
            elif schedule.every is not None:
                jitter = int(schedule.jitter) if schedule.jitter else None
                trigger = IntervalTrigger(seconds=schedule.every, jitter=jitter, timezone=UTC)
            else:
                trigger = cron_trigger(schedule, with_jitter=True)
            previous = last.get(source.name)
            # Overdue (or never run): once, now. A backlog never turns into a burst.
            state = states.get(source.name)
            due = is_due(schedule, previous, now, state)
            first = now if due else next_due(schedule, previous, now, state)
            self.scheduler.add_job(
                self.run_source,
                trigger,
                args=[source.name],
                id=source.name,
                name=source.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(self.config.daemon.misfire_grace)),
                next_run_time=first,
                replace_existing=True,
            )
            log.info("source %s: next run %s", source.name, first.isoformat(timespec="seconds"))

    def reload(self) -> None:
        """SIGHUP: re-read and validate the config, then reschedule; keep the old one if invalid."""
        try:
            self.snapshot.load()
        except (ConfigError, OSError) as error:
            log.error("config reload failed; keeping the running config:\n%s", error)
            return
        log.warning("config reloaded: %d sources", len(self.enabled_sources()))
        if self.scheduler is not None and not self.stopping.is_set():
            self.schedule_all()

    # --- lifecycle ---------------------------------------------------------------------------

    def request_stop(self, signum: int) -> None:
        if not self.stopping.is_set():
            log.warning("received %s: finishing running crawls", signal.Signals(signum).name)
        self.stopping.set()
        if self.scheduler is not None:
            self.scheduler.pause()

    async def lead(self) -> bool:
        """Wait until this is the only active scheduler; False if told to stop first.

        A second `newsmon run` on the same database is a hot standby: it polls the lock and
        takes over within `standby_poll` once the active one dies (its lock dies with it).
        """
        from jobs.locks import locks_for

        self.leadership = locks_for(self.engine)
        poll = self.config.distributed.standby_poll if self.config.distributed else 5.0
        if not self.leadership.acquire(SCHEDULER_LOCK):
            log.warning("another scheduler is active; standing by")
            while not self.leadership.acquire(SCHEDULER_LOCK):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), poll)
                if self.stopping.is_set():
                    return False
        log.warning("this is the active scheduler")
        return True

    async def forever(self) -> int:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.schedule_all()
        self.scheduler.start()
        log.warning("newsmon daemon started: %d sources", len(self.enabled_sources()))
        await self.stopping.wait()
        self.scheduler.pause()
        await self.drain()
        self.scheduler.shutdown(wait=False)
        return 0

    async def once(self) -> int:
        """Run every due source once, in parallel up to max_parallel; 1 if any failed."""
        last, now = runs.last_started(self.engine), utcnow()
        states = load_states(self.engine)
        due = [
            source.name
            for source in self.enabled_sources()
            if is_due(
                self.config.schedule_for(source),
                last.get(source.name),
                now,
                states.get(source.name),
            )
        ]
        if not due:
            log.warning("no source is due")
            return 0
        tasks = [asyncio.create_task(self.run_source(name)) for name in due]
        everything = asyncio.gather(*tasks)
        stopper = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({everything, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if self.stopping.is_set():
            await self.drain()
            await asyncio.wait(tasks, timeout=KILL_WAIT_S)
            return 0
        stopper.cancel()
        reports = everything.result()
        return 1 if any(report and report.status == "failed" for report in reports) else 0

    async def drain(self) -> None:
        """Ask running crawls to stop (SIGTERM), wait `shutdown_grace`, then kill what is left."""
        for process in list(self.children.values()):
            _signal(process.pid, signal.SIGTERM)  # the child alone: Scrapy stops gracefully
        grace = self.config.daemon.shutdown_grace
        if self.active:
            _, pending = await asyncio.wait(set(self.active), timeout=grace)
            if pending:
                log.warning(
                    "%d crawl(s) still running after %gs; killing them", len(pending), grace
                )
                for process in list(self.children.values()):
                    _kill_group(process.pid)
                await asyncio.wait(pending, timeout=KILL_WAIT_S)

    def next_runs(self) -> dict[str, datetime | None]:
        if self.scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def status(self) -> DaemonStatus:
        """A snapshot for /healthz and /metrics."""
        next_runs = self.next_runs()
        sources = []
        for source in self.enabled_sources():
            report = self.last_reports.get(source.name)
            sources.append(
                SourceStatus(
                    name=source.name,
                    running=source.name in self.children,
                    next_run=next_runs.get(source.name),
                    last_status=report.status if report else None,
                    last_duration_s=report.duration if report else None,
                )
            )
        return DaemonStatus(
            started_at=self.started_at,
            stopping=self.stopping.is_set(),
            runs_total=dict(self.runs_total),
            sources=tuple(sources),
        )


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _exited(process: asyncio.subprocess.Process, timeout: float) -> bool:
    """Wait until the child has exited; False if it is still running after `timeout`.

    Not process.wait(): on Python 3.11 that also waits for the child's pipes to close, and a
    process the child left behind can hold them open for ever.
    """
    deadline = time.monotonic() + timeout
    while process.returncode is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(EXIT_POLL_S)
    return True


class StderrTail:
    """The last few KB of a child's stderr (bounded memory), readable while still open."""

    def __init__(self) -> None:
        self.kept = b""

    async def read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.kept = (self.kept + chunk)[-STDERR_TAIL_BYTES:]

    def text(self) -> str:
        return self.kept.decode("utf-8", "replace")


async def serve(
    config_path: Path,
    *,
    once: bool,
    health_port: int | None,
    log_level: str,
    dispatcher: Dispatcher | None = None,
) -> int:
    """Run the daemon until SIGTERM/SIGINT (or, with `once`, until the due sources ran)."""
    snapshot = ConfigSnapshot(config_path)
    prepare_for_writing(make_engine(snapshot.config.database))  # children must not race to it
    daemon = Daemon(snapshot, log_level, dispatcher)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, daemon.request_stop, signum)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload)
    server = None
    if health_port is not None:
        server = await start_health_server(daemon.status, health_port)
    try:
        if not await daemon.lead():
            return 0
        return await (daemon.once() if once else daemon.forever())
    finally:
        if server is not None:
            server.close()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        snapshot.close()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus a run's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str, verbose: int) -> None:
    """The daemon logs each run at INFO even without -v; JSON or plain lines on stderr."""
    formatter: logging.Formatter = (
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
        handler.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.getLogger(__name__).setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
