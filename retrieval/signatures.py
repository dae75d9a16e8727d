"""The signature block that closes a signed text, for "who signed the AI Act?".

A signatory's name stands on a line of its own in capitals ("R. METSOLA", "JOSEPH R. BIDEN
JR."), among short lines that say for whom, where and when ("For the Council", "The
President", "THE WHITE HOUSE,", "October 30, 2023."). Those lines answer; the prose around
them only talks about signing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from retrieval.sentences import starts_list_item

# "Who signed …?", "when was EO 14110 signed?", "the act's signatories" (not "sign up to").
_SIGNING_QUESTION = re.compile(
    r"\b(?:who|when|where|what date)\b.*\bsigned\b(?!\s+(?:up|off|on)\b)|\bsignator(?:y|ies)\b",
    re.IGNORECASE,
)
# A name in capitals with at least one initial: "R. METSOLA", "DONALD J. TRUMP".
SIGNATURE_LINE = re.compile(
    r"(?=.*\b[A-Z]\.(?:\s|$))(?:[A-Z]\.|[A-Z][A-Z'-]+\.?)(?: (?:[A-Z]\.|[A-Z][A-Z'-]+\.?)){1,4}"
)
# The lines of a signature block are this short ("Done at Brussels, 13 June 2024." has 6
# words); the text's closing provision before it is a sentence of 15 or more.
BLOCK_LINE_WORDS = 8


def asks_signatories(question: str) -> bool:
    """True for a question about who signed a text, or when or where it was signed."""
    return bool(_SIGNING_QUESTION.search(question))


def _lines(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S(?:.*\S)?", text)]


def _short(line: str) -> bool:
    return len(line.split()) <= BLOCK_LINE_WORDS and not starts_list_item(line)


def signature_block(text: str) -> tuple[int, int] | None:
    """Where the run of short lines around the first signatory's line lies in ``text``."""
    lines = _lines(text)
    at = next((i for i, (s, e) in enumerate(lines) if SIGNATURE_LINE.fullmatch(text[s:e])), None)
    if at is None:
        return None
    first = last = at
    while first > 0 and _short(text[slice(*lines[first - 1])]):
        first -= 1
    while last + 1 < len(lines) and _short(text[slice(*lines[last + 1])]):
        last += 1
    return lines[first][0], lines[last][1]


def _short_run(text: str, from_end: bool) -> tuple[int, int] | None:
    """Where the short lines that open (or close) ``text`` lie: the part of a block that the
    passage next to it holds ("The President" / "M. MICHEL" after "For the Council")."""
    lines = _lines(text)
    ordered = lines[::-1] if from_end else lines
    count = next((i for i, (s, e) in enumerate(ordered) if not _short(text[s:e])), len(lines))
    if not count:
        return None
    run = sorted(ordered[:count])
    return run[0][0], run[-1][1]


def signature_spans(
    rows: Sequence[int], text_of: Callable[[int], str]
) -> dict[int, tuple[int, int]]:
    """Row -> the span of its passage's signature block, for the rows of one document in
    order; a block that runs to its passage's end (or from its start) goes on in the next
    passage (the one before)."""
    spans: dict[int, tuple[int, int]] = {}
    for i, row in enumerate(rows):
        text = text_of(row)
        block = signature_block(text)
        if block is None:
            continue
        spans[row] = block
        if not text[: block[0]].strip() and i > 0:
            before = _short_run(text_of(rows[i - 1]), from_end=True)
            if before is not None:
                spans[rows[i - 1]] = before
        if not text[block[1] :].strip() and i + 1 < len(rows):
            after = _short_run(text_of(rows[i + 1]), from_end=False)
            if after is not None:
                spans[rows[i + 1]] = after
    return dict(sorted(spans.items()))
