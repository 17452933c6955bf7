"""`newsmon run`: the scheduler daemon. One APScheduler job per source; polls in the daemon,
crawls in child processes.

The sources due at one moment make one tick. The daemon polls each of them itself
(crawler/probe.py: robots.txt, then the conditional GET or body hash of its discovery URL), so
an unchanged source costs a request and a run record, never a process. The sources of a tick
that changed (or cannot be polled) are crawled together by one `newsmon crawl --source A
--source B …` child, handed the responses the polls received. The daemon itself never imports
Scrapy: every crawl runs in its own process group, killed at the run timeout, so a crash, a
hang or a leak in one crawl cannot take the daemon down or grow its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from crawler.config.file import ConfigError
from crawler.config.load import load_config
from crawler.config.models import Adaptive, Config, Source
from crawler.probe import HANDOVER_ENV, Fetched, write_handover
from crawler.urls import host_key
from jobs.crawl import CADENCE_BY_PARENT_ENV, record_unchanged
from jobs.exits import EXIT_LOCKED
from jobs.healthz import DaemonStatus, SourceStatus, start_health_server
from jobs.poller import POLL_HOSTS_AT_ONCE, Poll, Poller
from jobs.schedule import cron_trigger, interval_of, is_due, next_due, record_polls, slack
from jobs.zygote import Forked, Zygote
from storage import runs
from storage.cadence import CadenceState, load_states
from storage.clock import utcnow
from storage.db import make_engine, prepare_for_writing

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 4000
KILL_WAIT_S = 10.0
# Sources due within this window of each other are polled, and crawled, together.
TICK_WINDOW_S = 0.25
MAX_BATCH_SOURCES = 25  # sources per crawl child
# How long a changed source waits for others to share its child's start-up (about 2 s of CPU),
# unless `daemon.batch_wait` says: a tenth of its shortest interval, at most 20 s.
GATHER_SHARE, GATHER_MAX_S = 0.1, 20.0
# An adaptive source's job fires at each planned poll; between them, a heartbeat this many
# floors apart (at most `max`) catches a plan that was never recorded.
HEARTBEAT_FLOORS = 4


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


@dataclass
class CrawlWait:
    """A changed source waiting for a crawl child: its poll, the responses to hand the
    child, and how its tick learns the outcome."""

    poll: Poll
    handed: Mapping[str, Fetched] | None
    settle: Callable[[Mapping[str, RunReport | None]], None]
    done: asyncio.Future[None]
    start_by: float = 0.0  # loop time by which a child should have taken it

    @property
    def host(self) -> str:
        return host_key(self.poll.source.url)


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


# Distributed mode: given a tick's due sources and the config of the moment, enqueues them.
Dispatcher = Callable[[Sequence[str], Config], None]
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
        # With a dispatcher (Celery), a tick's due sources are enqueued for workers in batches,
        # not polled nor crawled here.
        self.dispatcher = dispatcher
        self.leadership: Any = None  # the scheduler lock, held for the daemon's lifetime
        # Pooled: a tick's polls are recorded in several short transactions.
        self.engine: Engine = make_engine(snapshot.config.database, pooled=True)
        self.children: dict[str, Forked] = {}
        self.zygote = Zygote()
        self.active: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()
        # Changed sources waiting for a crawl child, in order (_start_crawls), and the slots
        # (max_parallel children) free.
        self.waiting: dict[str, CrawlWait] = {}
        self.free_slots = snapshot.config.daemon.max_parallel
        self.crawl_tasks: set[asyncio.Task[None]] = set()
        self.scheduler: Any = None
        self.started_at = utcnow()
        self.runs_total: dict[tuple[str, str], int] = {}
        self.polls_total: dict[str, int] = {}  # by outcome: unchanged, changed, failed
        self.last_reports: dict[str, RunReport] = {}
        self.poller = Poller(snapshot.config, POLL_HOSTS_AT_ONCE)
        self.alone: set[str] = set()  # sources crawled in a child of their own (next_batch())
        # Hosts a crawl child is at work on, each with what its end resolves: one child a host.
        self.crawling_hosts: dict[str, asyncio.Future[None]] = {}
        self.gather_timer: asyncio.TimerHandle | None = None  # see _gathered()
        self.planned: dict[str, datetime] = {}  # adaptive sources' next polls (schedule_all)
        self.in_tick: set[str] = set()  # sources a tick has taken and not settled yet
        self.pending: dict[str, asyncio.Future[RunReport | None]] = {}  # the coming tick's
        self.ticking: asyncio.Task[None] | None = None

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
        if name in self.children or name in self.pending or name in self.in_tick:
            log.warning("source %s is still running; this run is skipped", name)
            return None
        source = self.config.source(name)
        schedule = self.config.schedule_for(source)
        if schedule.adaptive is not None and not self._due(source):
            return None  # a heartbeat between the polls its cadence planned
        self.active.add(task)
        try:
            report = await self._join_tick(name)
        finally:
            self.active.discard(task)
        if report is not None:
            self._record(report)
        return report

    def _due(self, source: Source) -> bool:
        """Whether an adaptive source's planned poll has come. From the plans this daemon
        holds (read at start and reload, kept as each poll is planned): a heartbeat of every
        source reading them from the database cost more than the polls."""
        planned = self.planned.get(source.name)
        if planned is None:
            return True  # never polled: schedule_all made it due at once
        schedule = self.config.schedule_for(source)
        return (planned - utcnow()).total_seconds() <= slack(schedule)

    async def _join_tick(self, name: str) -> RunReport | None:
        """Run `name` in the coming tick, with every other source due by then."""
        future: asyncio.Future[RunReport | None] = asyncio.get_running_loop().create_future()
        self.pending[name] = future
        if self.ticking is None:
            self.ticking = asyncio.create_task(self._tick())
        return await future

    async def _tick(self) -> None:
        await asyncio.sleep(TICK_WINDOW_S)
        due, self.pending, self.ticking = self.pending, {}, None
        self.in_tick |= set(due)  # until settled: polled, waiting for a crawl slot, crawled

        def settle(reports: Mapping[str, RunReport | None]) -> None:
            for name, report in reports.items():
                if name in due and not due[name].done():
                    due[name].set_result(report)
                    self.in_tick.discard(name)

        try:
            if self.dispatcher is not None:
                await self._dispatch(list(due), settle)
            else:
                await self._poll_and_crawl(list(due), settle)
        except Exception as error:  # a bug here must not leave the sources waiting for ever
            log.exception("tick of %d sources failed", len(due))
            settle({name: RunReport(name, "failed", 0.0, error_text=repr(error)) for name in due})
        settle(dict.fromkeys(due))  # those never run (stopping, or removed by a reload)

    async def _dispatch(
        self, names: Sequence[str], settle: Callable[[Mapping[str, RunReport | None]], None]
    ) -> None:
        """Hand `names` to the workers: the dispatcher enqueues them in batches."""
        dispatcher = self.dispatcher
        if dispatcher is None or self.stopping.is_set():
            return
        names = [source.name for source in self.enabled_sources() if source.name in names]
        started = time.monotonic()
        await asyncio.to_thread(dispatcher, names, self.config)
        duration = time.monotonic() - started
        settle({name: RunReport(name, "dispatched", duration) for name in names})

    async def _poll_and_crawl(
        self, names: Sequence[str], settle: Callable[[Mapping[str, RunReport | None]], None]
    ) -> None:
        """Poll `names` and settle the unchanged at once (their next poll must not wait for
        the others' crawl); crawl the rest in batches of child processes, settling each."""
        if self.stopping.is_set():
            return
        sources = [source for source in self.enabled_sources() if source.name in names]
        if not sources:
            return
        # A host a child is crawling keeps its budget: its sources are polled once it is done.
        held: dict[str, list[str]] = {}
        ready: list[str] = []
        for source in sources:
            host = host_key(source.url)
            if host in self.crawling_hosts:
                held.setdefault(host, []).append(source.name)
            else:
                ready.append(source.name)
        if held:
            await asyncio.gather(
                self._poll_and_crawl(ready, settle),
                *(self._after_crawl_of(host, group, settle) for host, group in held.items()),
            )
            return
        polls, reports, planned = await asyncio.to_thread(self._poll, sources)
        self._reschedule(planned)
        for poll in polls.values():
            if poll.outcome is not None:
                self.polls_total[poll.outcome] = self.polls_total.get(poll.outcome, 0) + 1
        settle(reports)
        to_crawl = [source.name for source in sources if source.name not in reports]
        handed = {
            name: polls[name].probe.fetched  # type: ignore[union-attr]
            for name in to_crawl
            if polls[name].probe is not None
        }

        loop = asyncio.get_running_loop()
        waits = []
        for name in to_crawl:
            wait = CrawlWait(polls[name], handed.get(name), settle, loop.create_future())
            wait.start_by = loop.time() + self.gather_for(polls[name].source)
            self.waiting[name] = wait
            waits.append(wait.done)
        self._start_crawls()
        await asyncio.gather(*waits)

    async def _after_crawl_of(
        self,
        host: str,
        names: Sequence[str],
        settle: Callable[[Mapping[str, RunReport | None]], None],
    ) -> None:
        """Poll and crawl `names` once the child crawling their host has ended."""
        ending = self.crawling_hosts.get(host)
        if ending is not None:
            await asyncio.shield(ending)
        await self._poll_and_crawl(names, settle)

    def _start_crawls(self) -> None:
        """Start a crawl child for the waiting sources while a slot is free. Sources wait
        across ticks: under load the queue grows and each child takes up to MAX_BATCH_SOURCES
        of it, so many changed sources share one start-up instead of a tick's few."""
        if self.stopping.is_set():
            for wait in self.waiting.values():
                if not wait.done.done():
                    wait.done.set_result(None)  # never crawled: the tick settles them
            self.waiting.clear()
            return
        while self.free_slots > 0 and self.waiting:
            if not self._gathered():
                break
            batch = self.next_batch()
            if not batch:
                break  # what waits is on hosts other children are crawling
            entries = {name: self.waiting.pop(name) for name in batch}
            hosts = {entry.host for entry in entries.values()}
            loop = asyncio.get_running_loop()
            self.crawling_hosts.update((host, loop.create_future()) for host in hosts)
            self.free_slots -= 1
            task = asyncio.create_task(self._crawl_waiting(entries, hosts))
            self.crawl_tasks.add(task)
            task.add_done_callback(self.crawl_tasks.discard)

    async def _crawl_waiting(self, entries: Mapping[str, CrawlWait], hosts: set[str]) -> None:
        names = list(entries)
        try:
            handed = {name: e.handed for name, e in entries.items() if e.handed is not None}
            reports = await self._crawl(names, handed)
            batch_polls = [entry.poll for entry in entries.values()]
            self._reschedule(await asyncio.to_thread(self._after_crawl, batch_polls, reports))
            for name, entry in entries.items():
                if name in reports:
                    entry.settle({name: reports[name]})
        except Exception as error:  # a bug here must not leave the sources waiting for ever
            log.exception("crawl of %s failed", ", ".join(names))
            for name, entry in entries.items():
                entry.settle({name: RunReport(name, "failed", 0.0, error_text=repr(error))})
        finally:
            for entry in entries.values():
                if not entry.done.done():
                    entry.done.set_result(None)
            for host in hosts:
                self.crawling_hosts.pop(host).set_result(None)
            self.free_slots += 1
            self._start_crawls()

    def gather_for(self, source: Source) -> float:
        """Seconds a changed `source` may wait for others to share a crawl child with."""
        if self.config.daemon.batch_wait is not None:
            return self.config.daemon.batch_wait
        schedule = self.config.schedule_for(source)
        shortest = schedule.adaptive.min if schedule.adaptive else interval_of(schedule, utcnow())
        return min(GATHER_MAX_S, shortest * GATHER_SHARE)

    def _gathered(self) -> bool:
        """Whether the waiting sources should go now: a child's worth of them, or one that
        has waited its gather time. Else the check comes back when the first one has."""
        loop = asyncio.get_running_loop()
        start_by = min(wait.start_by for wait in self.waiting.values())
        if len(self.waiting) >= MAX_BATCH_SOURCES or start_by <= loop.time():
            return True
        if self.gather_timer is None or self.gather_timer.when() > start_by:
            if self.gather_timer is not None:
                self.gather_timer.cancel()
            self.gather_timer = loop.call_at(start_by, self._gather_elapsed)
        return False

    def _gather_elapsed(self) -> None:
        self.gather_timer = None
        self._start_crawls()

    def next_batch(self) -> list[str]:
        """The waiting sources the next crawl child takes, hosts in the order they began to
        wait: at most MAX_BATCH_SOURCES, a host's sources together wherever they fit, and never
        a host another child is crawling, so one host's budget is never spent twice at once.
        A source whose last run was killed at run_timeout goes in a child of its own: a source
        that hangs never again holds the others' runs until the kill."""
        by_host: dict[str, list[str]] = {}
        for name, wait in self.waiting.items():
            host = wait.host
            if host not in self.crawling_hosts:
                by_host.setdefault(host, []).append(name)
        batch: list[str] = []
        for names in by_host.values():
            alone = [name for name in names if name in self.alone]
            if alone and not batch:
                return alone[:1]
            together = [name for name in names if name not in self.alone]
            if together and (not batch or len(batch) + len(together) <= MAX_BATCH_SOURCES):
                batch.extend(together[: MAX_BATCH_SOURCES - len(batch)])
            if len(batch) == MAX_BATCH_SOURCES:
                break
        return batch

    def _poll(
        self, sources: Sequence[Source]
    ) -> tuple[dict[str, Poll], dict[str, RunReport], dict[str, CadenceState]]:
        """Poll `sources` (in a worker thread) and record those found unchanged, under their
        crawl locks, as `newsmon crawl` would: so cron and the daemon never overlap."""
        from jobs.locks import locks_for

        started = time.monotonic()
        locks = locks_for(self.engine)
        reports: dict[str, RunReport] = {}
        try:
            mine = [source for source in sources if locks.acquire(source.name)]
            held = {source.name for source in mine}  # by name: comparing models costs O(fields)
            for source in sources:
                if source.name not in held:
                    reports[source.name] = RunReport(
                        source.name, "skipped", 0.0, error_text="another crawl holds its lock"
                    )
            polls = self.poller.poll(self.engine, mine)
            duration = time.monotonic() - started
            settled = [s for s in mine if polls[s.name].unchanged]
            for name, result in record_unchanged(self.engine, settled).items():
                reports[name] = RunReport(
                    name, result.outcome.status, duration, run_id=result.run_id
                )
            now = utcnow()
            observed = [(s, polls[s.name].observation(now)) for s in settled]
            planned = record_polls(self.config, self.engine, observed)
        finally:
            locks.release_all()
        return polls, reports, planned

    def _after_crawl(
        self, batch: Sequence[Poll], reports: Mapping[str, RunReport]
    ) -> dict[str, CadenceState]:
        """Plan each crawled source's next poll from its poll and its run (in a thread)."""
        now, observed = utcnow(), []
        for poll in batch:
            report = reports.get(poll.source.name)
            if report is None or report.status == "skipped":
                continue  # not crawled by this child (stopping, or locked by another crawl)
            if "timeout" in report.error_kinds:
                self.alone.add(poll.source.name)
            elif report.status != "failed":
                self.alone.discard(poll.source.name)
            observed.append((poll.source, poll.observation(now, report.status, report.new_items)))
        return record_polls(self.config, self.engine, observed)

    def _reschedule(self, states: Mapping[str, CadenceState]) -> None:
        """Move adaptive sources' next runs to the polls their cadence planned."""
        if self.scheduler is None:
            return
        for name, state in states.items():
            source = self.config.source(name)
            if self.config.schedule_for(source).adaptive is None:
                continue
            self.planned[name] = state.next_at
            if self.scheduler.get_job(name) is not None:
                self.scheduler.modify_job(name, next_run_time=state.next_at)

    async def _crawl(
        self, names: Sequence[str], handed: Mapping[str, Mapping[str, Fetched]]
    ) -> dict[str, RunReport]:
        if self.stopping.is_set():
            return {}
        # A crawl of a host starts once no poll of it is in flight, and counts as the host's
        # latest request: its next poll waits the host's gap after it.
        urls = [self.config.source(name).url for name in names]
        await asyncio.to_thread(self.poller.hold_off, urls)
        return await self._run_child(names, handed)

    def _arguments(self, names: Sequence[str]) -> list[str]:
        """The `newsmon` arguments of a crawl child for `names`."""
        verbosity = {"INFO": ["-v"], "DEBUG": ["-vv"]}.get(self.log_level, [])
        config = str(self.snapshot.copy)
        sources = (argument for name in names for argument in ("--source", name))
        return [*verbosity, "--config", config, "crawl", *sources]

    def _child_env(self) -> dict[str, str]:
        # The copy lives in a temporary folder: pin the database the daemon resolved. The
        # zygote names itself the child's parent (jobs/zygote.py), so it dies with the daemon.
        return {
            **os.environ,
            "NEWSMON_DATABASE_URL": self.config.database,
            CADENCE_BY_PARENT_ENV: "1",  # the daemon records each poll's observation itself
        }

    async def _run_child(
        self, names: Sequence[str], handed: Mapping[str, Mapping[str, Fetched]]
    ) -> dict[str, RunReport]:
        """One crawl child for `names`, served what their polls received (`handed`)."""
        timeout = self.config.daemon.run_timeout
        started = time.monotonic()
        env = self._child_env()
        polled = {name: handed[name] for name in names if name in handed}
        handover = self.snapshot.copy.with_name(f"polled-{uuid.uuid4().hex}.json")
        if polled:
            await asyncio.to_thread(write_handover, handover, polled)
            env[HANDOVER_ENV] = str(handover)
        name = ", ".join(names)  # for the log lines
        stderr_file = handover.with_name(f"stderr-{uuid.uuid4().hex}.log")
        try:
            process = await self.zygote.spawn(self._arguments(names), env, str(stderr_file))
        except RuntimeError as error:  # the zygote died as it forked: this batch did not run
            handover.unlink(missing_ok=True)
            log.warning("source %s: no crawl child started: %s", name, error)
            return {each: RunReport(each, "failed", 0.0, error_text=str(error)) for each in names}
        for each in names:
            self.children[each] = process
        if self.stopping.is_set():  # stop arrived while the child was starting
            _signal(process.pid, signal.SIGTERM)
        try:
            timed_out = not await _exited(process, timeout)
            if timed_out:
                log.warning("source %s: run exceeded run_timeout %gs; killing it", name, timeout)
                _kill_group(process.pid)
                await _exited(process, KILL_WAIT_S)
        finally:
            for each in names:
                self.children.pop(each, None)
            # Whatever it left in its group (pool processes of a child killed alone) goes too.
            _kill_group(process.pid)
            handover.unlink(missing_ok=True)
        stderr_tail = await asyncio.to_thread(_tail, stderr_file)
        duration = time.monotonic() - started
        return await asyncio.to_thread(
            self._reports, names, process, duration, timed_out, stderr_tail
        )

    def _reports(
        self,
        names: Sequence[str],
        process: Forked,
        duration: float,
        timed_out: bool,
        stderr_tail: str,
    ) -> dict[str, RunReport]:
        """Read the child's run records; close those it was killed before closing."""
        if timed_out:
            timeout = self.config.daemon.run_timeout
            runs.end_running_runs(
                self.engine,
                process.pid,
                status="failed",
                kind="timeout",
                error_text=f"killed after run_timeout ({timeout:g}s)",
            )
        elif process.returncode is not None and process.returncode < 0:
            runs.end_running_runs(
                self.engine,
                process.pid,
                status="interrupted" if self.stopping.is_set() else "failed",
                error_text=f"crawl process killed by signal {-process.returncode}",
            )
        return {name: self._report(name, process, duration, stderr_tail) for name in names}

    def _report(
        self,
        name: str,
        process: Forked,
        duration: float,
        stderr_tail: str,
    ) -> RunReport:
        run = runs.run_of_process(self.engine, name, process.pid)
        if run is None and process.returncode == EXIT_LOCKED:
            return RunReport(name, "skipped", duration, error_text="another crawl holds its lock")
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
        kinds = runs.by_kind(report.error_kinds)
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
        self.planned = {name: state.next_at for name, state in states.items()}
        self.scheduler.remove_all_jobs()
        for source in self.enabled_sources():
            schedule = self.config.schedule_for(source)
            if schedule.adaptive is not None:
                # Each poll moves the job to the poll its cadence planned (_reschedule); the
                # trigger is a heartbeat in case a plan was not recorded.
                trigger = IntervalTrigger(seconds=heartbeat_s(schedule.adaptive), timezone=UTC)
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
        retired, self.poller = self.poller, Poller(self.config, POLL_HOSTS_AT_ONCE)
        retired.close(wait=False)  # polls under way finish with the old config
        if self.scheduler is not None and not self.stopping.is_set():
            self.schedule_all()

    # --- lifecycle ---------------------------------------------------------------------------

    def request_stop(self, signum: int) -> None:
        if not self.stopping.is_set():
            log.warning("received %s: finishing running crawls", signal.Signals(signum).name)
        self.stopping.set()
        self._start_crawls()  # what still waits for a child is settled as never run
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
        for process in set(self.children.values()):
            _signal(process.pid, signal.SIGTERM)  # the child alone: Scrapy stops gracefully
        grace = self.config.daemon.shutdown_grace
        if self.active:
            _, pending = await asyncio.wait(set(self.active), timeout=grace)
            if pending:
                log.warning(
                    "%d crawl(s) still running after %gs; killing them", len(pending), grace
                )
                for process in set(self.children.values()):
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
            polls_total=dict(self.polls_total),
        )


def heartbeat_s(bounds: Adaptive) -> float:
    return min(bounds.max, bounds.min * HEARTBEAT_FLOORS)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _exited(process: Forked, timeout: float) -> bool:
    """Wait until the child has exited; False if it is still running after `timeout`."""
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        return False
    return True


def _tail(path: Path) -> str:
    """The last few KB of a child's stderr file, which is then removed."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - STDERR_TAIL_BYTES))
            return file.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    finally:
        path.unlink(missing_ok=True)


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
        await daemon.zygote.close()
        daemon.poller.close()
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
