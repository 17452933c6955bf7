"""Telling a page its scripts build from one that carries its own links."""

from __future__ import annotations

from crawler.scriptpages import looks_script_built, page_shape

SHELL = """<html><head><script src="/a.js"></script><script src="/b.js"></script></head>
<body><div id="app">Loading…</div><script src="/c.js"></script><script>boot()</script>
<a href="/">Home</a></body></html>"""

ARTICLE_LINKS = "".join(
    f'<li><a href="/news/story-{n}">Story number {n} about the talks</a></li>' for n in range(12)
)
RENDERED = SHELL.replace('<div id="app">Loading…</div>', f"<ul>{ARTICLE_LINKS}</ul>")

PLAIN = (
    "<html><body><h1>Press releases</h1>"
    + "<p>"
    + "The ministry said the talks went well. " * 40
    + "</p>"
    + f"<ul>{ARTICLE_LINKS}</ul><script>analytics()</script></body></html>"
)


def test_a_shell_with_little_text_and_many_scripts_looks_script_built():
    verdict = looks_script_built(SHELL)
    assert verdict.script_built
    assert "4 scripts" in verdict.reason


def test_a_page_with_its_text_and_links_in_the_html_does_not():
    assert not looks_script_built(PLAIN).script_built


def test_links_that_appear_only_after_rendering_settle_it():
    verdict = looks_script_built(SHELL, RENDERED)
    assert verdict.script_built
    assert verdict.reason == "13 links after rendering, 1 in the HTML"
    assert not looks_script_built(PLAIN, PLAIN).script_built


def test_script_text_is_not_counted_as_page_text():
    shape = page_shape("<html><body><script>" + "x = 1;" * 500 + "</script>Hi</body></html>")
    assert (shape.text_chars, shape.scripts, shape.links) == (2, 1, 0)


def test_an_empty_or_broken_page_has_no_shape_and_no_verdict():
    assert page_shape("") == page_shape("   ")
    assert not looks_script_built("").script_built


def test_a_shell_with_a_script_and_not_one_link_looks_script_built():
    shell = (
        '<html><head><title>Press</title><script src="/list.js"></script></head>'
        '<body><h1>Press releases</h1><ul class="press-list"></ul></body></html>'
    )
    verdict = looks_script_built(shell)
    assert verdict.script_built
    assert verdict.reason == "14 characters of text, 1 scripts, 0 links"
    # Without a script, a page with no links is only empty.
    assert not looks_script_built(
        shell.replace('<script src="/list.js"></script>', "")
    ).script_built
