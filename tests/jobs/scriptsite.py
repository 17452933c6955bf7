"""Local sites for the fetch-option and browser tests: a press page whose list of releases its
script writes, and a forward proxy that records what passes through it."""

from __future__ import annotations

import json
import random
import urllib.request

from tests.jobs.newssite import simple_article
from tests.localsite import LocalSite, RecordedRequest, Response

STORIES = 4
PROXY_MARK = "X-Test-Proxy"  # the proxy adds it to each request it forwards


def story_path(number: int) -> str:
    return f"/news/story-{number}"


def shell(private_url: str) -> str:
    """The listing as the server sends it: no article link, a script that writes them from a
    JSON list, and an image and an XHR at a private address that must never be fetched."""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Press releases</title><script src="/static/list.js"></script></head>
<body><h1>Press releases</h1><ul class="press-list"></ul>
<img src="{private_url}/pixel.png" alt="">
<script>fetch("{private_url}/secret").catch(() => {{}});</script>
</body></html>"""


LIST_JS = """
document.addEventListener("DOMContentLoaded", async () => {
  const items = await (await fetch("/api/releases.json")).json();
  const list = document.querySelector("ul.press-list");
  for (const item of items) {
    const entry = document.createElement("li");
    entry.innerHTML = `<a href="${item.url}">${item.title}</a>`;
    list.appendChild(entry);
  }
});
"""


def script_site(private: LocalSite) -> LocalSite:
    """The press site (not started); `private` is a server the guard must keep pages from,
    reached as `localhost`, which no source allows."""
    site = LocalSite()
    private_url = f"http://localhost:{private.base_url.rsplit(':', 1)[1]}"
    site.add("/news/", shell(private_url), content_type="text/html; charset=utf-8")
    site.add("/static/list.js", LIST_JS, content_type="application/javascript")
    releases = [
        {"url": story_path(n), "title": f"Release {n} on the Pakistan-US talks"}
        for n in range(1, STORIES + 1)
    ]
    site.add("/api/releases.json", json.dumps(releases), content_type="application/json")
    rng = random.Random(19)
    for number in range(1, STORIES + 1):
        page = simple_article(f"Release {number} on the Pakistan-US talks", number, rng)
        site.add(story_path(number), page, content_type="text/html; charset=utf-8")
    return site


def feed_site(name: str, articles: int = 2) -> LocalSite:
    """A site with an RSS feed of `articles` stories (not started: links need its address)."""
    site = LocalSite()
    rng = random.Random(name)
    for number in range(1, articles + 1):
        page = simple_article(f"{name} story {number}", number, rng)
        site.add(f"/{name}/story-{number}", page, content_type="text/html; charset=utf-8")
    return site


def serve_feed(site: LocalSite, name: str, articles: int = 2) -> None:
    items = "".join(
        f"<item><title>{name} story {n}</title><link>{site.url(f'/{name}/story-{n}')}</link></item>"
        for n in range(1, articles + 1)
    )
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{items}</channel></rss>'
    site.add(f"/{name}/feed.xml", rss, content_type="application/rss+xml")


class RecordingProxy(LocalSite):
    """A forward HTTP proxy: records each request (its path is the absolute URL) and fetches
    it directly, marking it with PROXY_MARK."""

    def handle(self, request: RecordedRequest) -> Response:
        with self._lock:
            self.requests.append(request)
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in {"proxy-authorization", "proxy-connection", "connection", "host"}
        }
        headers[PROXY_MARK] = "1"
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        forwarded = urllib.request.Request(request.path, headers=headers, method=request.method)
        try:
            with direct.open(forwarded, timeout=10) as answer:
                return Response(answer.read(), answer.status, dict(answer.headers.items()))
        except urllib.error.HTTPError as error:
            return Response(error.read(), error.code, dict(error.headers.items()))
