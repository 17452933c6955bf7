"""Per-source extraction rules (a source's `extract:` key): CSS selectors that say where a
site keeps its text, title and date, and what to cut out first.

Plain data and lxml only, so the rules travel to the extraction workers by pickle and the
config loader can check selectors without trafilatura. Selectors compile through cssselect
(what Scrapy's parsel uses), so a selector that loads is one lxml can run.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

META_PREFIX = "meta:"
BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
UNREAD = frozenset({"script", "style", "noscript", "template", "svg", "button", "form"})
SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class RuleError(ValueError):
    """A rule that cannot run: a selector cssselect does not parse, a bad date spec."""


@functools.cache
def css_xpath(selector: str) -> str:
    """The XPath of a CSS selector; RuleError when it does not parse."""
    from cssselect import GenericTranslator, SelectorError

    if not selector.strip():
        raise RuleError("an empty CSS selector")
    try:
        return str(GenericTranslator().css_to_xpath(selector))
    except SelectorError as error:
        raise RuleError(f"CSS selector {selector!r} is not valid: {error}") from None


@dataclass(frozen=True)
class DateRule:
    """Where the date is: a `meta:NAME` tag, or an element (`CSS`) or its attribute
    (`CSS@attribute`)."""

    selector: str | None = None
    attribute: str | None = None
    meta: str | None = None

    @classmethod
    def parse(cls, spec: str) -> DateRule:
        spec = spec.strip()
        if spec.startswith(META_PREFIX):
            name = spec[len(META_PREFIX) :].strip()
            if not name:
                raise RuleError("meta: needs a name, e.g. meta:article:published_time")
            return cls(meta=name)
        selector, at, attribute = spec.rpartition("@")
        if not at:
            selector, attribute = spec, ""
        elif not re.fullmatch(r"[A-Za-z_][\w:.-]*", attribute):
            raise RuleError(f"{attribute!r} after '@' is not an attribute name")
        css_xpath(selector)
        return cls(selector=selector, attribute=attribute or None)

    def find(self, tree: Any) -> str | None:
        """The raw date text this rule finds in the page, if any."""
        if self.meta is not None:
            for meta in tree.iter("meta"):
                names = (meta.get("property"), meta.get("name"), meta.get("itemprop"))
                if self.meta in names and meta.get("content"):
                    return str(meta.get("content")).strip()
            return None
        assert self.selector is not None
        for element in select(tree, self.selector):
            value = element.get(self.attribute) if self.attribute else element.text_content()
            if value and value.strip():
                return str(value).strip()
        return None


@dataclass(frozen=True)
class SiteRules:
    """One source's rules; each is optional and the others still apply without it."""

    body: str | None = None
    title: str | None = None
    date: DateRule | None = None
    remove: tuple[str, ...] = ()
    min_chars: int | None = None

    def strip(self, tree: Any) -> None:
        """Cut what `remove` names out of the page, in place (before any extraction)."""
        for selector in self.remove:
            for element in select(tree, selector):
                drop(element)

    def body_text(self, tree: Any) -> str:
        """The text of every element `body` matches, outermost only, in page order."""
        if self.body is None:
            return ""
        found = select(tree, self.body)
        outermost = [e for e in found if not any(a in found for a in e.iterancestors())]
        return "\n".join(filter(None, (block_text(element) for element in outermost)))

    def title_text(self, tree: Any) -> str | None:
        if self.title is None:
            return None
        for element in select(tree, self.title):
            text = " ".join(element.text_content().split())
            if text:
                return text
        return None


def select(tree: Any, selector: str) -> list[Any]:
    return list(tree.xpath(css_xpath(selector)))


def drop(element: Any) -> None:
    """Remove an element but keep the text that follows it (lxml keeps that as its tail)."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    parent.remove(element)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def block_text(element: Any) -> str:
    """An element's readable text: one paragraph per block element, spaces collapsed (line
    breaks in the source too), scripts and controls left out."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in UNREAD:
            return
        if tag in BLOCKS:
            parts.append("\n")
        if node.text and tag:
            parts.append(node.text.replace("\n", " "))
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail.replace("\n", " "))
        if tag in BLOCKS:
            parts.append("\n")

    walk(element)
    lines = (SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)
