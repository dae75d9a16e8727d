"""Vector search: exact by one matrix-vector product for a corpus of ordinary size, a FAISS
IVF index for a large one."""

from __future__ import annotations

import math

import numpy as np

# Exact search up to this many passages: NumPy's matrix-vector product (BLAS) scores them all
# faster than FAISS's flat index does for one question (0.09 against 0.31 ms at 2.6k passages,
# 2.3 against 4.8 ms at 20k, here), and needs no index beside the vectors. Beyond it an IVF
# index, whose cost grows with the lists probed instead of with the corpus. A search restricted
# to at most this many rows scores them exactly on any index.
EXACT_SEARCH_LIMIT = 20_000
IVF_LISTS_PER_SQRT = 4  # nlist = 4·√N, the usual FAISS starting point
# Share of the lists probed per question: 62 of 4,000 at 1M passages, about 3 ms a question.
# scripts/bench.py --scale 1000000 measured recall@50 against exact search 0.997 from 16 probes
# up on its synthetic data; NOTES.md measured 0.963 at 32 on harder data, hence the margin.
IVF_PROBE_SHARE = 1 / 64
IVF_MIN_PROBES = 16


def search_index(vectors: np.ndarray):
    """The FAISS IVF index of these unit vectors, searched by inner product (cosine); None for
    a corpus that is searched exactly."""
    n, dimension = vectors.shape
    if n <= EXACT_SEARCH_LIMIT:
        return None
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    lists = int(IVF_LISTS_PER_SQRT * math.sqrt(n))
    index = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT
    )
    index.train(vectors)
    index.nprobe = min(lists, max(IVF_MIN_PROBES, int(lists * IVF_PROBE_SHARE)))
    index.add(vectors)
    return index


def describe(index) -> str:
    """ "flat" (exact search), or "ivf<lists>/<probes>"."""
    return "flat" if index is None else f"ivf{index.nlist}/{index.nprobe}"


def nearest(
    index, vectors: np.ndarray, query_vector: np.ndarray, k: int, allowed: np.ndarray | None
):
    """(rows, cosine scores) of the k nearest vectors, restricted to ``allowed`` rows.

    Without an index, or for a few allowed rows (a named document's passages, which probing
    would miss outside the probed lists), the rows are scored exactly from their own vectors.
    Otherwise the IVF search skips disallowed rows by a bitmap, which costs a bit per row to
    build, not a hash set.
    """
    if allowed is not None and len(allowed) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    if index is None or (allowed is not None and len(allowed) <= EXACT_SEARCH_LIMIT):
        rows = np.arange(len(vectors)) if allowed is None else allowed
        scores = (np.asarray(vectors) if allowed is None else np.asarray(vectors[allowed])) @ (
            query_vector
        )
        best = top_rows(scores, k)
        return rows[best], scores[best]
    import faiss

    params = None
    if allowed is not None:
        member = np.zeros(index.ntotal, dtype=bool)
        member[allowed] = True
        selector = faiss.IDSelectorBitmap(np.packbits(member, bitorder="little"))
        params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
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
