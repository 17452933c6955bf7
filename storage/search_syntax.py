"""The search box language, parsed once and rendered safely for SQLite FTS5 or PostgreSQL.

    stable relationship          both words (AND is implied)
    "stable relationship"        the phrase
    relat*                       a prefix
    Pakistan-US                  punctuation inside a word makes it a phrase: pakistan us
    a OR b, a AND b, a NOT b     boolean operators (upper case; NOT binds tightest, then AND, OR)
    (a OR b) NOT c               grouping

The user's text never reaches the engine's parser as written: every term is re-quoted, so only
the operators above have meaning, and malformed input raises SearchSyntaxError with a message
a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPERATORS = {"AND", "OR", "NOT"}
# Bounds on what one search may ask: the parser recurses per parenthesis and renders per term.
MAX_TERMS = 100
MAX_DEPTH = 20
MAX_CHARS = 2000
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'\s*(?:(?P<quote>"[^"]*"?\*?)|(?P<paren>[()])|(?P<word>[^\s()"]+))')


class SearchSyntaxError(ValueError):
    """The search text cannot be parsed; the message says where and why."""


@dataclass(frozen=True)
class Term:
    """A word or phrase (several words in order), optionally a prefix of its last word."""

    text: str
    prefix: bool = False

    @property
    def words(self) -> list[str]:
        return _WORD.findall(self.text)


@dataclass(frozen=True)
class Binary:
    op: str  # AND | OR | NOT
    left: Node
    right: Node


Node = Term | Binary


def parse(query: str) -> Node:
    """The syntax tree of `query`, or SearchSyntaxError."""
    if len(query) > MAX_CHARS:
        raise SearchSyntaxError(f"the search is {len(query)} characters long; at most {MAX_CHARS}")
    tokens = _tokenize(query)
    if not tokens:
        raise SearchSyntaxError('empty search: type a word, a "phrase" or a prefix*')
    terms = sum(1 for kind, _ in tokens if kind in ("word", "phrase"))
    if terms > MAX_TERMS:
        raise SearchSyntaxError(f"the search has {terms} terms; at most {MAX_TERMS}")
    parser = _Parser(tokens)
    node = parser.or_expr()
    if parser.position < len(tokens):
        _, value = tokens[parser.position]
        raise SearchSyntaxError(f"unexpected {value!r}: an unmatched ')'?")
    return node


def _tokenize(query: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    query = query.rstrip()
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None:  # pragma: no cover - the pattern accepts any non-space run
            raise SearchSyntaxError(f"cannot read the search at character {position + 1}")
        position = match.end()
        if match.group("quote") is not None:
            quoted = match.group("quote")
            prefix = quoted.endswith("*")
            body = quoted[:-1] if prefix else quoted
            if len(body) < 2 or not body.endswith('"'):
                raise SearchSyntaxError(
                    f"unbalanced quote: the phrase opened at character {match.start('quote') + 1}"
                    " is not closed"
                )
            tokens.append(("phrase", quoted))
        elif match.group("paren") is not None:
            tokens.append(("paren", match.group("paren")))
        else:
            word = match.group("word")
            tokens.append(("op" if word in OPERATORS else "word", word))
    return tokens


class _Parser:
    """Recursive descent: or_expr := and_expr (OR and_expr)*; and_expr := not_expr ([AND] not_expr)*;
    not_expr := atom (NOT atom)*; atom := term | phrase | '(' or_expr ')'."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0  # parentheses open here

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.peek() == ("op", "OR"):
            self.position += 1
            node = Binary("OR", node, self.and_expr("OR"))
        return node

    def and_expr(self, after: str | None = None) -> Node:
        node = self.not_expr(after)
        while True:
            token = self.peek()
            if token == ("op", "AND"):
                self.position += 1
                node = Binary("AND", node, self.not_expr("AND"))
            elif token is not None and (token[0] in ("word", "phrase") or token == ("paren", "(")):
                node = Binary("AND", node, self.not_expr())
            else:
                return node

    def not_expr(self, after: str | None = None) -> Node:
        node = self.atom(after)
        while self.peek() == ("op", "NOT"):
            self.position += 1
            node = Binary("NOT", node, self.atom("NOT"))
        return node

    def atom(self, after: str | None) -> Node:
        token = self.peek()
        if token is None:
            if after:
                raise SearchSyntaxError(f"{after} needs a term after it")
            raise SearchSyntaxError("the search ends too early: an unclosed '('?")
        kind, value = token
        if kind == "op":
            if value == "NOT" and after is None:
                raise SearchSyntaxError(
                    "NOT needs a term before it: write `a NOT b` (items with a but not b)"
                )
            if after:
                raise SearchSyntaxError(f"{value} cannot follow {after}: put a term between them")
            raise SearchSyntaxError(f"{value} needs a term before it")
        if kind == "paren":
            if value == ")":
                raise SearchSyntaxError("unexpected ')': nothing to close, or an empty '()'")
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise SearchSyntaxError(f"parentheses nest more than {MAX_DEPTH} deep")
            self.position += 1
            node = self.or_expr()
            if self.peek() != ("paren", ")"):
                raise SearchSyntaxError("unbalanced parenthesis: a '(' is not closed")
            self.position += 1
            self.depth -= 1
            return node
        self.position += 1
        return _term(kind, value)


def _term(kind: str, value: str) -> Term:
    prefix = value.endswith("*")
    text = value[:-1] if prefix else value
    if kind == "phrase":
        text = text[1:-1]
    if "*" in text:
        raise SearchSyntaxError(f"{value!r}: '*' marks a prefix and goes only at the end")
    term = Term(text, prefix)
    if not term.words:
        raise SearchSyntaxError(f"{value!r} has no letters or digits to search for")
    return term


def to_fts5(node: Node) -> str:
    """An FTS5 MATCH expression: every term a double-quoted string, so nothing else is syntax."""
    if isinstance(node, Term):
        quoted = '"' + node.text.replace('"', '""') + '"'
        return quoted + "*" if node.prefix else quoted
    return f"({to_fts5(node.left)} {node.op} {to_fts5(node.right)})"


def to_tsquery(node: Node) -> str:
    """A PostgreSQL tsquery text (for to_tsquery('simple', ...)): lexemes quoted, phrases as <->."""
    if isinstance(node, Term):
        lexemes = [_ts_lexeme(word) for word in node.words]
        if node.prefix:
            lexemes[-1] += ":*"
        return "(" + " <-> ".join(lexemes) + ")"
    left, right = to_tsquery(node.left), to_tsquery(node.right)
    if node.op == "AND":
        return f"({left} & {right})"
    if node.op == "OR":
        return f"({left} | {right})"
    return f"({left} & !{right})"


def _ts_lexeme(word: str) -> str:
    return "'" + word.lower().replace("'", "''").replace("\\", "\\\\") + "'"


def search_words(node: Node) -> list[str]:
    """The positive words of a search (not those after NOT), for highlighting elsewhere."""
    if isinstance(node, Term):
        return node.words
    if node.op == "NOT":
        return search_words(node.left)
    return search_words(node.left) + search_words(node.right)
