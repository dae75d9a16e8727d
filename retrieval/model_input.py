"""What the model embeds for a chunk, split again where it is over the model's input limit."""

from __future__ import annotations

from collections.abc import Callable

from retrieval.chunking import MAX_CHUNKS_PER_DOCUMENT, Chunk, too_many_chunks
from retrieval.token_budget import count_tokens, split_long

_MAX_CONTEXT_TITLE_CHARS = 200  # 12 words of the corpus's titles take at most 118 characters


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
            raise too_many_chunks(max_chunks)
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
            for start, end in split_long(text, chunk.start, chunk.end, budget, count_tokens)
        ]
        if pieces == [chunk]:  # it cannot be cut smaller: splitting again would never end
            keep(chunk)
            return
        for piece in pieces:
            fit(piece)

    for chunk in chunks:
        fit(chunk)
    return fitted
