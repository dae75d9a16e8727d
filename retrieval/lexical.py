"""BM25 over stemmed words (bm25s), saved beside the vectors so both publish together."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
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
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | _QUESTION_WORDS


def words(text: str) -> list[str]:
    """Lower-cased words and numbers ("4.8", "10"), without stopwords, unstemmed."""
    stop = _stopwords()
    return [w for w in _WORD.findall(text.lower().replace("’", "'")) if w not in stop]


def terms(text: str) -> list[str]:
    """The stemmed terms BM25 indexes and matches."""
    return _stemmer().stemWords(words(text))


class LexicalIndex:
    """Scores every passage against a query; the corpus is small enough for a scan."""

    def __init__(self, retriever):
        self._retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

        retriever = bm25s.BM25()
        # An empty passage still needs a row so row numbers match the vector index.
        retriever.index([terms(text) or ["\u2205"] for text in texts], show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder)))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of each passage, in row order (zeros when no term matches)."""
        query_terms = [t for t in terms(query) if t in self._retriever.vocab_dict]
        if not query_terms:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(query_terms), dtype=np.float32)

    @property
    def size(self) -> int:
        return int(self._retriever.scores["num_docs"])

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term; 0 for a term the corpus lacks."""
        term_id = self._retriever.vocab_dict.get(term)
        if term_id is None:
            return 0.0
        indptr = self._retriever.scores["indptr"]
        df = int(indptr[term_id + 1] - indptr[term_id])
        n = self.size
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
