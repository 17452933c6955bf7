"""Whether a page looks built by its scripts, so that only a browser sees its links: little
text, and many scripts or scripts and not one link, and (when a rendered copy is at hand) links that appear only after
rendering. Pure: `newsmon check --live` asks it about a page it fetched, and suggests
`render: browser` when it says yes."""

from __future__ import annotations

from dataclasses import dataclass

import lxml.html

# Below this much visible text a page says nothing by itself (a bare shell with a menu).
LITTLE_TEXT = 500
MANY_SCRIPTS = 3
# A rendered copy with this many times the links (and at least MORE_LINKS more) was built.
LINK_GROWTH = 2
MORE_LINKS = 5
INVISIBLE = ("script", "style", "noscript", "template", "head")


@dataclass(frozen=True)
class PageShape:
    text_chars: int
    scripts: int
    links: int


@dataclass(frozen=True)
class Verdict:
    script_built: bool
    reason: str


def page_shape(html: str) -> PageShape:
    """Visible text, scripts and links of an HTML page."""
    try:
        root = lxml.html.document_fromstring(html or "<html></html>")
    except (lxml.etree.ParserError, ValueError):
        return PageShape(0, 0, 0)
    scripts = len(root.xpath("//script"))
    links = len(root.xpath("//a[@href]"))
    for element in root.xpath("|".join(f"//{tag}" for tag in INVISIBLE)):
        element.drop_tree()
    text = " ".join(root.text_content().split())
    return PageShape(len(text), scripts, links)


def looks_script_built(html: str, rendered_html: str | None = None) -> Verdict:
    """Whether `html` (as fetched over HTTP) looks built by scripts; `rendered_html`, the same
    page rendered in a browser, settles it by its links."""
    plain = page_shape(html)
    if rendered_html is not None:
        rendered = page_shape(rendered_html)
        grew = rendered.links >= max(plain.links * LINK_GROWTH, plain.links + MORE_LINKS)
        if grew:
            return Verdict(
                True, f"{rendered.links} links after rendering, {plain.links} in the HTML"
            )
        return Verdict(False, f"rendering adds no links ({plain.links} in the HTML)")
    # A shell whose one script is its content (no link at all) counts as much as many scripts.
    scripted = plain.scripts >= MANY_SCRIPTS or (plain.scripts > 0 and plain.links == 0)
    if plain.text_chars < LITTLE_TEXT and scripted:
        return Verdict(
            True,
            f"{plain.text_chars} characters of text, {plain.scripts} scripts, {plain.links} links",
        )
    return Verdict(False, f"{plain.text_chars} characters of text, {plain.links} links")
