"""The corpus's own words: correcting a question's typos, and finding the terms it lacks.

A question word the corpus does not hold is either a typo of one it holds ("resolutin",
"goverment") or a sign that the question is about something the corpus does not cover
("TRAIGA", "Apulia"). Typos are corrected against the corpus's words by edit distance, so
"definiton" searches as "definition"; a name-like word that stays unknown is a key term the
corpus lacks, and the answer step says so instead of quoting near-topic text.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property, lru_cache

from retrieval.lexical import words

# Edit distance a typo may have: one edit in a word of 5-7 letters, two from 8; shorter words
# are too easily another word ("texas" is two edits from "texts").
MIN_TYPO_LENGTH = 5
LONG_WORD = 8
# A question token that names something: capitalised after the first word, all capitals, or
# with a digit ("TRAIGA", "Apulia", "H100s", "1047").
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
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
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# Month and day names and the months' abbreviations ("Nov", "Sept"): they date, never name.
_CALENDAR = frozenset(MONTHS + _DAYS + [m[:3] for m in MONTHS] + ["sept"])


class Spelling:
    """Lower-case words of the corpus, grouped by first letter for fast near-miss lookups."""

    def __init__(self, known: Iterable[str]):
        self.known = frozenset(known)

    @cached_property
    def _by_initial(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self.known):  # sorted: ties go the same way in every process
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


@lru_cache(maxsize=256)
def name_like_tokens(question: str) -> tuple[str, ...]:
    """Tokens that look like names: capitalised (not first), all caps, or holding a digit; not
    months or days. Kept per question: the spelling and the abstention steps both read them."""
    tokens = []
    for match in _TOKEN.finditer(question):
        token = match.group(0)
        if len(token) < 2 or token.lower() in _CALENDAR:  # an initial ("E." of "E.O.") alone
            continue
        capitalised = token[:1].isupper() and match.start() > 0 and not _after_stop(question, match)
        upper = len(token) > 1 and token.replace("'s", "").replace("’s", "").isupper()
        if capitalised or upper or any(c.isdigit() for c in token):
            tokens.append(token)
    return tuple(tokens)


def _after_stop(text: str, match: re.Match) -> bool:
    """True for a word that opens a sentence, which is capitalised whatever it is."""
    before = text[: match.start()].rstrip()
    return not before or before[-1] in ".?!:"


def missing_names(
    question: str, spelling: Spelling, initials: frozenset[str], name_words: frozenset[str]
) -> list[str]:
    """Name-like words of the question that the corpus holds in no form: not as a word, not as
    the initials of a name it spells out ("UNGA", "AG"), not as part of a document's name
    ("SB53"), and not as a typo of a word it holds."""
    missing = []
    for token in name_like_tokens(question):
        if not words(token):  # "US", "The": a stopword names nothing
            continue
        if not all(
            _known(part, spelling, initials, name_words) for part in re.split(r"[-/]", token)
        ):
            missing.append(token)
    return missing


def _known(token: str, spelling: Spelling, initials: frozenset[str], name_words: frozenset[str]):
    """True when the corpus holds ``token`` as a word, an initialism, a part of a document's
    name, a typo of a word it holds, or (a code like "FY2025") as letters and digits it holds."""
    lower = token.lower().replace("’", "'").strip("'\".,;:!?()")
    forms = {lower, lower.removesuffix("'s"), lower.removesuffix("s")}
    if not lower or not words(lower):
        return True
    if any(f in spelling.known or f in initials or f in name_words for f in forms):
        return True
    pieces = re.findall(r"[a-z]+|\d+", lower)
    if len(pieces) > 1 and all(
        (p in spelling.known and (p.isdigit() or len(p) > 1)) or p in initials or p in name_words
        for p in pieces
    ):
        return True
    return spelling.correction(lower) is not None
