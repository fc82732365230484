"""Sign vectors of an article's lead sentences: how they are packed, carried and compared.

An article's lead (its first ``LEAD_SENTENCES`` sentences) is embedded by the pipeline's vector stage
(worker/nlp/vectors.py) and each 384-dimension vector kept as its signs only: 48 bytes a sentence, 144 an article,
which the story index holds beside the MinHash. The article carries them as base64 (``Article.lead_vectors``); the
story linker compares two leads with ``lead_agreement``. Numpy only: nothing here loads the encoder.
"""

from __future__ import annotations

import base64

import numpy as np

# ECB+ dev, 5 streaming orders, address line in the text: 3 sentences did better than 1, 2, 4 and 6 (exploratory runs)
LEAD_SENTENCES = 3
DIMENSIONS = 384
SENTENCE_BYTES = DIMENSIONS // 8


def pack_signs(vectors: np.ndarray) -> bytes:
    """The signs of ``(n, DIMENSIONS)`` vectors, one bit each, ``SENTENCE_BYTES`` per vector.

    >>> len(pack_signs(np.ones((3, DIMENSIONS))))
    144
    """
    return np.packbits(np.asarray(vectors) > 0, axis=1).tobytes()


def encode_vectors(packed: bytes) -> str:
    """``pack_signs``'s bytes as the article carries them in JSON (base64)."""
    return base64.b64encode(packed).decode("ascii")


def decode_vectors(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True) if text else b""


def lead_agreement(own: np.ndarray, others: np.ndarray, other_counts: np.ndarray) -> np.ndarray:
    """How closely the leads say the same thing, for each other article: each sentence of one lead is matched with
    its closest sentence of the other, both ways, and the closeness averaged: 1 for the same sentences, higher for
    two reports of one event than for two events of one kind, and lowest for unrelated news.

    ``own``: ``(k, SENTENCE_BYTES)`` uint8; ``others``: ``(n, LEAD_SENTENCES, SENTENCE_BYTES)`` uint8, rows past
    ``other_counts`` ignored. Closeness of two sign vectors: cos(pi x share of differing signs), the angle the signs
    estimate. 0 where either lead is empty.

    A one-sentence lead against the same sentence, and against a lead of that sentence and its opposite:

    >>> a = np.packbits(np.ones((1, DIMENSIONS), bool), axis=1)
    >>> b = np.packbits(np.zeros((1, DIMENSIONS), bool), axis=1)
    >>> lead_agreement(a, np.stack([np.vstack([a, b, b]), np.vstack([b, a, b])]), np.array([1, 2])).round(2).tolist()
    [1.0, 0.5]
    """
    n = len(others)
    if not len(own) or not n:
        return np.zeros(n)
    # differing bits of every (other, own sentence, other sentence) triple
    differing = np.unpackbits(own[None, :, None, :] ^ others[:, None, :, :], axis=3).sum(axis=3)
    closeness = np.cos(np.pi * differing / DIMENSIONS)
    present = np.arange(others.shape[1])[None, :] < other_counts[:, None]  # (n, LEAD_SENTENCES)
    closeness = np.where(present[:, None, :], closeness, -1.0)
    own_side = closeness.max(axis=2).mean(axis=1)
    other_side = np.where(present, closeness.max(axis=1), 0.0).sum(axis=1) / np.maximum(other_counts, 1)
    return np.where(other_counts > 0, (own_side + other_side) / 2, 0.0)
