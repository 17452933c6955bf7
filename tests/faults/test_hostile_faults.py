"""Hostile networks and hostile inputs (issue 14), each through a real `newsmon crawl` in the
network sandbox: rebinding DNS, bad certificates, runaway regexes and sitemaps, a feed of
200,000 links, secrets in feed URLs, a deeply nested JSON Feed, and scraped terminal escapes."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.child import run_newsmon
from tests.faults.conftest import Crawl
from tests.faults.hostile import (
    ALTERNATION_TITLE,
    API_KEY,
    BIG_FEED_LINKS,
    ESCAPE_AUTHOR,
    FORMULA_TITLE,
    LOOP_LIMIT,
    PASSWORD,
    PUBLIC_ADDRESS,
    REDOS_TITLE,
    SANDBOX_DNS,
    WIDE_INDEX,
    HostileSites,
    heartbeat_gaps,
    install,
    install_big_feed,
    install_escape_hatches,
    install_redos,
    start_sites,
)
from tests.jobs.helpers import write_config
from tests.services import rows
from tests.tables import database_text

fault = pytest.mark.fault
MAX_BEAT_GAP = 3.0  # seconds between heartbeat requests; a stalled reactor leaves a longer gap


@dataclass
class SandboxedCrawl(Crawl):
    config: Path = Path()
    sandbox_log: Path = Path()

    def sandbox(self) -> list[str]:
        return self.sandbox_log.read_text().splitlines() if self.sandbox_log.exists() else []

    def newsmon(self, *args: str) -> tuple[int, str, str]:
        result = run_newsmon(self.config, *args, env=sandbox_env(self.config.parent, self.sites))
        return result.returncode, result.stdout, result.stderr


def sandbox_env(directory: Path, sites: HostileSites) -> dict[str, str]:
    dns = directory / "sandbox-dns.json"
    dns.write_text(json.dumps(SANDBOX_DNS))
    return {
        "FAULT_SANDBOX_DNS": str(dns),
        "FAULT_SANDBOX_LOG": str(directory / "sandbox.log"),
        "SSL_CERT_FILE": str(sites.ca_file),  # the test CA is the only one trusted
    }


def sandboxed_crawl(
    tmp: Path, sites: HostileSites, sources: str, extra: str = "", *args: str
) -> SandboxedCrawl:
    config = write_config(tmp, sites.main, sources.replace("{", "{{").replace("}", "}}"), extra)
    env = sandbox_env(tmp, sites)
    started = time.monotonic()
    result = run_newsmon(config, "crawl", *args, env=env, hook="tests.faults.sandbox", timeout=180)
    return SandboxedCrawl(
        sites,  # type: ignore[arg-type]
        tmp / "newsmon.db",
        result.stdout,
        result.stderr,
        result.returncode,
        time.monotonic() - started,
        config,
        Path(env["FAULT_SANDBOX_LOG"]),
    )


@pytest.fixture(scope="module")
def hostile_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileSites]:
    sites = start_sites(tmp_path_factory.mktemp("certs"))
    try:
        yield sites
    finally:
        for site in sites.all():
            site.stop()


@pytest.fixture(scope="module")
def hostile(
    hostile_sites: HostileSites, tmp_path_factory: pytest.TempPathFactory
) -> SandboxedCrawl:
    """One sandboxed crawl over the hostile scenarios that need no new config key."""
    return sandboxed_crawl(
        tmp_path_factory.mktemp("hostile"), hostile_sites, install(hostile_sites)
    )


@pytest.fixture(scope="module")
def escape_hatches(
    hostile_sites: HostileSites, hostile: SandboxedCrawl, tmp_path_factory: pytest.TempPathFactory
) -> SandboxedCrawl:
    """The keys that knowingly widen a rule: tls_verify: false, sitemap_hosts, max_sitemaps."""
    sources = install_escape_hatches(hostile_sites)
    return sandboxed_crawl(tmp_path_factory.mktemp("hatches"), hostile_sites, sources)


def test_the_hostile_crawl_ends_cleanly(hostile, observe):
    failed = sorted(line.split()[0] for line in hostile.stdout.splitlines() if " failed " in line)
    observe(f"exit {hostile.returncode}, {hostile.seconds:.1f}s, failed: {', '.join(failed)}")
    traceback_at = hostile.stderr.find("Traceback")
    assert traceback_at < 0, hostile.stderr[max(0, traceback_at - 500) : traceback_at + 2500]
    assert failed == [
        "json-deep", "secret-broken", "tls-self-signed", "tls-wrong-name"
    ], f"failed: {failed}\n" + hostile.stdout + hostile.stderr[-3000:]  # fmt: skip
    outside = [line for line in hostile.sandbox() if line.startswith("connect")]
    assert outside == [f"connect {PUBLIC_ADDRESS} refused"] * len(outside)  # nothing else tried


@fault(
    "DNS rebinding / failed lookup",
    "a name checked as public that then answers 127.0.0.1, or whose first lookup fails, never "
    "reaches 127.0.0.1: resolved once, the checked address is the one connected to",
)
def test_a_rebinding_name_never_reaches_a_private_address(hostile, observe):
    run, main = hostile.run("rebinding"), hostile.sites.main
    reached = [r.path for r in main.requests if r.path.startswith("/rebind/")]
    sandbox = hostile.sandbox()
    observe(f"{run.summary()}; 127.0.0.1 saw {reached}; sandbox: {sorted(set(sandbox))}")
    assert reached == [] and hostile.items("rebinding") == []
    assert sandbox.count("lookup rebind.test -> " + PUBLIC_ADDRESS) == 1  # one lookup, pinned
    assert f"connect {PUBLIC_ADDRESS} refused" in sandbox  # the checked answer was dialled
    assert "lookup rebind.test -> 127.0.0.1" not in sandbox
    # eagain.test: the failed lookup is a DNS error (retried), the retry's 127.0.0.1 a refusal.
    assert run.error_kinds == {"connection": 1} and run.skipped == 1
    assert "private address 127.0.0.1 (eagain.test)" in hostile.stderr


@pytest.mark.parametrize("source", ["tls-wrong-name", "tls-self-signed"])
@fault(
    "TLS: bad certificate",
    "a self-signed or wrong-name certificate fails the source (tls); nothing injected is stored",
)
def test_a_bad_certificate_is_refused(hostile, observe, source):
    run = hostile.run(source)
    observe(f"{source}: {run.summary()} ({run.error_text})")
    assert hostile.items(source) == []
    assert run.status == "failed" and run.error_kinds == {"tls": 1}
    assert "certificate" in (run.error_text or "")


@fault(
    "TLS: valid certificate",
    "a certificate from a trusted CA (the test CA) for the right name works",
)
def test_a_valid_certificate_is_accepted(hostile, observe):
    run = hostile.run("tls-trusted")
    observe(run.summary())
    assert run.status == "ok" and len(hostile.items("tls-trusted")) == 1


@fault(
    "TLS: tls_verify: false",
    "a source that knowingly trusts a self-signed host is fetched; `check` shows it",
)
def test_tls_verify_false_trusts_that_source_only(escape_hatches, observe):
    run = escape_hatches.run("tls-verify-off")
    code, out, _ = escape_hatches.newsmon("check")
    line = next(line for line in out.splitlines() if "tls-verify-off" in line)
    observe(f"{run.summary()}; check: {line.strip()}")
    assert run.status == "ok" and len(escape_hatches.items("tls-verify-off")) == 1
    assert code == 0 and "TLS NOT VERIFIED" in line


@fault(
    "sitemap index listing itself",
    "new names for the same index stop at max_sitemap_depth (3); the cap is counted and logged",
)
def test_a_self_listing_sitemap_index_stops_at_the_depth_cap(hostile, observe):
    run, main = hostile.run("sitemap-loop"), hostile.sites.main
    fetched = main.hits("/sitemaps/loop.xml")
    observe(f"{run.summary()}; index fetched {fetched} times (it invents {LOOP_LIMIT} names)")
    assert fetched == 1 + 2 + 4 + 8  # the configured index and three levels below it
    assert run.status == "ok"
    assert "max_sitemap_depth" in hostile.stderr


@fault(
    "child sitemap on another host",
    "not followed (counted as skipped) unless the source lists the host in sitemap_hosts",
)
def test_child_sitemaps_stay_on_the_sources_site(hostile, observe):
    run, other = hostile.run("sitemap-offsite"), hostile.sites.other
    observe(f"{run.summary()}; foreign child hits={other.hits('/sitemaps/foreign-child.xml')}")
    assert other.hits("/sitemaps/foreign-child.xml") == 0
    assert [url.rsplit("/", 1)[1] for url, _ in hostile.items("sitemap-offsite")] == ["own.html"]
    assert run.status == "ok" and run.skipped >= 1


@fault("sitemap_hosts", "a child sitemap on a host the source lists is followed")
def test_sitemap_hosts_lets_a_named_host_serve_child_sitemaps(escape_hatches, observe):
    run, other = escape_hatches.run("sitemap-hosts"), escape_hatches.sites.other
    observe(f"{run.summary()}; foreign child hits={other.hits('/sitemaps/foreign-allowed.xml')}")
    assert other.hits("/sitemaps/foreign-allowed.xml") == 1
    assert len(escape_hatches.items("sitemap-hosts")) == 1


@fault(
    "sitemap index of 60 children", "max_sitemaps: 10 fetches 10; the rest are counted and logged"
)
def test_sitemaps_per_run_are_capped(escape_hatches, observe):
    run, main = escape_hatches.run("sitemap-wide"), escape_hatches.sites.main
    fetched = sum(main.hits(f"/sitemaps/wide/{n}.xml") for n in range(WIDE_INDEX))
    observe(f"{run.summary()}; {fetched} of {WIDE_INDEX} children fetched")
    assert fetched == 10 and run.skipped == WIDE_INDEX - 10
    assert "max_sitemaps" in escape_hatches.stderr


@fault(
    "credentials and api_key in a feed URL",
    "basic auth from user:password works; neither secret appears in check, stdout, stderr, "
    "error_text, runs, sources.url, /api/sources or any other table, nor goes out as Referer",
)
def test_secrets_in_a_feed_url_work_and_never_show(hostile, observe):
    feed, broken = hostile.run("secret-feed"), hostile.run("secret-broken")
    article = [r for r in hostile.sites.other.requests if r.path == "/elsewhere/story.html"]
    _, check, check_err = hostile.newsmon("check")
    _, runs_table, _ = hostile.newsmon("runs")
    _, runs_json, _ = hostile.newsmon("runs", "--format", "json")
    stored_urls = rows(hostile.db, "select url from sources where name like 'secret-%'")
    from jobs.web.app import create_app
    from storage.db import make_engine
    from tests.jobs.web.test_app import fetch

    engine = make_engine(f"sqlite:///{hostile.db}")
    api = fetch(create_app(engine), "/api/sources").text
    engine.dispose()
    shown = {
        "check": check + check_err,
        "crawl output": hostile.stdout + hostile.stderr,
        "error_text": broken.error_text or "",
        "runs": runs_table + runs_json,
        "sources.url": repr(stored_urls),
        "/api/sources": api,
        # Every row of every table: discovery_walks and http_validators key URLs by digest.
        **{f"table {name}": rows for name, rows in database_text(hostile.db).items()},
    }
    leaks = [where for where, text in shown.items() if PASSWORD in text or API_KEY in text]
    observe(
        f"secret-feed: {feed.summary()}; secret-broken: {broken.error_text}; leaks: {leaks}; "
        f"Referer sent: {[r.headers.get('Referer') for r in article]}"
    )
    assert feed.status == "ok" and len(hostile.items("secret-feed")) == 1
    assert leaks == []
    assert "api_key=***" in broken.error_text
    assert [r.headers.get("Referer") for r in article] == [None]


@fault("deeply nested JSON Feed", "100,000 levels: a counted parse error, no RecursionError")
def test_a_deeply_nested_json_feed_is_a_parse_error(hostile, observe):
    run = hostile.run("json-deep")
    observe(f"{run.summary()} ({run.error_text})")
    assert run.error_kinds == {"parse": 1} and run.status == "failed"
    assert "RecursionError" not in hostile.stderr


@fault(
    "terminal escapes and a formula in scraped text",
    "show/items strip C0/C1 controls; a CSV cell starting with = + - @ gets a leading '",
)
def test_scraped_escapes_and_formulas_are_defused(hostile, observe):
    [(item_id,)] = rows(
        hostile.db,
        "select i.id from items i join sources s on s.id = i.source_id where s.name = 'hostile-text'",
    )
    _, shown, _ = hostile.newsmon("show", str(item_id))
    _, listed, _ = hostile.newsmon("items", "--source", "hostile-text")
    _, exported, _ = hostile.newsmon(
        "export", "--format", "csv", "--out", "-", "--source", "hostile-text"
    )
    [row] = list(csv.DictReader(io.StringIO(exported)))
    controls = [c for c in shown + listed if ord(c) < 32 and c not in "\n\t" or 127 <= ord(c) < 160]
    observe(f"control characters printed: {len(controls)}; csv title: {row['title'][:20]!r}")
    assert controls == []
    assert "Staff]0;pwned[2J" in shown  # what is left is visible text, not a command
    assert row["title"] == "'" + FORMULA_TITLE
    assert ESCAPE_AUTHOR not in shown


# --- the reactor must keep serving every source ---------------------------------------------------


@pytest.fixture(scope="module")
def redos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxedCrawl]:
    tmp = tmp_path_factory.mktemp("redos")
    sites = start_sites(tmp)
    try:
        sources, keywords = install_redos(sites.main)
        yield sandboxed_crawl(tmp, sites, sources, keywords)
    finally:
        for site in sites.all():
            site.stop()


@pytest.fixture(scope="module")
def big_feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxedCrawl]:
    tmp = tmp_path_factory.mktemp("big-feed")
    sites = start_sites(tmp)
    try:
        yield sandboxed_crawl(tmp, sites, install_big_feed(sites.main))
    finally:
        for site in sites.all():
            site.stop()


@fault(
    "catastrophic keyword regexes",
    "(\\w+\\s?)+: and (a|aa)+b on titles of a's: run by the regex module under a time limit; "
    "a timeout is counted and logged, the item stored, and other sources never stall",
)
def test_runaway_keyword_regexes_are_cut_off_without_stalling_the_crawl(redos, observe):
    runs = {name: redos.run(name) for name in ("redos", "redos-alternation")}
    gaps = heartbeat_gaps(redos.sites.main)
    observe(
        f"redos: {runs['redos'].summary()}; redos-alternation: {runs['redos-alternation'].summary()}"
        f"; crawl {redos.seconds:.1f}s; longest heartbeat gap {max(gaps):.2f}s"
    )
    assert max(gaps) < MAX_BEAT_GAP
    assert runs["redos"].status == "ok"
    assert runs["redos-alternation"].error_kinds == {"regex_timeout": 1}
    titles = {title for (title,) in rows(redos.db, "select title from items")}
    assert titles == {REDOS_TITLE, ALTERNATION_TITLE}
    runaway = "select count(*) from keyword_matches where keyword like 'runaway%'"
    assert rows(redos.db, runaway) == [(0,)]
    assert "runaway-alternation" in redos.stderr and "time limit" in redos.stderr
    code, check, _ = redos.newsmon("check")
    assert code == 0 and "nested quantifier" in check and "(\\w+\\s?)+" in check


@fault(
    "a feed of 200,000 links (12 MB)",
    "read off the reactor thread, capped at max_links_per_page (50,000; counted and logged); "
    "other sources never stall",
)
def test_a_huge_feed_neither_stalls_the_crawl_nor_runs_unbounded(big_feed, observe):
    run, gaps = big_feed.run("big-feed"), heartbeat_gaps(big_feed.sites.main)
    observe(
        f"{run.summary()}; crawl {big_feed.seconds:.1f}s; longest heartbeat gap {max(gaps):.2f}s"
    )
    assert max(gaps) < MAX_BEAT_GAP
    assert run.new_items == 5 and run.status == "ok"
    counts = json.loads(
        rows(big_feed.db, "select error_kinds from crawl_runs")[0][0] or "{}"
    )  # errors only; the cap is a skip
    assert counts == {}
    assert run.skipped >= BIG_FEED_LINKS - 50_000
    assert "max_links_per_page" in big_feed.stderr
