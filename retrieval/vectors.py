"""Vector search with FAISS: exact for a corpus of ordinary size, IVF for a large one."""

from __future__ import annotations

import math

import numpy as np

# Exact search up to this many passages (about 2.5 ms a question); beyond it an IVF index,
# whose cost grows with the lists probed instead of with the corpus. A search restricted to at
# most this many rows scores them exactly on any index.
EXACT_SEARCH_LIMIT = 20_000
IVF_LISTS_PER_SQRT = 4  # nlist = 4·√N, the usual FAISS starting point
# Share of the lists probed per question: 62 of 4,000 at 1M passages, about 3 ms a question.
# scripts/bench.py --scale 1000000 measured recall@50 against exact search 0.997 from 16 probes
# up on its synthetic data; NOTES.md measured 0.963 at 32 on harder data, hence the margin.
IVF_PROBE_SHARE = 1 / 64
IVF_MIN_PROBES = 16


def search_index(vectors: np.ndarray):
    """The FAISS index of these unit vectors, searched by inner product (cosine)."""
    import faiss

    n, dimension = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= EXACT_SEARCH_LIMIT:
        index = faiss.IndexFlatIP(dimension)
    else:
        lists = int(IVF_LISTS_PER_SQRT * math.sqrt(n))
        index = faiss.IndexIVFFlat(
            faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT
        )
        index.train(vectors)
        index.nprobe = min(lists, max(IVF_MIN_PROBES, int(lists * IVF_PROBE_SHARE)))
    if n:
        index.add(vectors)
    return index


def describe(index) -> str:
    """ "flat", or "ivf<lists>/<probes>"."""
    return f"ivf{index.nlist}/{index.nprobe}" if hasattr(index, "nprobe") else "flat"


def nearest(
    index, vectors: np.ndarray, query_vector: np.ndarray, k: int, allowed: np.ndarray | None
):
    """(rows, cosine scores) of the k nearest vectors, restricted to ``allowed`` rows.

    A few allowed rows on an IVF index (a named document's passages) are scored exactly from
    their own vectors: probing would miss those outside the probed lists. Otherwise the search
    skips disallowed rows by a bitmap, which costs a bit per row to build, not a hash set.
    """
    import faiss

    params = None
    if allowed is not None:
        if len(allowed) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if hasattr(index, "nprobe") and len(allowed) <= EXACT_SEARCH_LIMIT:
            scores = np.asarray(vectors[allowed]) @ query_vector
            best = top_rows(scores, k)
            return allowed[best], scores[best]
        member = np.zeros(index.ntotal, dtype=bool)
        member[allowed] = True
        selector = faiss.IDSelectorBitmap(np.packbits(member, bitorder="little"))
        params = (
            faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
            if hasattr(index, "nprobe")
            else faiss.SearchParameters(sel=selector)
        )
    k = min(k, index.ntotal)
    scores, rows = index.search(query_vector.reshape(1, -1), k, params=params)
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first (ties in row order)."""
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
