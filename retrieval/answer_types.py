"""What kind of answer a question asks for, and whether a sentence holds one.

A "when" question is answered by a sentence with a date, a definition question by a sentence
that defines; the embedding model alone often prefers a sentence that merely repeats the
question's words.
"""

from __future__ import annotations

import re

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
)

QUESTION_TYPES: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        r"^\s*(?:and\s+)?when\b|\b(?:what|which|by what|from what)\s+(?:date|day|year|month)\b"
        r"|\bdeadline\b|\bhow (?:long|soon)\b|\buntil when\b",
        re.IGNORECASE,
    ),
    "definition": re.compile(
        r"\bdefin(?:e|es|ed|ition)\b|\bmeaning of\b|\bwhat does .+ mean\b|\bwhat is meant by\b",
        re.IGNORECASE,
    ),
}

ANSWER_SHAPES: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\b|\b{_MONTH}\s+\d{{1,2}}\b|\b(?:19|20)\d\d\b"
        r"|\b\d+\s+(?:calendar\s+|working\s+)?(?:days?|weeks?|months?|years?|hours?)\b",
    ),
    "definition": re.compile(
        r"\bmeans\b|\brefers? to\b|\b(?:is|are) defined\b|\bdefined as\b|\bthe terms?\b"
        r"|\bshall mean\b",
        re.IGNORECASE,
    ),
}


_LIST_QUESTION = re.compile(
    r"^\s*(?:what|which)\s+(?:are|were)\b|\blist\b|\bname\s+(?:the|all)\b", re.IGNORECASE
)


def asks_for_list(question: str) -> bool:
    """True for "What are the three objectives …?": the answer is the items, not their intro."""
    return bool(_LIST_QUESTION.search(question))


def expected_type(question: str) -> str | None:
    """The kind of answer ``question`` asks for, or None when it asks for an explanation."""
    for kind, pattern in QUESTION_TYPES.items():
        if pattern.search(question):
            return kind
    return None


def has_answer_shape(kind: str | None, sentence: str) -> bool:
    """True when ``sentence`` holds an answer of the kind the question asks for."""
    return kind is not None and bool(ANSWER_SHAPES[kind].search(sentence))
