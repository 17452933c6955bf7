"""The hostile web, over HTTP: one real `newsmon crawl` of every fault route (conftest.crawl),
then one test per fault reading its source's run record, the items and what the server saw."""

from __future__ import annotations

import pytest

from tests.faults.pages import PHRASES
from tests.faults.scenarios import CHARSET_PAGES, SSRF_FORMS

pytestmark = pytest.mark.slow

MB = 1000**2
fault = pytest.mark.fault


def test_the_crawl_survives_every_fault_and_fails_only_the_unusable_sources(crawl, observe):
    failed = {line.split()[0] for line in crawl.stdout.splitlines() if " failed " in line}
    observe(f"exit {crawl.returncode}, {crawl.seconds:.1f}s, failed: {', '.join(sorted(failed))}")
    assert crawl.returncode == 1
    assert failed == {"sitemap-gzip-bomb", "sitemap-encoded-bomb", "robots-500"}, (
        crawl.stdout + crawl.stderr[-3000:]
    )
    assert "Traceback" not in crawl.stderr


@fault("HTTP 500/502/503", "retried once after a backoff, then one error per URL; others stored")
def test_server_errors_are_retried_with_backoff_then_counted(crawl, observe):
    run, main = crawl.run("http5xx"), crawl.sites.main
    hits = {s: len(main.times(f"/e/{s}")) for s in ("500", "502", "503")}
    gaps = [main.times(f"/e/{s}")[1] - main.times(f"/e/{s}")[0] for s in ("500", "502", "503")]
    observe(f"{run.summary()} hits={hits} min gap={min(gaps):.2f}s")
    assert hits == {"500": 2, "502": 2, "503": 2}  # retries: 1
    assert min(gaps) >= 0.9  # backoff, not an instant retry
    assert run.error_kinds == {"http_500": 1, "http_502": 1, "http_503": 2}
    assert run.status == "partial" and run.new_items == 1


@fault(
    "HTTP 503 with Retry-After: 2", "the retry waits the 2 s the server asked (backoff alone: 1 s)"
)
def test_a_503_retry_after_is_honoured(crawl, observe):
    times = crawl.sites.main.times("/e/503-retry-after")
    observe(f"hits={len(times)} gap={times[1] - times[0]:.2f}s")
    assert len(times) == 2 and times[1] - times[0] >= 1.9


@fault("HTTP 403/404/410", "fetched once, no retry, counted by status")
def test_client_errors_are_not_retried_and_are_counted_by_status(crawl, observe):
    run, main = crawl.run("http4xx"), crawl.sites.main
    hits = {s: main.hits(f"/e/{s}") for s in (403, 404, 410)}
    observe(f"{run.summary()} hits={hits}")
    assert hits == {403: 1, 404: 1, 410: 1}
    assert {k: v for k, v in run.error_kinds.items() if k != "http_429"} == {
        "http_403": 1,
        "http_404": 1,
        "http_410": 1,
    }


@fault("HTTP 429 + Retry-After", "2 s: one retry after 2 s; 3600 s: no retry; no storm")
def test_429_honours_retry_after_without_a_retry_storm(crawl, observe):
    main = crawl.sites.main
    short, long = main.times("/e/429"), main.times("/e/429-long")
    observe(
        f"Retry-After 2: {len(short)} requests, gap {short[-1] - short[0]:.2f}s; Retry-After 3600: {len(long)} request(s)"
    )
    assert len(short) == 2 and short[1] - short[0] >= 1.9
    assert len(long) == 1  # beyond the 60 s cap: given up at once, not hammered
    assert crawl.run("http4xx").error_kinds["http_429"] == 2


@fault("slow server", "headers after 30 s and a body trickling forever both hit the 2 s timeout")
def test_a_slow_server_hits_the_configured_timeout(crawl, observe):
    run = crawl.run("slow")
    observe(f"{run.summary()} crawl took {crawl.seconds:.1f}s")
    assert run.error_kinds == {"timeout": 2}
    assert crawl.seconds < 30  # neither the 30 s wait nor the endless body held the crawl


@fault("reset / short body / truncated gzip", "each counted, not fatal; the good page is stored")
def test_broken_bodies_are_counted_and_not_stored(crawl, observe):
    run = crawl.run("broken")
    observe(run.summary())
    assert run.error_kinds == {"data_loss": 2, "bad_gzip": 1}
    assert [url.rsplit("/", 1)[1] for url, _ in crawl.items("broken")] == ["broken.html"]
    assert run.status == "partial"


@fault("redirect loop / long chain", "caught and counted as redirect_loop and too_many_redirects")
def test_redirect_loops_and_long_chains_are_caught(crawl, observe):
    run, main = crawl.run("redirects"), crawl.sites.main
    observe(f"{run.summary()} loop hits={main.hits('/r/loop-a') + main.hits('/r/loop-b')}")
    assert run.error_kinds == {"redirect_loop": 1, "too_many_redirects": 1}
    assert main.hits("/r/loop-a") == 1 and main.hits("/r/loop-b") == 1
    assert main.hits("/r/chain/6") == 1 and main.hits("/r/chain/7") == 0  # REDIRECT_MAX_TIMES 5


@fault(
    "redirect to another host", "followed to an allowed host; stored under the canonical final URL"
)
def test_a_redirect_to_another_host_stores_the_canonical_final_url(crawl, observe):
    urls = [url for url, _ in crawl.items("redirects")]
    observe(f"stored {urls}")
    assert urls == [crawl.sites.allowed.url("/moved/story.html")]  # no utm_source, no #top


@fault("huge page", "aborted while downloading at max_page_bytes, counted as too_large")
def test_a_huge_page_is_aborted_while_downloading(crawl, observe):
    run, sent = crawl.run("huge"), crawl.sites.main.bytes_sent
    observe(f"{run.summary()} server got out {sent} bytes of 50 MB each")
    assert run.error_kinds == {"too_large": 2}
    # The client hung up early: most of the 50 MB was never sent.
    assert sent["/huge/declared"] < 10 * MB and sent["/huge/chunked"] < 10 * MB


@fault("non-HTML content type", "PDF, image and binary skipped by content type, never extracted")
def test_non_html_is_skipped_by_content_type(crawl, observe):
    run = crawl.run("nonhtml")
    observe(run.summary())
    assert run.pages == 3 and run.skipped == 3 and run.errors == 0
    assert crawl.items("nonhtml") == []


@pytest.mark.parametrize(
    "source",
    [
        "feed-malformed",
        "feed-truncated",
        "feed-atom-bad",
        "feed-as-html",
        "sitemap-bom",
        "sitemap-no-namespace",
    ],
)
@fault(
    "malformed feeds and sitemaps",
    "malformed/truncated RSS and Atom, feed as text/html, sitemap BOM or no namespace: entries still read",
)
def test_malformed_feeds_and_sitemaps_still_yield_their_entries(crawl, observe, source):
    run = crawl.run(source)
    observe(f"{source}: {run.summary()}")
    assert run.status == "ok" and run.new_items == 1


@fault("empty feed", "ok, nothing fetched, nothing failed")
def test_an_empty_feed_is_ok(crawl, observe):
    run = crawl.run("feed-empty")
    observe(run.summary())
    assert (run.status, run.pages, run.errors) == ("ok", 0, 0)


@pytest.mark.parametrize("source", ["sitemap-gzip-bomb", "sitemap-encoded-bomb"])
@fault("gzip-bombed sitemap", "decompression stops at max_page_bytes; the source fails cleanly")
def test_a_gzip_bomb_sitemap_is_bounded(crawl, observe, source):
    run = crawl.run(source)
    observe(f"{source}: {run.summary()} ({run.error_text})")
    assert run.status == "failed"
    assert "DecompressionMaxSizeExceeded" in run.error_text or "too_large" in run.error_text


@pytest.mark.parametrize("page", [*CHARSET_PAGES, "invalid-bytes"])
@fault(
    "charset traps",
    "header vs meta, undeclared cp1252/1256/GBK, BOM, invalid bytes: phrase intact, no mojibake",
)
def test_charset_traps_leave_no_mojibake(crawl, observe, page):
    stored = dict(crawl.items("charsets"))
    text = stored[crawl.sites.main.url(f"/charset/{page}.html")]
    phrase = PHRASES[CHARSET_PAGES[page][0] if page in CHARSET_PAGES else "utf-8"]
    observe(f"{page}: {text.split(chr(10))[1][:40]!r}")
    assert phrase in text
    assert "\ufffd" not in text.replace("\ufffd\ufffd Paragraph 3", "")  # only the 2 bad bytes
    assert not any(marker in text for marker in ("Ã", "Ø§", "â€"))


@fault("page without an article", "challenge, login and list-only pages: not_article, never stored")
def test_pages_without_an_article_are_skipped_as_not_article(crawl, observe):
    run = crawl.run("not-articles")
    observe(run.summary())
    assert run.pages == 3 and run.skipped == 3 and run.new_items == 0
    assert crawl.items("not-articles") == []


@fault("URL variants", "tracking parameters, fragment and http/https forms: one request, one item")
def test_url_variants_are_fetched_and_stored_once(crawl, observe):
    hits = crawl.sites.main.hits("/v/story.html")
    observe(f"5 variants -> {hits} request, {len(crawl.items('variants'))} item")
    assert hits == 1 and len(crawl.items("variants")) == 1


@fault("robots.txt disallow", "the disallowed path is never requested")
def test_robots_disallow_is_respected(crawl, observe):
    robots = crawl.sites.robots
    observe(
        f"/private hits={robots.hits('/private/story.html')} {crawl.run('robots-disallow').summary()}"
    )
    assert robots.hits("/private/story.html") == 0 and robots.hits("/public/story.html") == 1


@fault(
    "robots.txt answers 500", "RFC 9309: assume complete disallow; nothing fetched, source fails"
)
def test_a_robots_txt_500_means_complete_disallow(crawl, observe):
    site, run = crawl.sites.robots500, crawl.run("robots-500")
    observe(f"{run.status}: {run.error_text}; feed hits={site.hits('/feeds/robots-500.xml')}")
    assert site.hits("/feeds/robots-500.xml") == 0 and site.hits("/story.html") == 0
    assert run.status == "failed" and "robots" in run.error_text


@pytest.mark.parametrize("source", ["ssrf-feed", "ssrf-sitemap", "ssrf-listing"])
@fault(
    "SSRF",
    "links to loopback/private/link-local/multicast/reserved (IPv6, numeric, DNS forms) are not fetched",
)
def test_links_into_private_address_space_are_not_fetched(crawl, observe, source):
    run, main = crawl.run(source), crawl.sites.main
    observe(
        f"{source}: {run.summary()}; refused host saw {len(crawl.sites.refused.requests)} requests"
    )
    assert crawl.sites.refused.requests == []  # nothing ever connected to 127.0.0.3
    assert [r.path for r in main.requests if r.path.startswith("/ssrf/")] == []
    expected = 0 if source == "ssrf-listing" else len(SSRF_FORMS)  # the listing never links offsite
    assert run.skipped == expected and run.pages == 0


@fault("SSRF by redirect", "a redirect into private space is refused before connecting")
def test_a_redirect_into_private_space_is_refused(crawl, observe):
    observe(
        f"/r/ssrf hits={crawl.sites.main.hits('/r/ssrf')}, refused host requests={len(crawl.sites.refused.requests)}"
    )
    assert crawl.sites.main.hits("/r/ssrf") == 1
    assert crawl.sites.refused.requests == []


@fault("allow_private_hosts", "a private host the source names is fetched")
def test_a_host_in_allow_private_hosts_is_fetched(crawl, observe):
    stored = [url for url, _ in crawl.items("ssrf-allowed")]
    observe(f"stored {stored}")
    assert stored == [crawl.sites.allowed.url("/allowed/story.html")]
