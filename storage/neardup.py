"""Near-duplicate detection: a MinHash per stored text and an LSH band table in SQL.

Why a band table rather than datasketch's in-memory MinHashLSH: crawls of different sources run
in parallel processes, and an index loaded at start would miss what the others stored since;
loading 100k signatures on every cron run would also cost seconds. Band hashes as indexed rows
are always current, cost one indexed lookup per item, and never load the whole set.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Item, Signature, SignatureBand
from storage.text import BANDS, band_hashes, estimated_jaccard, from_values, minhash, to_bytes

DEFAULT_THRESHOLD = 0.8


@dataclass(frozen=True)
class NearCopy:
    item_id: int
    root_id: int  # the earliest item of the story
    jaccard: float


@functools.cache
def _candidates_statement(before_an_id: bool) -> Any:
    # OR of (band = ? AND hash = ?) pairs: SQLite answers it with one index search per band,
    # while a row-value IN scans the table. Built once: only the parameters change.
    pairs = (
        and_(
            SignatureBand.band == bindparam(f"band{n}"), SignatureBand.hash == bindparam(f"hash{n}")
        )
        for n in range(BANDS)
    )
    statement = select(SignatureBand.item_id).where(or_(*pairs)).distinct()
    if before_an_id:
        statement = statement.where(SignatureBand.item_id < bindparam("before"))
    return statement


def find_near_copies(
    session: Session, signature: Any, threshold: float, before_id: int | None = None
) -> list[NearCopy]:
    """Stored items whose text is a near-copy (estimated Jaccard >= threshold), best first.

    One indexed lookup on (band, hash) finds the candidates; only they are compared.
    """
    params: dict[str, int] = {} if before_id is None else {"before": before_id}
    for band, band_hash in band_hashes(signature):
        params[f"band{band}"], params[f"hash{band}"] = band, band_hash
    ids = list(session.scalars(_candidates_statement(before_id is not None), params))
    if not ids:
        return []
    rows = session.execute(
        select(Signature.item_id, Signature.minhash, Item.duplicate_of)
        .join(Item, Item.id == Signature.item_id)
        .where(Signature.item_id.in_(ids))
    ).all()
    found = []
    for item_id, data, duplicate_of in rows:
        similarity = estimated_jaccard(signature, data)
        if similarity >= threshold:
            found.append(NearCopy(item_id, duplicate_of or item_id, similarity))
    return sorted(found, key=lambda copy: (-copy.jaccard, copy.root_id))


def index_signature(
    session: Session, item_id: int, signature: Any, *, replace: bool = True
) -> None:
    """Store an item's signature and its band rows (replacing old ones unless it is new)."""
    if replace:
        session.execute(delete(SignatureBand).where(SignatureBand.item_id == item_id))
        session.execute(delete(Signature).where(Signature.item_id == item_id))
    session.execute(
        Signature.__table__.insert(), [{"item_id": item_id, "minhash": to_bytes(signature)}]
    )
    session.execute(
        SignatureBand.__table__.insert(),
        [{"band": b, "hash": h, "item_id": item_id} for b, h in band_hashes(signature)],
    )


class DuplicateLinker:
    """Links newly stored items to the earliest near-copy and indexes their signatures.

    `remember` computes a signature before the store transaction (CPU work, no lock held);
    `link` runs inside it, so an item, its signature and its link commit together.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self.signatures: dict[str, Any] = {}
        self.linked = 0

    def remember(self, url_key: str, text: str, signature: bytes | None = None) -> None:
        """Keep the article's MinHash: the one extraction computed, else computed here."""
        self.signatures[url_key] = from_values(signature) if signature else minhash(text)

    def link(self, session: Session, inserted: Sequence[tuple[int, Any]]) -> None:
        """`inserted`: (item_id, record with url_key and text) for the rows just inserted."""
        for item_id, record in sorted(inserted, key=lambda pair: pair[0]):
            signature = self.signatures.pop(record.url_key, None)
            if signature is None:
                signature = minhash(record.text)
            copies = find_near_copies(session, signature, self.threshold, before_id=item_id)
            if copies:
                root = min(copy.root_id for copy in copies)
                session.execute(update(Item).where(Item.id == item_id).values(duplicate_of=root))
                self.linked += 1
            index_signature(session, item_id, signature, replace=False)
        # Articles of the batch that were stored already (by another source) leave theirs.
        self.signatures.clear()
        session.flush()
