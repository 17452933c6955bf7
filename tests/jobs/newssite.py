"""A local news site with one section per discovery mode, for the interruption tests and
bench/killsoak.py.

- `/wire/`: articles behind an RSS feed (`/wire/feed.xml`);
- `/archive/`: articles behind a sitemap index (`/archive/sitemap.xml`) with child sitemaps;
- `/press/`: articles behind a paginated listing, newest first (`/press/`, `/press/page/2/`…).

The sections hold different articles, as three sites would, so a loss in one mode is not
hidden by another. Faults can be set per path: a number of 5xx answers, or a hang until
released.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.localsite import LocalSite, RecordedRequest, Response

WORDS = """
minister parliament budget talks delegation trade investment security cooperation policy province
council committee agreement statement reform election court ruling energy water farmers exports
inflation rupee market harbour railway hospital school district officials opposition coalition
session briefing spokesperson visit summit dialogue relations partners
"""

VOCABULARY = WORDS.split()
MODES = ("feed", "sitemap", "listing")


def prose(rng: random.Random, number: int) -> list[str]:
    """Paragraphs of a story of its own: enough text for trafilatura to call it an article."""
    paragraphs = []
    for _ in range(5):
        sentences = []
        for _ in range(3):
            words = [rng.choice(VOCABULARY) for _ in range(rng.randint(10, 16))]
            sentences.append(" ".join(words).capitalize() + f" {rng.randint(2, 9999)}.")
        paragraphs.append(" ".join(sentences))
    paragraphs.append(f"This is report number {number}.")
    return paragraphs


def simple_article(title: str, number: int, rng: random.Random) -> str:
    body = "".join(f"<p>{p}</p>" for p in prose(rng, number))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:title" content="{title}"></head><body><nav><a href="/">Home</a>'
        f"</nav><article><h1>{title}</h1>{body}</article></body></html>"
    )


PageMaker = Callable[[str, int, random.Random], str]


@dataclass(frozen=True)
class Layout:
    feed: int = 30  # articles in the feed
    sitemap_children: int = 3
    per_sitemap: int = 20
    listing_pages: int = 5
    per_page: int = 10


class NewsSite:
    """Routes for the three sections on a LocalSite; `paths(mode)` lists what each one serves."""

    def __init__(
        self,
        site: LocalSite,
        layout: Layout = Layout(),
        make_page: PageMaker = simple_article,
        seed: int = 1,
    ) -> None:
        self.site = site
        self.layout = layout
        self.failures: dict[str, int] = {}  # path -> 5xx answers still to give
        self.hanging: set[str] = set()  # paths that hang until released
        self.released = threading.Event()
        rng = random.Random(seed)
        number = 0
        self.sections: dict[str, list[str]] = {}
        for mode, prefix, count in (
            ("feed", "/wire/", layout.feed),
            ("sitemap", "/archive/", layout.sitemap_children * layout.per_sitemap),
            ("listing", "/press/", layout.listing_pages * layout.per_page),
        ):
            paths = []
            for _ in range(count):
                path = f"{prefix}story-{number:05d}.html"
                self.serve(path, make_page(f"Story {number}", number, rng), "text/html")
                paths.append(path)
                number += 1
            self.sections[mode] = paths
        self._feed()
        self._sitemaps()
        self._listing()

    def paths(self, modes: Iterable[str] = MODES) -> list[str]:
        return [path for mode in modes for path in self.sections[mode]]

    def sources(
        self, modes: Iterable[str] = MODES, extra: str = "", pages: int | None = None
    ) -> str:
        """The config's `sources:` entries for these modes ({base} left for write_config);
        the listing walks `pages` pages (default: all of them)."""
        entries = {
            "feed": "  - name: wire\n    feed: {base}/wire/feed.xml\n",
            "sitemap": "  - name: archive\n    sitemap: {base}/archive/sitemap.xml\n",
            "listing": f'  - name: press\n    listing: {{base}}/press/\n    follow: "/press/story-"\n'
            f"    pages: {pages or self.layout.listing_pages}\n",
        }
        return "".join(entries[mode] + extra for mode in modes)

    def release(self) -> None:
        self.released.set()

    # --- routes ------------------------------------------------------------------------------

    def serve(self, path: str, body: str, content_type: str) -> None:
        raw = body.encode("utf-8")

        def respond(_request: RecordedRequest) -> Response:
            if path in self.hanging:
                self.released.wait(120)
            if self.failures.get(path, 0) > 0:
                self.failures[path] -= 1
                return Response(b"busy", 503, {"Content-Type": "text/plain"})
            return Response(raw, 200, {"Content-Type": content_type})

        self.site.route(path, respond)

    def _feed(self) -> None:
        base = "{{BASE}}"
        items = "".join(
            f"<item><title>{path}</title><link>{base}{path}</link></item>"
            for path in self.sections["feed"]
        )
        self.serve_text(
            "/wire/feed.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}'
            "</channel></rss>",
            "application/rss+xml",
        )

    def _sitemaps(self) -> None:
        per = self.layout.per_sitemap
        children = []
        for index in range(self.layout.sitemap_children):
            chunk = self.sections["sitemap"][index * per : (index + 1) * per]
            path = f"/archive/sitemap-{index}.xml"
            urls = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc></url>" for p in chunk)
            self.serve_text(path, f"<?xml version='1.0'?><urlset xmlns='{NS}'>{urls}</urlset>")
            children.append(f"<sitemap><loc>{{{{BASE}}}}{path}</loc></sitemap>")
        self.serve_text(
            "/archive/sitemap.xml",
            f"<?xml version='1.0'?><sitemapindex xmlns='{NS}'>{''.join(children)}</sitemapindex>",
        )

    def _listing(self) -> None:
        per, count = self.layout.per_page, self.layout.listing_pages
        for page in range(1, count + 1):
            chunk = self.sections["listing"][(page - 1) * per : page * per]
            links = "".join(f'<li><a href="{p}">Story {p}</a></li>' for p in chunk)
            nav = f'<a rel="next" href="/press/page/{page + 1}/">Next</a>' if page < count else ""
            self.serve(
                listing_path(page),
                f"<html><body><h1>Press releases</h1><ul>{links}</ul>{nav}</body></html>",
                "text/html",
            )

    def serve_text(self, path: str, body: str, content_type: str = "application/xml") -> None:
        """`serve`, with {{BASE}} replaced by the site's address once it is known."""
        self.serve(path, body.replace("{{BASE}}", self.site.base_url), content_type)


NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def listing_path(page: int) -> str:
    return "/press/" if page == 1 else f"/press/page/{page}/"
