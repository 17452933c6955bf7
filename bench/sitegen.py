"""Builds a local site of realistic article pages for the benchmarks (not used by the tests)."""

from __future__ import annotations

import random
from pathlib import Path

SENTENCES = [
    "Deputy Prime Minister Ishaq Dar told the Secretary of State that Pakistan sought an expanded and stable bilateral relationship.",
    "The discussions focused on bilateral relations and prospects for cooperation across trade, investment, agriculture and minerals.",
    "Both sides reviewed the progress in the ongoing trade dialogue, expressing optimism over positive developments.",
    "On regional security, the leaders discussed counterterrorism cooperation and broader peace efforts.",
    "Officials said the talks were held in a cordial atmosphere and covered the full spectrum of relations.",
    "The ministry spokesperson told the weekly briefing that consultations would continue at the working level.",
    "Analysts in Islamabad said the visit signalled a reset after years of mistrust between the two capitals.",
    "The delegation also met members of the business community and think tanks during the visit.",
    "A joint statement issued after the meeting reaffirmed the commitment to long-term stability and prosperity.",
    "The central bank kept its policy rate unchanged, citing easing inflation and a stable currency.",
    "Farmers in Punjab welcomed the early monsoon rains, which are expected to lift the cotton crop.",
    "The national team began its preparations for the upcoming series with a training camp in Lahore.",
    "Exporters urged the government to simplify tax refunds and reduce the cost of doing business.",
    "The provincial government announced a new programme to upgrade rural health facilities.",
    "Experts warned that climate change posed growing risks to water security across South Asia.",
]
FLAGGED = "They reaffirmed their commitment to the long-term Pakistan-US partnership."

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} | The Daily Bench</title>
<meta property="og:title" content="{title}"><meta property="og:type" content="article">
<meta name="author" content="{author}">
<meta property="article:published_time" content="2025-07-{day:02d}T09:00:00+05:00">
<link rel="canonical" href="{{{{BASE}}}}/news/{slug}.html">
<style>{style}</style>
<script>{script}</script>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "{title}", "datePublished": "2025-07-{day:02d}T09:00:00+05:00",
"author": {{"@type": "Person", "name": "{author}"}}}}</script>
</head><body>
<header><nav class="mega-menu">{menu}</nav>
<div class="cookie">We use cookies to improve your experience. Accept all cookies?</div>
<div class="ticker">{ticker}</div></header>
<main><article>
<h1>{title}</h1><p class="byline">By {author} | Published July {day}, 2025</p>
{paragraphs}
</article>
<aside><h3>Most read</h3><ul>{most_read}</ul><div class="ad" id="sidebar-ad"></div></aside>
<section class="related"><h3>Related stories</h3>{related}</section>
<section class="comments"><h3>Comments</h3>{comments}</section>
</main>
<footer>{footer}<p>Copyright 2025 The Daily Bench. All rights reserved.</p></footer>
<script>{script}</script>
</body></html>
"""


# Words to write fresh sentences with: each article gets its own prose, as real ones do, so
# near-duplicate detection sees unrelated texts rather than one template shuffled.
VOCABULARY = sorted(
    {word.strip(".,").lower() for sentence in SENTENCES for word in sentence.split()}
)


def fresh_sentence(rng: random.Random) -> str:
    words = [rng.choice(VOCABULARY) for _ in range(rng.randint(12, 24))]
    words.insert(rng.randint(0, len(words)), f"{rng.randint(2, 9999)}")
    return " ".join(words).capitalize() + "."


def article_html(number: int, rng: random.Random) -> tuple[str, str]:
    slug = f"story-{number:05d}"
    paragraphs = []
    for index in range(rng.randint(8, 14)):
        sentences = [rng.choice(SENTENCES)] + [
            fresh_sentence(rng) for _ in range(rng.randint(2, 5))
        ]
        if index == 2 and number % 5 == 0:
            sentences.append(FLAGGED)
        paragraphs.append("<p>" + " ".join(sentences) + "</p>")
    html = PAGE.format(
        style=STYLE,
        script=SCRIPT,
        menu=MENU,
        ticker=_cards(rng, 10, image=False),
        most_read=_cards(rng, 10, image=False),
        related=_cards(rng, 12, image=True),
        comments="".join(
            f'<div class="comment"><b>Reader {rng.randint(1, 999)}</b><p>{rng.choice(SENTENCES)}</p>'
            '<a href="#reply">Reply</a></div>'
            for _ in range(6)
        ),
        footer=MENU,
        title=f"Story {number}: {rng.choice(SENTENCES)[:70]}",
        author=rng.choice(["Kamran Yousaf", "Anwar Iqbal", "Baqir Sajjad Syed", "Staff Reporter"]),
        day=1 + number % 28,
        slug=slug,
        paragraphs="\n".join(paragraphs),
    )
    return slug, html


# Real news pages carry far more furniture than article: menus of a hundred links, inline
# scripts and styles, story cards. Extraction cost depends on it, so the bench pages do too.
SECTIONS = [
    "world",
    "pakistan",
    "business",
    "sport",
    "opinion",
    "technology",
    "life-style",
    "videos",
]
MENU = "".join(
    f'<div class="menu-col"><a class="menu-head" href="/{section}/">{section.title()}</a><ul>'
    + "".join(
        f'<li><a href="/{section}/topic-{n}/">{section.title()} topic {n}</a></li>'
        for n in range(14)
    )
    + "</ul></div>"
    for section in SECTIONS
)
STYLE = "".join(
    f".c{n}{{margin:{n % 7}px;padding:{n % 5}px;color:#{n * 37 % 4096:03x}}}" for n in range(600)
)
SCRIPT = "window.dataLayer=[];" + "".join(
    f"dataLayer.push({{'event':'slot{n}','adUnit':'/1234/news/slot{n}','sizes':[[300,250],[728,90]]}});"
    for n in range(250)
)


def _cards(rng: random.Random, count: int, *, image: bool) -> str:
    cards = []
    for _ in range(count):
        href = f"/news/story-{rng.randint(0, 99999):05d}.html"
        picture = (
            f'<img src="/img/{rng.randint(0, 9999)}.jpg" alt="" width="300" height="200">'
            if image
            else ""
        )
        cards.append(
            f'<div class="card">{picture}<a href="{href}">{rng.choice(SENTENCES)[:70]}</a></div>'
        )
    return "".join(cards)


def build_site(root: Path, pages: int, seed: int = 7) -> list[Path]:
    """Write `pages` articles and a sitemap listing them; returns the article files."""
    rng = random.Random(seed)
    (root / "news").mkdir(parents=True, exist_ok=True)
    files, locs = [], []
    for number in range(pages):
        slug, html = article_html(number, rng)
        path = root / "news" / f"{slug}.html"
        path.write_text(html, encoding="utf-8")
        files.append(path)
        locs.append(f"<url><loc>{{{{BASE}}}}/news/{slug}.html</loc></url>")
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(locs)
        + "\n</urlset>\n"
    )
    return files
