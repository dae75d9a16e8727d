"""Search backends against exact oracles: FAISS (exact and IVF) against NumPy, our BM25 scoring
of bm25s's saved arrays against bm25s itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import fusion
from retrieval import vectors as vector_search
from retrieval.lexical import LexicalIndex, terms
from retrieval.snapshot import TermSets


def unit_vectors(n: int, dimension: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact(vectors, query, k, allowed=None):
    scores = vectors @ query
    if allowed is not None:
        mask = np.full(len(vectors), -np.inf)
        mask[allowed] = 0
        scores = scores + mask
    order = np.argsort(-scores)[:k]
    return order[np.isfinite(scores[order])]


@pytest.fixture(params=["exact", "ivf"])
def backend(request, monkeypatch):
    if request.param == "ivf":  # the IVF index a large corpus gets, at a size a test can afford
        monkeypatch.setattr(vector_search, "EXACT_SEARCH_LIMIT", 100)
        monkeypatch.setattr(vector_search, "IVF_PROBE_SHARE", 1.0)  # every list: exact
    return request.param


@pytest.mark.parametrize("filtered", [False, True])
def test_search_returns_the_exact_nearest_rows(backend, filtered):
    vectors = unit_vectors(1000)
    index = vector_search.search_index(vectors)
    assert vector_search.describe(index).startswith("ivf" if backend == "ivf" else "flat")
    allowed = np.arange(0, 1000, 7) if filtered else None
    for query in unit_vectors(20, seed=1):
        rows, scores = vector_search.nearest(index, vectors, query, 10, allowed)
        assert list(rows) == list(exact(vectors, query, 10, allowed))
        assert np.allclose(scores, vectors[rows] @ query, atol=1e-5)
        if filtered:
            assert set(rows) <= set(allowed)


def test_search_with_an_empty_filter_or_few_rows(backend):
    vectors = unit_vectors(5 if backend == "exact" else 200)
    index = vector_search.search_index(vectors)
    rows, _ = vector_search.nearest(index, vectors, vectors[0], 10, np.array([], dtype=np.int64))
    assert len(rows) == 0
    rows, _ = vector_search.nearest(index, vectors, vectors[0], 3, np.array([0, 2, 4]))
    assert sorted(rows) == [0, 2, 4] and rows[0] == 0


def test_dense_search_beside_bm25_gives_the_candidates_of_one_after_the_other(service, monkeypatch):
    """On a large corpus the dense searches run in a thread while BM25 scores: the candidates,
    with a filter and a named document's own rankings, are those of the searches in turn."""
    service.reindex()
    snapshot = service.current()
    rows = np.arange(len(snapshot.passages))
    query = service.embedder.embed(["who signed the memorandum on AI safety?"])[0]
    cases = [(None, None), (rows[::2], None), (None, rows[1:3]), (rows[::2], rows[:2])]
    alone = [fusion.candidate_rows(snapshot, "memorandum", query, a, 5, f) for a, f in cases]
    monkeypatch.setattr(fusion, "PARALLEL_SEARCH_FROM", 0)
    beside = [fusion.candidate_rows(snapshot, "memorandum", query, a, 5, f) for a, f in cases]
    assert beside == alone
    assert len({tuple(c.rows) for c in alone}) > 1  # the cases search differently


def test_few_allowed_rows_are_all_searched_when_the_index_probes_few_lists(monkeypatch):
    """A named document's passages, scattered over lists the IVF search does not probe."""
    monkeypatch.setattr(vector_search, "EXACT_SEARCH_LIMIT", 100)
    monkeypatch.setattr(vector_search, "IVF_PROBE_SHARE", 0.0)
    monkeypatch.setattr(vector_search, "IVF_MIN_PROBES", 1)
    vectors = unit_vectors(2000)
    index = vector_search.search_index(vectors)
    assert vector_search.describe(index).endswith("/1")
    allowed = np.arange(3, 2000, 40)  # 50 rows
    for query in unit_vectors(10, seed=2):
        rows, scores = vector_search.nearest(index, vectors, query, 10, allowed)
        assert list(rows) == list(exact(vectors, query, 10, allowed))
        assert np.allclose(scores, vectors[rows] @ query, atol=1e-5)


@pytest.mark.parametrize("size", [30, 5_000])
def test_lexical_top_rows_are_those_of_a_full_sort(monkeypatch, size):
    monkeypatch.setattr(fusion, "TOP_SAMPLE_FROM", 1_000)  # the sampled path, at a test's size
    rng = np.random.default_rng(size)
    for _ in range(20):
        scores = (rng.random(size) * (rng.random(size) > 0.5)).astype(np.float32)
        scores[rng.integers(0, size, 5)] = scores.max()  # ties at the top
        top = fusion._top(scores, 50)
        assert np.array_equal(scores[top], np.sort(scores)[::-1][:50])
        assert len(set(top.tolist())) == len(top)


def test_bm25_from_saved_arrays_scores_as_bm25s_does(tmp_path):
    import bm25s

    texts = [
        "Developers shall report training runs above the compute threshold.",
        "The AI Safety Institute evaluates frontier models before deployment.",
        "",
        "Providers of general-purpose AI models shall report serious incidents.",
        "Compute thresholds trigger reporting; reporting is annual.",
    ]
    built = LexicalIndex.build([terms(t) for t in texts])
    built.save(tmp_path / "lexical")
    loaded = LexicalIndex.load(tmp_path / "lexical")
    reference = bm25s.BM25.load(str(tmp_path / "lexical"))
    for query in ("compute reporting threshold", "frontier models", "report report", "bread"):
        known = [t for t in terms(query) if t in reference.vocab_dict]
        expected = reference.get_scores(known) if known else np.zeros(len(texts))
        assert np.array_equal(loaded.scores(query), np.asarray(expected, dtype=np.float32))
        assert np.array_equal(built.scores(query), loaded.scores(query))
    assert loaded.size == 5 and loaded.idf("bread") == 0.0
    assert loaded.idf(terms("frontier")[0]) > loaded.idf(terms("report")[0]) > 0


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.sets(st.integers(0, 40)), min_size=1, max_size=12),
    weights=st.dictionaries(st.integers(-1, 45), st.floats(0, 10), max_size=8),
    data=st.data(),
)
def test_weight_held_is_each_rows_share_of_the_weights(rows, weights, data):
    """The answer step's vectorised term coverage: per row, the weight of the terms it holds."""
    term_sets = TermSets.build([sorted(r) for r in rows])
    chosen = data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=20))
    held = term_sets.weight_held(np.array(chosen), weights)
    expected = [sum(w for t, w in weights.items() if t in rows[r]) for r in chosen]
    assert held == pytest.approx(expected)
