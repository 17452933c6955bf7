"""Keyword matching throughput against the number of rules.

Builds 10 to 10,000 synthetic rules (hyphenated pairs and multi-word phrases, some with `none`
or `near`) and about 5 MB of article-like text (English, one article in ten Urdu), then times
`Matcher.match` over every article. Prints rules, MB/s, ms per 5 KB article and build time.

    python bench/keywords.py --mb 5
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.config.models import KeywordRule, Near  # noqa: E402
from crawler.keywords import Matcher  # noqa: E402


def words(text: str) -> list[str]:
    return text.split()


PLACES = words(
    "Pakistan US China India Iran Afghanistan Russia Turkey Qatar Saudi Japan Germany France "
    "Britain Canada Brazil Egypt Iraq Syria Israel Jordan Kuwait Oman Bahrain Malaysia "
    "Indonesia Bangladesh Nepal Sri-Lanka Kenya Nigeria Ethiopia Mexico Chile Peru Spain Italy "
    "Poland Ukraine Norway Sweden Finland Denmark Austria Greece Cyprus Morocco Algeria Tunisia "
    "Libya Sudan Yemen Lebanon Kazakhstan Uzbekistan Tajikistan Azerbaijan Georgia Armenia"
)
ADJECTIVES = words(
    "bilateral strategic economic military maritime regional nuclear energy climate trade "
    "security defence financial diplomatic cultural digital agricultural industrial fiscal "
    "monetary humanitarian technical counter-terrorism border water health education "
    "investment banking export import tariff customs visa consular transit railway aviation "
    "shipping mining textile pharmaceutical telecom software cyber space naval joint interim "
    "emergency annual"
)
NOUNS = words(
    "dialogue partnership agreement talks summit framework accord corridor package deal "
    "cooperation council commission forum treaty review mechanism consultations memorandum "
    "roadmap initiative programme project fund loan grant facility exercise meeting delegation "
    "visit statement declaration protocol charter alliance compact pact mission conference "
    "working-group task-force negotiations settlement arrangement"
)
FILLER = words(
    "the of and to in a for on that with was as by is at from said it his has have be are "
    "an this not but which were its had been government minister officials week year new "
    "after also would will their more than about over two first last people other into "
    "state country foreign ministry spokesperson told reporters during meeting held "
    "capital month according report added between both sides progress ongoing long term "
    "commitment reaffirmed reviewed discussed matters mutual interest prime president "
    "secretary federal provincial national assembly senate opposition budget inflation "
    "growth rupee dollar percent market prices fuel electricity gas supply demand"
)
URDU = words(
    "پاکستان امریکہ حکومت وزیر خارجہ بیان ملاقات دونوں ممالک کے درمیان تعاون تجارت معاہدہ "
    "اسلام آباد واشنگٹن مذاکرات کی نے سے میں اور پر کہا گیا ہے تھا ترجمان دفتر اجلاس"
)


def build_rules(count: int, rng: random.Random) -> list[KeywordRule]:
    """`count` rules with distinct terms; one in five has `none`, one in ten has `near`."""
    seen: set[str] = set()
    rules: list[KeywordRule] = []
    while len(rules) < count:
        shape = rng.random()
        if shape < 0.4:
            term = f"{rng.choice(PLACES)}-{rng.choice(PLACES)}"
        elif shape < 0.7:
            term = f"{rng.choice(PLACES)} {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        else:
            term = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        if term in seen or term.split("-")[0] == term.split("-")[-1]:
            continue
        seen.add(term)
        options: dict = {"name": f"rule-{len(rules)}", "terms": [term]}
        if len(rules) % 5 == 1:
            options["none"] = [rng.choice(["cricket", "football", "hockey", "weather"])]
        if len(rules) % 10 == 3:
            options["near"] = Near(terms=[rng.choice(PLACES)], within=20)
        rules.append(KeywordRule(**options))
    return rules


def build_articles(megabytes: float, rng: random.Random) -> list[str]:
    """About 5 KB articles of filler sentences with place pairs and policy phrases mixed in."""
    articles: list[str] = []
    total = 0
    while total < megabytes * 1_000_000:
        urdu = len(articles) % 10 == 9
        paragraphs, size = [], 0
        while size < 5000:
            words = [rng.choice(URDU if urdu else FILLER) for _ in range(rng.randint(40, 90))]
            for _ in range(rng.randint(0, 3)):
                words.insert(rng.randrange(len(words)), _phrase(rng))
            paragraph = " ".join(words).capitalize() + "."
            paragraphs.append(paragraph)
            size += len(paragraph.encode())
        article = "\n\n".join(paragraphs)
        articles.append(article)
        total += len(article.encode())
    return articles


def _phrase(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.4:
        dash = rng.choice(["-", "–", " - ", "—"])
        return f"{rng.choice(PLACES)}{dash}{rng.choice(PLACES)}"
    if shape < 0.7:
        return f"{rng.choice(PLACES)} {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    return f"{rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="megabytes of article text")
    parser.add_argument("--rules", type=int, nargs="+", default=[10, 100, 1000, 10000])
    args = parser.parse_args()
    rng = random.Random(20250725)
    articles = build_articles(args.mb, rng)
    megabytes = sum(len(article.encode()) for article in articles) / 1_000_000
    print(f"{len(articles)} articles, {megabytes:.1f} MB (one in ten Urdu)\n")
    print(f"{'rules':>6}  {'MB/s':>7}  {'ms/5KB':>7}  {'build ms':>8}  {'matches':>8}")
    for count in args.rules:
        rules = build_rules(count, random.Random(count))
        began = time.perf_counter()
        matcher = Matcher.from_rules(rules)
        built = time.perf_counter() - began
        found = 0
        began = time.perf_counter()
        for article in articles:
            found += len(matcher.match(article[:80], article, source="bench"))
        elapsed = time.perf_counter() - began
        rate = megabytes / elapsed
        print(f"{count:>6}  {rate:>7.1f}  {5 / rate:>7.3f}  {built * 1000:>8.1f}  {found:>8}")


if __name__ == "__main__":
    main()
