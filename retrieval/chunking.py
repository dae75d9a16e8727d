"""Structure-aware chunking: headings, then paragraphs, then sentences, within a token budget.

Chunks are offset ranges into the document text, so every quote is verbatim and locatable.
Cutting within the budget is in token_budget.py; the fit to the model's input in model_input.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from retrieval.errors import DocumentError
from retrieval.heading_lines import (
    LIST_LINE,
    MAX_HEADING_CHARS,
    NUMBERED,
    PLAIN_LEVEL,
    heading_level,
)
from retrieval.sentences import introduces_list, page_break
from retrieval.token_budget import (
    count_tokens,
    last_fitting,
    split_long,
    windowed_sentence_spans,
    within_budget,
)

# The chunks also follow heading_lines.py, token_budget.py, model_input.py and sentences.py,
# and each build stores the sentence table of snapshot.py's analyse: a change there that moves
# a chunk or changes the table needs a new version, as one here does.
CHUNKER_VERSION = "10"
HEADING_SEPARATOR = " › "
MAX_CHUNKS_PER_DOCUMENT = 2_000  # 2x the largest corpus document (EU AI Act, 954): embedding cost
_MAX_PATH_PARTS = 4

# "Sec. 4.8. Directing the Development of ... Memorandum. To develop ..." opens a section inline.
_INLINE = re.compile(r"((?:Sec(?:tion)?\.?\s+)?(\d+(?:\.\d+)*)\.\s+([A-Z][^.\n]{2,100}?)\.)\s+\S")
# A numbered paragraph opens with a sentence ("47. We will always respond firmly to …", "3. The
# CE marking shall be affixed …"); a section title capitalises its words ("Directing the
# Development of a National Security Memorandum"): this share of its longer words after the first.
_TITLE_CASE_SHARE = 0.75
_TITLE_WORD = re.compile(r"[A-Za-z][A-Za-z’'-]{3,}")
_TOO_SMALL = 1 / 3  # a chunk under this share of the budget takes sentences from the next one


@dataclass(frozen=True)
class Chunk:
    """A stretch ``text[start:end]`` under ``heading``, at most the budget in tokens."""

    start: int
    end: int
    heading: str
    tokens: int


def _blocks(text: str) -> list[tuple[int, int, int | None]]:
    """(start, end, heading level or None) for headings and paragraphs, in order."""
    blocks: list[tuple[int, int, int | None]] = []
    for para in re.finditer(r"\S(?:.*\S)?(?:\n[ \t]*\S.*)*", text):
        lines = [
            (m.start() + para.start(), m.end() + para.start())
            for m in re.finditer(r"\S.*", para.group())
        ]
        body_start, previous_end, in_list = None, para.start(), False
        for k, (start, end) in enumerate(lines):
            line = text[start:end].rstrip()
            following = text[lines[k + 1][0] : lines[k + 1][1]] if k + 1 < len(lines) else ""
            continued = bool(following) and not LIST_LINE.match(following)
            level = heading_level(line, single_line_block=len(lines) == 1, continued=continued)
            # "These objectives are:" then "1. Anticipate …", "2. Establish …": the numbered
            # lines after a list introduction in one paragraph are its items, not headings.
            if in_list and level is not None and NUMBERED.match(line):
                level = None
            in_list = in_list or (level is None and line.endswith(":"))
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
    return _joined_page_breaks(text, _demote_guessed_runs(blocks))


def _joined_page_breaks(
    text: str, blocks: list[tuple[int, int, int | None]]
) -> list[tuple[int, int, int | None]]:
    """Two paragraphs that are one sentence split by a PDF's page break become one."""
    joined: list[tuple[int, int, int | None]] = []
    for start, end, level in blocks:
        if joined and level is None and joined[-1][2] is None:
            before = text[joined[-1][0] : joined[-1][1]]
            if page_break(before, text[start:end]):
                joined[-1] = (joined[-1][0], end, None)
                continue
        joined.append((start, end, level))
    return joined


def _demote_guessed_runs(
    blocks: list[tuple[int, int, int | None]],
) -> list[tuple[int, int, int | None]]:
    """Short lines in a row (a signature block, a list of names) are content, not headings."""
    guessed = [level == PLAIN_LEVEL for _, _, level in blocks]
    return [
        (start, end, None)
        if guessed[i] and ((i > 0 and guessed[i - 1]) or (i + 1 < len(blocks) and guessed[i + 1]))
        else (start, end, level)
        for i, (start, end, level) in enumerate(blocks)
    ]


def _heading_label(line: str) -> str:
    return line.lstrip("#").strip()[:MAX_HEADING_CHARS]


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


def chunk_text(
    text: str,
    budget: int,
    counter: Callable[[str], int] = count_tokens,
    *,
    max_chunks: int = MAX_CHUNKS_PER_DOCUMENT,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``budget`` tokens, never mid-sentence if avoidable.

    A list's introduction stays with its first item, and a chunk too small to stand alone takes
    the leading sentences of the next paragraph, so neither is retrieved without its content.
    Work is linear in the text's length; more than ``max_chunks`` chunks is a DocumentError.
    """
    chunks: list[Chunk] = []
    path = _Path()
    pending: list[tuple[int, int]] = []  # the paragraphs (or parts) of the chunk being built

    def fits(start: int, end: int) -> bool:
        return within_budget(text, start, end, budget, counter)

    def emit(start: int, end: int) -> None:
        if len(chunks) >= max_chunks:
            raise too_many_chunks(max_chunks)
        chunks.append(Chunk(start, end, str(path), counter(text[start:end])))

    def flush(keep: int = 0) -> None:
        """Emit the pending paragraphs except the last ``keep``, which start the next chunk."""
        nonlocal pending
        done, pending = pending[: len(pending) - keep], pending[len(pending) - keep :]
        if done:
            emit(done[0][0], done[-1][1])

    blocks = _blocks(text)
    inlines = [
        _inline_heading(text, start, end) if level is None else None for start, end, level in blocks
    ]
    body_run = _body_runs(blocks, inlines)
    i = -1
    while (i := i + 1) < len(blocks):
        start, end, level = blocks[i]
        if level is not None:
            flush()
            label = _heading_label(text[start:end])
            numbered = NUMBERED.match(label)
            path.push(level, label, numbered.group(1) if numbered else "")
            continue
        inline = inlines[i]
        if inline:
            flush()
            number = inline.group(2)
            label = inline.group(1).rstrip(".")[:MAX_HEADING_CHARS]
            path.push(3 + number.count("."), label, number)
        if pending and fits(pending[0][0], end):
            # The body paragraphs that follow join too while they fit: found by galloping, as
            # counting the growing chunk once per paragraph cost budget x paragraphs.
            last = last_fitting(lambda k, at=pending[0][0]: fits(at, blocks[k][1]), i, body_run[i])
            pending.extend((b_start, b_end) for b_start, b_end, _ in blocks[i : last + 1])
            i = last
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
        for piece_start, piece_end in split_long(text, start, end, budget, counter):
            emit(piece_start, piece_end)
    flush()
    return chunks


def _inline_heading(text: str, start: int, end: int) -> re.Match | None:
    """The section title a paragraph opens with ("Sec. 4.8. Directing the Development of …"),
    or None for a numbered paragraph that opens with a sentence."""
    match = _INLINE.match(text, start, end)
    if match is None:
        return None
    later_words = _TITLE_WORD.findall(match.group(3))[1:]
    capitalised = sum(word[0].isupper() for word in later_words)
    return match if capitalised >= _TITLE_CASE_SHARE * len(later_words) else None


def _body_runs(blocks: list[tuple[int, int, int | None]], inlines: list) -> list[int]:
    """For each block, the last index of the run of body paragraphs (no heading, no inline
    section heading) that directly follows it."""
    runs = list(range(len(blocks)))
    for i in range(len(blocks) - 2, -1, -1):
        following_is_body = blocks[i + 1][2] is None and not inlines[i + 1]
        runs[i] = runs[i + 1] if following_is_body else i
    return runs


def too_many_chunks(max_chunks: int) -> DocumentError:
    return DocumentError(
        f"the document makes more than {max_chunks:,} chunks, the limit per document "
        "(setting POLICYBOT_MAX_CHUNKS_PER_DOCUMENT)"
    )


def _ends_with_list_intro(text: str, start: int, end: int) -> bool:
    return introduces_list(text[slice(*list(windowed_sentence_spans(text, start, end))[-1])])


def _take_leading_sentences(text, start, end, pending, fits) -> int:
    """Move into ``pending`` the leading sentences of ``text[start:end]`` that fit with it.

    Returns where the rest of the paragraph starts.
    """
    spans = windowed_sentence_spans(text, start, end)
    current, taken_end, rest = next(spans), start, start
    while (following := next(spans, None)) is not None and fits(pending[0][0], current[1]):
        taken_end, rest = current[1], following[0]
        current = following
    if rest == start:
        return start
    pending.append((start, taken_end))
    return rest
