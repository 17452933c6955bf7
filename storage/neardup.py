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
from storage.text import BANDS, band_hashes, estimated_jaccard, minhash, to_bytes

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
    session: Session,
    signature: Any,
    threshold: float,
    before_id: int | None = None,
    bands: list[tuple[int, int]] | None = None,
) -> list[NearCopy]:
    """Stored items whose text is a near-copy (estimated Jaccard >= threshold), best first.

    One indexed lookup on (band, hash) finds the candidates; only they are compared.
    `bands`: the signature's band hashes, when the caller has them already.
    """
    params: dict[str, int] = {} if before_id is None else {"before": before_id}
    for band, band_hash in bands or band_hashes(signature):
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
    _insert_signatures(session, [(item_id, signature, band_hashes(signature))])


def _insert_signatures(
    session: Session, signed: Sequence[tuple[int, Any, list[tuple[int, int]]]]
) -> None:
    """(item_id, signature, its band hashes) rows, in two statements whatever their number."""
    session.execute(
        Signature.__table__.insert(),
        [{"item_id": item_id, "minhash": to_bytes(signature)} for item_id, signature, _ in signed],
    )
    session.execute(
        SignatureBand.__table__.insert(),
        [
            {"band": band, "hash": band_hash, "item_id": item_id}
            for item_id, _, bands in signed
            for band, band_hash in bands
        ],
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
        self.signatures[url_key] = signature or to_bytes(minhash(text))

    def link(self, session: Session, inserted: Sequence[tuple[int, Any]]) -> None:
        """`inserted`: (item_id, record with url_key and text) for the rows just inserted.

        Each item is compared with the stored items before it (one indexed lookup) and with
        the batch's items before it (in memory, as their signatures are indexed only at the
        end, in two statements for the whole batch).
        """
        signed: list[tuple[int, Any, list[tuple[int, int]]]] = []
        batch = _BatchIndex()
        for item_id, record in sorted(inserted, key=lambda pair: pair[0]):
            signature = self.signatures.pop(record.url_key, None)
            if signature is None:
                signature = minhash(record.text)
            bands = band_hashes(signature)
            copies = find_near_copies(session, signature, self.threshold, item_id, bands)
            copies += batch.near_copies(signature, bands, self.threshold)
            root = min((copy.root_id for copy in copies), default=None)
            if root is not None:
                session.execute(update(Item).where(Item.id == item_id).values(duplicate_of=root))
                self.linked += 1
            batch.add(item_id, signature, bands, root)
            signed.append((item_id, signature, bands))
        if signed:
            _insert_signatures(session, signed)
        # Articles of the batch that were stored already (by another source) leave theirs.
        self.signatures.clear()
        session.flush()


class _BatchIndex:
    """The signatures of one store batch, not yet in the band table, by band hash."""

    def __init__(self) -> None:
        self.by_band: dict[tuple[int, int], list[int]] = {}
        self.items: dict[int, tuple[Any, int | None]] = {}  # id -> (signature, duplicate_of)

    def add(
        self, item_id: int, signature: Any, bands: list[tuple[int, int]], root: int | None
    ) -> None:
        self.items[item_id] = (signature, root)
        for pair in bands:
            self.by_band.setdefault(pair, []).append(item_id)

    def near_copies(
        self, signature: Any, bands: list[tuple[int, int]], threshold: float
    ) -> list[NearCopy]:
        candidates = {item_id for pair in bands for item_id in self.by_band.get(pair, ())}
        found = []
        for item_id in candidates:
            other, duplicate_of = self.items[item_id]
            similarity = estimated_jaccard(signature, to_bytes(other))
            if similarity >= threshold:
                found.append(NearCopy(item_id, duplicate_of or item_id, similarity))
        return found
