"""Page and feed bodies for the fault scenarios: real-looking articles with a known phrase."""

from __future__ import annotations

from html import escape

FILLER = (
    "Officials said the talks covered trade, energy and regional security, and that both "
    "delegations agreed to meet again before the end of the year to review progress. "
    "Analysts in the capital described the meeting as constructive and businesslike."
)

# Phrases in the scripts and legacy encodings that break naive decoding.
PHRASES = {
    "cp1252": "Café owners’ “résumé” — a naïve façade",
    "windows-1256": "پاکستان اور امريکہ کے درميان تجارتي مذاکرات اسلام آباد ميں جاري ہيں",
    "gbk": "中华人民共和国外交部发言人表示巴基斯坦和美国的关系",
    "utf-8": "Pakistan-US trade dialogue resumes — ڈار اور روبیو",
}


def article_html(
    title: str, phrase: str, *, lang: str = "en", meta_charset: str | None = None
) -> str:
    """An article page trafilatura accepts: a headline, a byline and five paragraphs."""
    meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    paragraphs = "".join(
        f"<p>{escape(phrase)}. {FILLER} Paragraph {n} adds detail on the visit.</p>"
        for n in range(1, 6)
    )
    return (
        f'<!doctype html><html lang="{lang}"><head>{meta}<title>{escape(title)}</title>'
        '<meta name="author" content="Staff Reporter">'
        '<meta property="article:published_time" content="2025-07-25T09:00:00+05:00">'
        "</head><body><header><nav><a href='/'>Home</a> <a href='/world/'>World</a></nav>"
        f"</header><main><article><h1>{escape(title)}</h1>{paragraphs}</article></main>"
        "<footer>The Daily Example</footer></body></html>"
    )


def rss(links: list[str], title: str = "Fault feed") -> str:
    items = "".join(
        f"<item><title>Story {n}</title><link>{escape(link)}</link>"
        "<pubDate>Fri, 25 Jul 2025 09:00:00 GMT</pubDate></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://example.org/</link>{items}</channel></rss>"
    )


def urlset(links: list[str], *, namespace: bool = True) -> str:
    xmlns = ' xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"' if namespace else ""
    urls = "".join(f"<url><loc>{escape(link)}</loc></url>" for link in links)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset{xmlns}>{urls}</urlset>'
