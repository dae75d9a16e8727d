"""Text within Discord's limits: escaping, cutting at sentence or word ends, quoting.

Text from documents and users is escaped with ``discord.utils.escape_markdown`` before any
Markdown of our own is added, and text is shortened at sentence (else word) boundaries on the
raw text, then re-rendered, so a cut never splits a word, an escape or a ``**bold**`` pair.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import quote

import discord

from retrieval.sentences import sentence_spans
from retrieval.types import DocumentInfo

# Discord limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
MESSAGE_LIMIT = 2000
SELECT_OPTIONS_LIMIT = 25
OPTION_TEXT_LIMIT = 100  # select option label, description and value
CHOICES_LIMIT = 25  # autocomplete choices
THREAD_NAME_LIMIT = 100

# Leave a little room under the 6,000 total for the code points Discord may count differently.
EMBED_BUDGET = EMBED_TOTAL_LIMIT - 100
ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")
_UNESCAPE = re.compile(r"\\(.)", re.S)


def escape(text: str) -> str:
    """Text from a document or a user, safe to place inside our own Markdown."""
    return discord.utils.escape_markdown(text)


def link_text(text: str) -> str:
    """Text for the label of ``[label](url)``: escaped, and its brackets too."""
    return re.sub(r"(?<!\\)([\[\]])", r"\\\1", escape(text))


def unescape(text: str) -> str:
    """Undo :func:`escape` (best effort: used to read a question back from an embed title)."""
    return _UNESCAPE.sub(r"\1", text)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _word_ends(text: str, start: int, stop: int) -> list[int]:
    """Offsets in ``(start, stop]`` where a whole word of ``text`` ends."""
    ends = []
    for m in re.finditer(r"\S+", text[start:]):
        end = start + m.end()
        if end > stop:
            break
        ends.append(end)
    return ends


def fit(text: str, limit: int, render: Callable[[str], str] = escape) -> str:
    """``render(text)``, shortened at the last sentence (else word) end that fits ``limit``.

    A shortened result ends with "…". Only when one word alone is longer than ``limit`` is it
    cut inside the word, since Discord would refuse the message otherwise.
    """
    text = text.strip()
    rendered = render(text)
    if len(rendered) <= limit:
        return rendered
    room = limit - len(ELLIPSIS)
    if room <= 0:
        return ELLIPSIS[: max(limit, 0)]

    def ok(end: int) -> str | None:
        out = render(text[:end].rstrip())
        return out + ELLIPSIS if out and len(out) <= room else None

    # Rendering never shortens text, so no prefix longer than ``room`` can fit.
    for _, end in reversed([s for s in sentence_spans(text) if s[1] <= room]):
        if out := ok(end):
            return out
    for end in reversed(_word_ends(text, 0, room)):
        if out := ok(end):
            return out
    for end in range(room, 0, -1):  # one word longer than the limit
        out = render(text[:end])
        if len(out) <= room and not out.endswith("\\"):
            return out + ELLIPSIS
    return ELLIPSIS


def merge_spans(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Sorted, clipped, merged highlight spans."""
    out: list[tuple[int, int]] = []
    for a, b in sorted((max(0, a), min(length, b)) for a, b in spans):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def render_quote(text: str, highlights: Sequence[tuple[int, int]], start: int, end: int) -> str:
    """``text[start:end]`` on one line, escaped, with the highlighted spans in **bold**."""
    spans = merge_spans(((a - start, b - start) for a, b in highlights), end - start)
    piece = text[start:end]
    parts: list[str] = []
    pos = 0
    for a, b in spans:
        parts.append(escape(_SPACE.sub(" ", piece[pos:a])))
        bold = _SPACE.sub(" ", piece[a:b])
        core = bold.strip()
        if core:
            lead = " " if bold[:1].isspace() else ""
            trail = " " if bold[-1:].isspace() else ""
            parts.append(f"{lead}**{escape(core)}**{trail}")
        else:
            parts.append(bold)
        pos = b
    parts.append(escape(_SPACE.sub(" ", piece[pos:])))
    return _SPACE.sub(" ", "".join(parts)).strip()


def fit_quote(text: str, highlights: Sequence[tuple[int, int]], limit: int) -> str:
    """The best window of ``text`` that fits ``limit``: the highlighted sentence first.

    Whole sentences are added after and before it while they fit; "…" marks each cut end.
    """
    text = text.rstrip()
    if not text.strip() or limit <= 2 * len(ELLIPSIS):
        return ""
    spans = merge_spans(highlights, len(text))
    first = _skip_space(text, 0)

    def render(a: int, b: int) -> str:
        body = render_quote(text, spans, a, b)
        return (ELLIPSIS if a > first else "") + body + (ELLIPSIS if b < len(text) else "")

    full = render(first, len(text))
    if len(full) <= limit:
        return full
    sentences = sentence_spans(text)
    focus = spans[0][0] if spans else first
    core = next((i for i, (_, e) in enumerate(sentences) if focus < e), 0)
    if len(render(*sentences[core])) > limit:
        return _cut_sentence(text, sentences[core], focus, limit, render)
    lo = hi = core
    after = True  # alternate: a sentence after, then one before, while they fit
    while True:
        tries = [(lo, hi + 1), (lo - 1, hi)] if after else [(lo - 1, hi), (lo, hi + 1)]
        for a, b in tries:
            fits = a >= 0 and b < len(sentences)
            if fits and len(render(sentences[a][0], sentences[b][1])) <= limit:
                lo, hi = a, b
                break
        else:
            break
        after = not after
    return render(sentences[lo][0], sentences[hi][1])


def _cut_sentence(
    text: str, sentence: tuple[int, int], focus: int, limit: int, render: Callable[[int, int], str]
) -> str:
    """One sentence longer than ``limit``: keep from its start (or nearer the highlight) and
    cut after the last whole word that fits."""
    s, e = sentence
    focus = min(max(focus, s), e)
    starts = [s] + [s + m.end() for m in re.finditer(r"\s+", text[s:focus])]
    for a in starts:
        for b in reversed(_word_ends(text, a, e)):
            if b > focus or a == starts[-1]:
                out = render(a, b)
                if len(out) <= limit:
                    return out
    a = starts[-1]
    for b in range(min(e, a + limit), a, -1):  # a single word longer than the limit
        out = render(a, b)
        if len(out) <= limit and not out.rstrip(ELLIPSIS).endswith("\\"):
            return out
    return ""


def safe_link(url: str) -> str:
    """A URL usable inside ``[text](url)``: spaces and brackets percent-encoded."""
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._").replace("(", "%28").replace(")", "%29")


def document_line(doc: DocumentInfo, limit: int = 200) -> str:
    """'Publisher · date · jurisdiction', escaped, with empty parts left out."""
    return fit(" · ".join(p for p in (doc.publisher, doc.date, doc.jurisdiction) if p), limit)


def thread_name(question: str) -> str:
    """A thread title from a question (plain text, ≤ 100 characters)."""
    name = _SPACE.sub(" ", question).strip() or "PolicyBot answer"
    return fit(name, THREAD_NAME_LIMIT, str)
