"""Numbered parts of a text ("Article 5", "Annex III", "Sec. 4.2", "22757.12.", a guidance's
"Practice 1.1:"): those a question cites and those a passage lies under, so "what does Article 5
say?" quotes Article 5 itself and not the many passages that refer to it."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Part = tuple[str, str]  # (kind, label): ("article", "5"), ("annex", "iii"), ("section", "4.2")

_KINDS = {
    "article": "article",
    "art": "article",
    "section": "section",
    "sec": "section",
    "§": "section",
    "annex": "annex",
    "chapter": "chapter",
    "appendix": "appendix",
    "part": "part",
}
_LABEL = r"(\d+(?:\.\d+)*|[IVXLC]+|[A-Z])\b"  # 4.2, III, or the letter of "Appendix C"
# A cited part in a question: "article 5", "Art. 99", "sec 4.2", "§ 22757.12", "annex iii". "Part"
# is left out: "part of it" and "part I" are ordinary English far more often than citations.
_CITED = re.compile(
    r"(?:\b(article|art|section|sec|annex|chapter|appendix)\.?|(§))\s*" + _LABEL, re.IGNORECASE
)
# A heading segment that is a part: "Article 5", "ANNEX III", "Sec. 4.", "Part 2:", or a bare
# number that numbers a section ("4.2. Ensuring …", "1.1 Understanding …").
_HEADING_PART = re.compile(
    r"^(?:(article|section|sec|annex|chapter|appendix|part)\.?\s+"
    + _LABEL
    + r"|(\d+(?:\.\d+)*)\.?\s)",
    re.IGNORECASE,
)
# A paragraph that opens a code section in a statute's text: "22757.12. (a) …", "1107. For …".
_OPENED_SECTION = re.compile(r"^(\d+\.\d+|\d{3,})\.\s", re.MULTILINE)


def cited_parts(question: str) -> frozenset[Part]:
    """The parts a question cites, with roman numerals in lower case."""
    return frozenset(
        (_KINDS[(kind or sign).lower()], label.lower())
        for kind, sign, label in _CITED.findall(question)
    )


@lru_cache(maxsize=4096)
def heading_parts(heading: str) -> frozenset[Part]:
    """The parts a heading path lies under, each with the parts that hold it ("4.2" is in
    "4"), so a question citing section 4 finds its subsections (passages share headings)."""
    parts: set[Part] = set()
    for segment in heading.split(" › "):
        found = _HEADING_PART.match(segment.strip())
        if found:
            kind, label, number = found.groups()
            parts |= _with_ancestors(_KINDS[kind.lower()] if kind else "section", label or number)
    return frozenset(parts)


def innermost_part(heading: str) -> str:
    """The heading path from its last numbered part on ("Article 85 › Right to lodge a
    complaint …" of "CHAPTER IX › SECTION 4 › Article 85 › …"), or "" when it names none."""
    segments = heading.split(" › ")
    numbered = [i for i, s in enumerate(segments) if _HEADING_PART.match(s.strip())]
    return " › ".join(segments[numbered[-1] :]) if numbered else ""


def opened_sections(text: str) -> list[tuple[Part, int]]:
    """The code sections whose opening paragraph is in the text, with where it starts."""
    return [(("section", m.group(1)), m.start()) for m in _OPENED_SECTION.finditer(text)]


# A line that opens a labelled item of guidance: "Practice 1.1: Identify …", "GOVERN 1.2:",
# "Objective 3:", "Question 8:". The label's word is the item's kind, whatever it is.
_OPENED_ITEM = re.compile(r"^([A-Z][A-Za-z]{2,})\s+(\d+(?:\.\d+)*):(?!\d)", re.MULTILINE)
# An item a question cites: "practice 1.1", "GOVERN 1.2", "objective #3".
_CITED_ITEM = re.compile(r"\b([A-Za-z]{3,})\s+#?(\d+(?:\.\d+)*)\b")


def opened_items(text: str) -> list[tuple[Part, int]]:
    """The labelled items whose opening line is in the text, with where it starts."""
    return [((m.group(1).lower(), m.group(2)), m.start()) for m in _OPENED_ITEM.finditer(text)]


def cited_items(question: str, opens_items: Callable[[str], bool]) -> frozenset[Part]:
    """The labelled items a question cites, of kinds that the corpus's lines open
    (``opens_items(kind)``), so "within 90 days" cites nothing: no line opens "Within 90:"."""
    return frozenset(
        (word.lower(), label)
        for word, label in _CITED_ITEM.findall(question)
        if word.lower() not in _KINDS and opens_items(word.lower())
    )


def _with_ancestors(kind: str, label: str) -> set[Part]:
    numbers = label.lower().split(".")
    return {(kind, ".".join(numbers[:n])) for n in range(1, len(numbers) + 1)}
