"""Decoding an HTML page to text without mojibake, when servers and pages lie about charsets.

Order: a BOM; then each declared charset (HTTP header first, then <meta>) that decodes the
bytes cleanly; then, with no usable declaration, strict UTF-8 and statistical detection. A
declared charset is trusted over detection even when a few bytes are invalid, unless the bytes
are plainly not in it (a UTF-8 header on a windows-1256 page is a common server default).
"""

from __future__ import annotations

import codecs

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

FALLBACK = "cp1252"  # what browsers assume for undeclared legacy Western pages
# Single-byte Latin code pages a detector cannot tell from cp1252 on a short page; when the
# bytes are valid cp1252, the browsers' default wins the tie.
LATIN_LOOKALIKES = {"cp1250", "cp1254", "cp1257", "iso8859-2", "iso8859-15", "cp1252", "latin-1"}


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding used) for an HTML body and its Content-Type header."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        return body[len(bom) :].decode(bom_encoding, "replace"), bom_encoding
    declared = _unique(
        resolve_encoding(name) if name else None
        for name in (
            http_content_type_encoding(content_type or ""),
            html_body_declared_encoding(body),
        )
    )
    for encoding in declared:
        text = _strict(body, encoding)
        if text is not None:
            return text, encoding
    if declared and not (declared[0] == "utf-8" and not _mostly_utf8(body)):
        # Declared, slightly broken bytes: keep the declaration, replace what does not decode.
        return body.decode(declared[0], "replace"), declared[0]
    return _undeclared(body)


def _undeclared(body: bytes) -> tuple[str, str]:
    text = _strict(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    encoding = resolve_encoding(best.encoding) if best is not None else None
    if encoding in LATIN_LOOKALIKES or encoding is None:
        text = _strict(body, FALLBACK)
        if text is not None:
            return text, FALLBACK
    if encoding:
        return body.decode(encoding, "replace"), encoding
    return body.decode(FALLBACK, "replace"), FALLBACK


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _mostly_utf8(body: bytes) -> bool:
    """UTF-8 with a few bad bytes, as opposed to a legacy charset mislabelled UTF-8: in the
    latter, valid multi-byte sequences are rare and invalid ones everywhere."""
    text = body.decode("utf-8", "replace")
    invalid = text.count("\ufffd")
    valid_multibyte = sum(1 for char in text if char > "\x7f" and char != "\ufffd")
    return valid_multibyte >= 4 * invalid


def _unique(names: object) -> list[str]:
    found: list[str] = []
    for name in names:  # type: ignore[attr-defined]
        if isinstance(name, str) and name not in found:
            try:
                codecs.lookup(name)
            except LookupError:
                continue
            found.append(name)
    return found
