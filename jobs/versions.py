"""`newsmon show ID --versions`: an item's stored versions and a readable diff between them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import TextIO

from jobs.output import printable
from storage.models import ItemVersion

SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def diff_lines(text: str) -> list[str]:
    """One sentence per line, so a diff points at the sentence that changed."""
    lines = []
    for paragraph in text.splitlines():
        lines.extend(s for s in SENTENCE_END.split(paragraph.strip()) if s)
    return lines


def version_diff(old: ItemVersion, new: ItemVersion) -> list[str]:
    lines = []
    if (old.title or "") != (new.title or ""):
        lines += [f"-title: {old.title}", f"+title: {new.title}"]
    lines += list(
        difflib.unified_diff(
            diff_lines(old.text),
            diff_lines(new.text),
            fromfile=f"version {old.version}",
            tofile=f"version {new.version}",
            lineterm="",
            n=1,
        )
    )
    return lines


def write_versions(versions: Sequence[ItemVersion], out: TextIO) -> None:
    if not versions:
        out.write("\nversions: 1 (the text has not changed since it was first fetched)\n")
        return
    out.write(f"\nversions: {len(versions)}\n")
    for version in versions:
        out.write(
            f"  version {version.version}  fetched {version.fetched_at:%Y-%m-%d %H:%M} UTC"
            f"  {len(version.text)} chars  {printable(version.title or '')}\n"
        )
    for old, new in zip(versions, versions[1:], strict=False):
        out.write(f"\n--- changes in version {new.version} ---\n")
        for line in version_diff(old, new):
            out.write(printable(line) + "\n")
