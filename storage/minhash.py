"""MinHash signatures of article texts (datasketch), and their LSH band hashes.

Pure computation with no database import: extraction workers compute signatures too.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from storage.textnorm import words

NUM_PERM = 128
SHINGLE_WORDS = 3
# 20 bands of 6 rows (120 of the 128 hash values): a pair at Jaccard 0.8 shares a band with
# probability 0.998, at 0.7 with 0.92, at 0.3 with 0.015. Candidates are then confirmed with
# MinHash.jaccard against the configured threshold, so thresholds from 0.7 up keep full recall.
BANDS, ROWS = 20, 6
# datasketch 2's default permutation scheme, pinned: stored signatures must stay comparable.
SCHEME = "affine32"


def minhash(text: str) -> Any:
    """The MinHash values (a numpy array) of the text's normalised word 3-shingles."""
    from datasketch import MinHash

    tokens = words(text)
    shingles = {
        " ".join(tokens[i : i + SHINGLE_WORDS])
        for i in range(max(1, len(tokens) - SHINGLE_WORDS + 1))
    }
    signature = MinHash(num_perm=NUM_PERM, scheme=SCHEME, permutations=_permutations())
    signature.update_batch([shingle.encode("utf-8") for shingle in shingles])
    return signature.hashvalues


@functools.cache
def _permutations() -> Any:
    # Drawing the permutations costs more than hashing a whole article: draw them once.
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, scheme=SCHEME).permutations


def to_bytes(values: Any) -> bytes:
    return bytes(values.astype("<u8").tobytes())


def estimated_jaccard(values: Any, stored: bytes) -> float:
    """What MinHash.jaccard computes: the share of equal hash values."""
    return float((values.astype("<u8") == from_values(stored)).sum()) / NUM_PERM


def band_hashes(hashvalues: Any) -> list[tuple[int, int]]:
    """(band, 64-bit hash of that band's hash values) for every band of a MinHash's values."""
    values = hashvalues.astype("<u8")
    bands = []
    for band in range(BANDS):
        chunk = values[band * ROWS : (band + 1) * ROWS].tobytes()
        digest = hashlib.blake2b(chunk, digest_size=8).digest()
        bands.append((band, int.from_bytes(digest, "little", signed=True)))
    return bands


def from_values(data: bytes) -> Any:
    """Stored MinHash values back as a numpy array."""
    import numpy as np

    return np.frombuffer(data, dtype="<u8")
