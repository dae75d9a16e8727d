"""BM25 over stemmed words, saved beside the vectors so both publish together.

bm25s computes every term's per-passage score when a build is made; a question only sums the
columns of its terms, which the loader does with NumPy from bm25s's saved arrays. Importing
bm25s (and SciPy with it) would cost a third of a second of every cold start.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


# Words that shape a question but never name what it is about.
_QUESTION_WORDS = {
    "who", "whom", "whose", "what", "when", "where", "which", "why", "how", "does", "did", "do",
    "can", "could", "would", "should", "say", "says", "said", "tell", "according", "many", "much",
    "i", "me", "my",
}  # fmt: skip


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    """NLTK's English stopwords as bm25s ships them, read without importing bm25s itself."""
    spec = importlib.util.find_spec("bm25s")
    path = Path(spec.origin).with_name("stopwords.py")
    module_spec = importlib.util.spec_from_file_location("_bm25s_stopwords", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return frozenset(module.STOPWORDS_EN_PLUS) | _QUESTION_WORDS


def words(text: str) -> list[str]:
    """Lower-cased words and numbers ("4.8", "10"), without stopwords, unstemmed."""
    stop = _stopwords()
    return [w for w in _WORD.findall(text.lower().replace("’", "'")) if w not in stop]


def terms(text: str) -> list[str]:
    """The stemmed terms BM25 indexes and matches."""
    return _stemmer().stemWords(words(text))


# bm25s's saved score matrix (CSC: one column of passage scores per term) and vocabulary.
_SAVED = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy")
_VOCABULARY = "vocab.index.json"


class LexicalIndex:
    """BM25 score of every passage for a query: the sum of its terms' precomputed columns."""

    def __init__(self, vocabulary: dict[str, int], data, indices, indptr, size: int, saver=None):
        self.vocabulary = vocabulary
        self._data, self._indices, self._indptr = data, indices, indptr
        self.size = size
        self._saver = saver  # the bm25s retriever of a new build, which writes the files

    @classmethod
    def build(cls, passage_terms: Iterable[list[str]]) -> LexicalIndex:
        """The index of each passage's ``terms`` (in row order)."""
        import bm25s

        retriever = bm25s.BM25()
        # An empty passage still needs a row so row numbers match the vector index.
        retriever.index([t or ["\u2205"] for t in passage_terms], show_progress=False)
        scores = retriever.scores
        return cls(
            retriever.vocab_dict,
            scores["data"],
            scores["indices"],
            scores["indptr"],
            int(scores["num_docs"]),
            saver=retriever,
        )

    def save(self, folder: Path) -> None:
        self._saver.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        data, indices, indptr = (np.load(folder / name) for name in _SAVED)
        params = json.loads((folder / "params.index.json").read_text("utf-8"))
        if params.get("method") != "lucene":  # other variants add a non-occurrence score
            raise ValueError(f"unexpected BM25 variant {params.get('method')!r}")
        vocabulary = json.loads((folder / _VOCABULARY).read_text("utf-8"))
        return cls(vocabulary, data, indices, indptr, int(params["num_docs"]))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of each passage, in row order (zeros when no term matches)."""
        scores = np.zeros(self.size, dtype=np.float32)
        for term in terms(query):
            term_id = self.vocabulary.get(term)
            if term_id is not None:
                start, end = self._indptr[term_id], self._indptr[term_id + 1]
                np.add.at(scores, self._indices[start:end], self._data[start:end])
        return scores

    def rows_with(self, term: str) -> np.ndarray:
        """The rows that hold a stemmed term."""
        term_id = self.vocabulary.get(term)
        if term_id is None:
            return np.empty(0, dtype=np.int64)
        return self._indices[self._indptr[term_id] : self._indptr[term_id + 1]]

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term; 0 for a term the corpus lacks."""
        term_id = self.vocabulary.get(term)
        if term_id is None:
            return 0.0
        df = int(self._indptr[term_id + 1] - self._indptr[term_id])
        n = self.size
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
