"""Deterministic stand-ins that implement the real interfaces, for tests about mechanics."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np


class HashEmbedder:
    """Hashed bag of words: fast and deterministic, with no model to load.

    Texts sharing words get similar vectors, which is enough for tests of indexing, publishing
    and the adapters; answer quality is tested with the real model only.
    """

    name = "hash-embedder"
    dimension = 64
    max_tokens = 256

    def __init__(self) -> None:
        self.texts: list[str] = []  # every text embedded, so tests can see what was

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension
                vectors[i, bucket] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    @property
    def embedded(self) -> int:
        return len(self.texts)
