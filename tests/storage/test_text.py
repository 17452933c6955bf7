"""The one text module (storage/text.py): the folding that keyword matching and near-duplicate
shingles share, normalised words (what a re-check may ignore), and the one snippet that the
CLI, the web view and alerts show."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from click.testing import CliRunner

from crawler.config.models import KeywordRule
from crawler.config.operations import Alert
from crawler.keywords import Matcher
from jobs.alerts import Dispatcher
from jobs.cli import main
from jobs.web.app import create_app
from storage.crawlstate import ensure_source
from storage.deliveries import AlertRoute
from storage.queries import ArticleRecord, MatchRecord, store_articles
from storage.search import get_item
from storage.text import (
    MARK_END,
    MARK_START,
    SNIPPET_CONTEXT,
    fold,
    html_snippet,
    minhash,
    normalise,
    plain_snippet,
    snippet,
    words,
)
from tests.services import newsmon_engine
from tests.storage.seed import XSS_TITLE

URDU_TERM = "پاکستان امریکہ"  # Persian/Urdu code points: ی ک ہ

# (text, its folded form). Keyword matching (tests/crawler/test_keywords.py) and shingling
# (below) both rely on every row: a term written either way finds the other, and the two
# spellings of an article give one signature.
FOLDING = [
    # Latin: case, NFKC, diacritics (kept, but one form whether composed or not)
    ("Pakistan-US", "pakistan-us"),
    ("ＰＡＫＩＳＴＡＮ", "pakistan"),  # NFKC: fullwidth letters
    ("ﬁnance", "finance"),  # NFKC: ligature
    ("Straße", "strasse"),  # casefold, not just lower
    ("CAFÉ", "café"),
    ("Cafe\u0301", "café"),  # a combining acute composes
    ("ÉLYSÉE Palace", "élysée palace"),
    # Arabic-script letter variants and marks
    ("پاکستان امريكه", URDU_TERM),  # Arabic yeh, kaf, heh
    ("پاکِستان امریکہ", URDU_TERM),  # kasra dropped
    ("پاکستان امری\u200cکہ", URDU_TERM),  # ZWNJ dropped
    ("پاکستـــان امریکہ", URDU_TERM),  # tatweel dropped
    ("صلاة", "صلاۃ"),  # teh marbuta
    ("٢٠٢٥ ۲۰۲۵", "2025 2025"),  # Arabic-Indic and Urdu digits
    # Urdu as typed on an Urdu keyboard is already folded
    ("وزیراعظم شہباز شریف", "وزیراعظم شہباز شریف"),
    ("وزير اعظم شهباز", "وزیر اعظم شہباز"),  # ... and on an Arabic one
    # whitespace and punctuation
    *[(f"Pakistan{dash}US", "pakistan-us") for dash in "‐‑‒–—―−﹘﹣－"],
    ("Pakistan - US", "pakistan-us"),
    ("Pakistan —US", "pakistan-us"),
    ("Pakistan\u00a0–\n US", "pakistan-us"),
    ("  long\n\n term\u00a0\tpartnership ", "long term partnership"),
    ("inter\u00adnational\u200b talks", "international talks"),  # soft hyphen, zero-width space
]


@pytest.mark.parametrize(("text", "folded"), FOLDING)
def test_folding(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(("text", "folded"), FOLDING)
def test_shingles_fold_as_keywords_do(text: str, folded: str) -> None:
    assert words(text) == words(folded)
    assert (minhash(text) == minhash(folded)).all()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one",
        "one two",
        "one two three",
        "Pakistan and the US agreed.\nThey met again; the talks went on for hours.\n" * 40,
        *(text for text, _ in FOLDING),
    ],
)
def test_minhash_is_datasketchs(text: str) -> None:
    """Stored signatures stay comparable: the batched MinHash gives datasketch's values."""
    from datasketch import MinHash

    tokens = words(text)
    shingles = {" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))}
    expected = MinHash(num_perm=128, scheme="affine32")
    expected.update_batch([shingle.encode("utf-8") for shingle in shingles])
    values = minhash(text)
    assert values.dtype == expected.hashvalues.dtype
    assert values.tolist() == expected.hashvalues.tolist()


def test_the_permutations_are_datasketchs_without_importing_it() -> None:
    from datasketch import MinHash

    from storage.text import _permutations

    expected = MinHash(num_perm=128, scheme="affine32").permutations
    assert _permutations().dtype == expected.dtype
    assert _permutations().tolist() == expected.tolist()


def test_signatures_as_stored_bytes_band_and_compare_as_the_values_do() -> None:
    import numpy as np

    from storage.text import band_hashes, estimated_jaccard, to_bytes

    one = minhash("Pakistan and the US agreed. They met again; the talks went on for hours.")
    other = minhash("Pakistan and the US agreed. They met again; the talks went on for days.")
    stored = to_bytes(other)
    assert band_hashes(to_bytes(one)) == band_hashes(one)
    equal = float((one.astype("<u8") == np.frombuffer(stored, dtype="<u8")).sum()) / 128
    assert 0 < equal < 1
    assert estimated_jaccard(one, stored) == estimated_jaccard(to_bytes(one), stored) == equal


def test_an_arabic_keyboard_copy_is_the_same_article() -> None:
    urdu = "وزیراعظم شہباز شریف نے کہا کہ پاکستان امریکہ کے ساتھ مستحکم تعلقات چاہتا ہے"
    arabic = urdu.translate(str.maketrans("یکہ", "يكه"))
    assert arabic != urdu
    assert normalise(arabic) == normalise(urdu)


def test_normalising_ignores_whitespace_case_punctuation_and_boilerplate_lines():
    a = "The minister said: talks   went well.\nUpdated 5 minutes ago\nShare this article"
    b = "the Minister said talks went well!\n\nUpdated just now"
    assert normalise(a) == normalise(b)
    assert normalise(a) != normalise("The minister said talks went badly.")
    # A long line that starts like boilerplate is content.
    long = "Published reports say the minister will resign after the budget session ends."
    assert normalise(long)


# --- The one snippet ----------------------------------------------------------------------------

TEXT = "word " * 30 + "the\n\nPakistan-US   partnership" + " more" * 30


def test_a_snippet_is_cut_at_words_and_marked_only_when_asked() -> None:
    start = TEXT.index("Pakistan-US")
    end = start + len("Pakistan-US")
    plain = snippet(TEXT, start, end)
    assert plain.startswith("…word ") and plain.endswith(" more…")
    assert "the Pakistan-US partnership" in plain
    assert len(plain) <= 2 * SNIPPET_CONTEXT + (end - start) + 2
    marked = snippet(TEXT, start, end, marked=True)
    assert f"the {MARK_START}Pakistan-US{MARK_END} partnership" in marked
    assert plain_snippet(marked, "", "") == plain  # the marks are the only difference
    assert snippet("Short.", 0, 5) == "Short."


def test_html_snippets_escape_the_text_before_marking():
    marked = f"{XSS_TITLE} {MARK_START}Rubio{MARK_END}"
    rendered = html_snippet(marked)
    assert "<script" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;" in rendered and "<mark>Rubio</mark>" in rendered


def fetch(app, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get(path)

    return asyncio.run(go())


def test_cli_web_and_alerts_show_the_one_snippet(tmp_path) -> None:
    engine = newsmon_engine(f"sqlite:///{tmp_path / 'newsmon.db'}")
    matcher = Matcher.from_rules([KeywordRule(name="pak-us", terms=["Pakistan-US"])])
    [found] = matcher.match("Talks", TEXT)
    stored = snippet(TEXT, found.start, found.end)
    shown = plain_snippet(snippet(TEXT, found.start, found.end, marked=True))
    assert found.snippet == stored  # what the crawl stores with the match
    source_id = ensure_source(engine, "mofa", "feed", "https://example.com/feed")
    record = ArticleRecord(
        url="https://example.com/1",
        url_key="example.com/1",
        title="Talks",
        text=TEXT,
        content_hash="0" * 64,
        matches=[MatchRecord(found.keyword, found.field, found.start, found.end, found.snippet)],
    )
    [item_id] = store_articles(engine, source_id, [record], [AlertRoute("desk")]).new_item_ids

    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'newsmon.db'}\n"
        "sources:\n  - name: mofa\n    feed: https://example.com/feed\n"
    )
    cli = CliRunner().invoke(main, ["--config", str(config), "show", str(item_id)])
    assert cli.exit_code == 0, cli.output
    assert f"  pak-us [text]: {shown}\n" in cli.output

    app = create_app(engine)
    api = fetch(app, f"/api/items/{item_id}").json()
    assert [match["context"] for match in api["matches"]] == [shown]
    item = get_item(engine, item_id)
    assert item is not None
    page = fetch(app, "/?keyword=pak-us").text
    assert html_snippet(item.context(item.matches[0])) in page

    sent: list[str] = []
    channel = lambda url, title, body, delivery_id: sent.append(body)  # noqa: E731
    Dispatcher([Alert(name="desk", url="json://x/")], engine, channel).deliver_due()
    assert [line for line in sent[0].splitlines() if line.startswith("pak-us")] == [
        f"pak-us: {stored}"
    ]
    engine.dispose()
