"""The corpus's own words: correcting a question's typos against them.

A question word the corpus does not hold is either a typo of one it holds ("resolutin",
"goverment") or a sign that the question is about something the corpus does not cover
(absent_names.py tells which). Typos are corrected against the corpus's words by edit distance,
so "definiton" searches as "definition". A compound the corpus also writes as two words is
searched both ways ("deepfake", "deep fake").
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property

import numpy as np

from retrieval.lexical import LexicalIndex, terms, words

# Edit distance a typo may have: one edit in a word of 5-7 letters, two from 8; shorter words
# are too easily another word ("texas" is two edits from "texts").
MIN_TYPO_LENGTH = 5
LONG_WORD = 8
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
DAY = r"\d{1,2}(?:st|nd|rd|th)?,?"


def month_pattern(month: str) -> str:
    """A month's name as texts write it: "February", "Feb.", "Sept"."""
    return rf"(?:{month}|{month[:4]}|{month[:3]})\b\.?"


# A month and year a question names ("in February 2025", "sept 2024", "dec 2025").
_MONTH_YEAR = re.compile(
    rf"\b({'|'.join(month_pattern(m) for m in MONTHS)})\s+(?:{DAY}\s+)?((?:19|20)\d\d)\b",
    re.IGNORECASE,
)


def months_named(text: str) -> list[tuple[re.Match, str]]:
    """Each month and year the text names, with its ISO form ("2025-02")."""
    found = []
    for match in _MONTH_YEAR.finditer(text):
        number = next(i for i, m in enumerate(MONTHS, 1) if match.group(1).lower()[:3] == m[:3])
        found.append((match, f"{match.group(2)}-{number:02d}"))
    return found


# Words this close (stopwords aside, in either order) count as one phrase: "Secretary of State
# for Science" holds the "Science Secretary". Measured at 1 to 4 on dev.jsonl, dev2 and four
# helper sets (446 questions): 1 catches 23 names of the unanswerable ones and refuses 2
# answerable questions ("the Homeland Security Secretary"); 2 catches 22 and refuses 1 ("the
# British Government"), as do 3 and 4, which catch 20 and 17.
NEAR = 2


def _pair_codes(first, second, size: int):
    """One number for each unordered pair of vocabulary positions."""
    return np.minimum(first, second) * size + np.maximum(first, second)


class Spelling:
    """Lower-case words of the corpus, grouped by first letter for fast near-miss lookups, and
    which of them stand near each other somewhere."""

    def __init__(self, known: Iterable[str], near: np.ndarray | None = None):
        self.words = sorted(set(known))  # sorted: ties go the same way in every process
        self.known = frozenset(self.words)
        # Sorted codes low * len(words) + high of the positions in ``words`` of two near words.
        self.near_pairs = np.empty(0, dtype=np.int64) if near is None else near

    @classmethod
    def of_texts(cls, texts: Iterable[str], names: Iterable[str] = ()) -> Spelling:
        """The words of these texts (passages, headings) and of the documents' names (titles,
        short titles, aliases), and which are near: a name's words all are, so "the Hiroshima
        Code" names the "Hiroshima Process International Code of Conduct"."""
        sequences = [words(text) for text in texts]
        name_words = [sorted(set(words(name))) for name in names]
        vocabulary = sorted({w for sequence in sequences + name_words for w in sequence})
        position = {w: i for i, w in enumerate(vocabulary)}
        size = len(vocabulary)
        codes = []
        for sequence in sequences:
            ids = np.array([position[w] for w in sequence], dtype=np.int64)
            codes += [_pair_codes(ids[:-gap], ids[gap:], size) for gap in range(1, NEAR + 1)]
        for name in name_words:
            ids = np.array([position[w] for w in name], dtype=np.int64)
            first, second = np.triu_indices(len(ids), 1)
            codes.append(_pair_codes(ids[first], ids[second], size))
        return cls(vocabulary, np.unique(np.concatenate(codes)) if codes else None)

    def near(self, first: str, second: str) -> bool:
        """True when the corpus has the words within ``NEAR`` words of each other, or in one
        document's name."""
        if not {first, second} <= self.known:
            return False
        a, b = (np.int64(bisect_left(self.words, w)) for w in (first, second))
        code = int(_pair_codes(a, b, len(self.words)))
        at = int(np.searchsorted(self.near_pairs, code))
        return at < len(self.near_pairs) and int(self.near_pairs[at]) == code

    @cached_property
    def _by_initial(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for word in self.words:
            groups[word[:1]].append(word)
        return groups

    def correction(self, word: str) -> str | None:
        """The corpus word ``word`` is most likely a typo of, or None."""
        if word in self.known or len(word) < MIN_TYPO_LENGTH or not word.isalpha():
            return None
        if not words(word):  # a stopword ("after", "would"): the corpus's words exclude them
            return None
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        limit = 1 if len(word) < LONG_WORD else 2
        candidates = [
            w for w in self._by_initial.get(word[0], ()) if abs(len(w) - len(word)) <= limit
        ]
        best = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=limit)
        return best[0] if best else None

    def corrected(self, text: str) -> str:
        """``text`` with each word the corpus lacks replaced by the corpus word it misspells."""

        def fix(match: re.Match) -> str:
            word = match.group(0)
            return self.correction(word.lower()) or word

        return re.sub(r"[A-Za-z]+", fix, text)


# The shortest word a compound splits into ("deep" of "deepfake"): shorter parts ("a", "in")
# split ordinary words.
MIN_PART = 4
# A compound is also searched as two words when at least a third as many passages hold both
# as hold the compound: "deepfake" 6 to 10 (the AI Act defines "deep fake"), "healthcare" 10
# to 29; not "technological" (1 to 452: "tech" and "nological" of a PDF's broken line) nor
# "explainability" (3 to 39).
APART_SHARE = 1 / 3


def spelled_apart(text: str, spelling: Spelling, lexical: LexicalIndex) -> list[str]:
    """The words of ``text`` that the corpus also writes as two ("deepfake" as "deep fake"),
    split: the two stand near each other somewhere, and enough passages hold both."""
    split = []
    for word in words(text):
        for cut in range(MIN_PART, len(word) - MIN_PART + 1):
            first, second = word[:cut], word[cut:]
            if not spelling.near(first, second):
                continue
            both = np.intersect1d(*(lexical.rows_with(t) for t in terms(f"{first} {second}")))
            if len(both) >= APART_SHARE * len(lexical.rows_with(terms(word)[0])):
                split.append(f"{first} {second}")
            break
    return split
