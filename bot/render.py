"""Pure rendering: engine results → Discord embeds and text, within every Discord limit.

Nothing here talks to Discord; tests call these functions directly. Text from documents and
users is escaped with ``discord.utils.escape_markdown`` before any Markdown of our own is added,
and text is shortened at sentence (else word) boundaries on the raw text, then re-rendered, so a
cut never splits a word, an escape or a ``**bold**`` pair.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import discord

from retrieval.sentences import sentence_spans
from retrieval.types import AddResult, Answer, DocumentInfo, IndexReport, Passage

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
_TOTAL_BUDGET = EMBED_TOTAL_LIMIT - 100
ELLIPSIS = "…"
ANSWER_COLOUR = discord.Colour.blue()
ABSTAIN_COLOUR = discord.Colour.light_grey()
_QUESTION_PREFIX = "Question: "
_JURISDICTION_RE = re.compile(r"^Jurisdiction: (?P<j>.+?) · ", re.M)
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


def _merge(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
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
    spans = _merge(((a - start, b - start) for a, b in highlights), end - start)
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
    spans = _merge(highlights, len(text))
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


def _safe_link(url: str) -> str:
    """A URL usable inside ``[text](url)``: spaces and brackets percent-encoded."""
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._").replace("(", "%28").replace(")", "%29")


def document_line(doc: DocumentInfo, limit: int = 200) -> str:
    """'Publisher · date · jurisdiction', escaped, with empty parts left out."""
    return fit(" · ".join(p for p in (doc.publisher, doc.date, doc.jurisdiction) if p), limit)


def source_field(n: int, passage: Passage, limit: int = FIELD_VALUE_LIMIT) -> tuple[str, str]:
    """(name, value) of source ``n``: title, publisher, date, warning, bold-quoted text, link."""
    doc = passage.document
    name = fit(f"[{n}] {doc.title or doc.doc_id}", FIELD_NAME_LIMIT)
    limit = max(0, min(limit, FIELD_VALUE_LIMIT))
    head = [
        line
        for line in (
            document_line(doc),
            fit(f"⚠️ {doc.warning}", 200) if doc.warning else "",
            fit(f"§ {passage.heading}", 150) if passage.heading else "",
        )
        if line
    ]
    link = ""
    for url in (passage.link, doc.url):
        if url and len(_safe_link(url)) <= max(120, limit // 3):
            link = f"[Open the source]({_safe_link(url)})"
            break
    while True:
        fixed = sum(len(x) + 1 for x in head) + (len(link) + 1 if link else 0) + len("> ")
        room = limit - fixed
        if room >= 80 or not (head or link):
            break
        # Drop what helps least until the quote has room: heading, warning... then the link.
        if head:
            head.pop()
        else:
            link = ""
    quote_text = fit_quote(passage.text, passage.highlights, room)
    lines = [*head, *([f"> {quote_text}"] if quote_text else []), *([link] if link else [])]
    value = "\n".join(lines)
    if not value or len(value) > limit:
        value = fit(doc.title or doc.doc_id, limit) if limit else ""
    return name, value or "\u200b"


def answer_body(answer: Answer, limit: int) -> str:
    """The answer sentences with [n] markers, whole sentences only, within ``limit``."""
    pieces = [f"{escape(s.text.strip())} [{s.source}]" for s in answer.sentences]
    out = ""
    for i, piece in enumerate(pieces):
        candidate = f"{out} {piece}" if out else piece
        more = i + 1 < len(pieces)
        if len(candidate) + (len(ELLIPSIS) + 1 if more else 0) <= limit:
            out = candidate
            continue
        if not out:  # the first sentence alone is too long: cut it at a word
            sentence = answer.sentences[0]
            marker = f" [{sentence.source}]"
            out = fit(sentence.text, limit - len(marker) - 1) + marker
            return out
        return f"{out} {ELLIPSIS}"
    return out


def abstain_body(answer: Answer, limit: int) -> str:
    """Says plainly that the corpus does not support an answer, and names the nearest documents."""
    head = "**The indexed documents do not support an answer to this question.**"
    tail = "Try rephrasing, or ask an admin to add a document that covers it."
    lines = [head]
    if answer.nearest:
        lines.append("The nearest documents are:")
        for i, doc in enumerate(answer.nearest):
            link = _safe_link(doc.url)
            title = link_text(doc.title or doc.doc_id) if link else escape(doc.title or doc.doc_id)
            entry = f"• [{title}]({link})" if link else f"• {title}"
            meta = document_line(doc)
            entry += f" — {meta}" if meta else ""
            if doc.warning:
                entry += f" ⚠️ {escape(doc.warning)}"
            more = f"{ELLIPSIS} and {len(answer.nearest) - i} more"
            if len("\n".join([*lines, entry, more, tail])) > limit:
                lines.append(more)
                break
            lines.append(entry)
    else:
        lines.append("No indexed document is close to it.")
    lines.append(tail)
    text = "\n".join(lines)
    return text if len(text) <= limit else fit(head.strip("*"), limit)


def shown_passages(answer: Answer, top_k: int) -> tuple[Passage, ...]:
    """The passages cited under the answer (none when it abstains)."""
    return () if answer.abstained else answer.passages[:top_k]


def more_passages(answer: Answer, top_k: int) -> tuple[Passage, ...]:
    """The passages "More sources" shows: the rest, or the closest ones after an abstention."""
    return answer.passages if answer.abstained else answer.passages[top_k:]


def cited_chunk_ids(answer: Answer, top_k: int) -> list[str]:
    """Chunk ids of the passages the answer cites (of the shown ones when it cites none)."""
    ids: list[str] = []
    for s in answer.sentences:
        if 1 <= s.source <= len(answer.passages):
            cid = answer.passages[s.source - 1].chunk_id
            if cid not in ids:
                ids.append(cid)
    return ids or [p.chunk_id for p in answer.passages[:top_k]]


def _footer(answer: Answer, jurisdiction: str | None, full_question: bool) -> str:
    seconds = answer.elapsed_ms / 1000
    text = (
        f"Jurisdiction: {jurisdiction or 'all'} · {seconds:.1f} s · "
        "Quotes are verbatim: follow the links to check them."
    )
    if full_question:
        text = fit(f"{text}\n{_QUESTION_PREFIX}{answer.question.strip()}", FOOTER_LIMIT, str)
    return text


def answer_embed(answer: Answer, *, top_k: int, jurisdiction: str | None = None) -> discord.Embed:
    """The reply to a question: the answer (or abstention), then the sources it cites."""
    question = answer.question.strip()
    title = fit(question, TITLE_LIMIT) or "Your question"
    truncated = title.endswith(ELLIPSIS) and title != escape(question)
    footer = _footer(answer, jurisdiction, truncated)
    passages = shown_passages(answer, top_k)[:FIELDS_LIMIT]
    room = _TOTAL_BUDGET - len(title) - len(footer)
    if answer.abstained:
        description = abstain_body(answer, min(DESCRIPTION_LIMIT, room))
        colour = ABSTAIN_COLOUR
    else:
        share = room // 3 if passages else room
        description = answer_body(answer, min(DESCRIPTION_LIMIT, share)) or (
            "The passages below are the closest matches."
        )
        colour = ANSWER_COLOUR
    embed = discord.Embed(title=title, description=description, colour=colour)
    room -= len(description)
    for i, passage in enumerate(passages, start=1):
        per_field = room // (len(passages) - i + 1)
        name, value = source_field(i, passage, min(FIELD_VALUE_LIMIT, per_field - 40))
        embed.add_field(name=name, value=value, inline=False)
        room -= len(name) + len(value)
    embed.set_footer(text=footer)
    return embed


def passages_embed(
    title: str, passages: Sequence[Passage], *, first: int = 1, note: str = ""
) -> discord.Embed:
    """Sources numbered from ``first``, as in "More sources"."""
    title = fit(title, TITLE_LIMIT)
    passages = list(passages)[:FIELDS_LIMIT]
    description = fit(note, DESCRIPTION_LIMIT) if note else None
    embed = discord.Embed(title=title, description=description, colour=ANSWER_COLOUR)
    room = _TOTAL_BUDGET - len(title) - len(description or "")
    for i, passage in enumerate(passages):
        per_field = room // (len(passages) - i)
        name, value = source_field(first + i, passage, min(FIELD_VALUE_LIMIT, per_field - 40))
        embed.add_field(name=name, value=value, inline=False)
        room -= len(name) + len(value)
    return embed


def full_passage_embed(passage: Passage, n: int | None = None) -> discord.Embed:
    """One whole passage, verbatim, with its document's details and link."""
    doc = passage.document
    label = f"[{n}] " if n else ""
    title = fit(f"{label}{doc.title or doc.doc_id}", TITLE_LIMIT)
    head = []
    if passage.heading:
        head.append(f"§ {escape(passage.heading)}")
    if doc.warning:
        head.append(f"⚠️ {escape(doc.warning)}")
    prefix = "\n".join(head) + ("\n\n" if head else "")
    spans = _merge(passage.highlights, len(passage.text))
    body_limit = DESCRIPTION_LIMIT - len(prefix)
    paragraphs = [render_quote(passage.text, spans, a, b) for a, b in _paragraphs(passage.text)]
    body = "\n\n".join(p for p in paragraphs if p)
    if len(body) > body_limit:
        body = fit(passage.text, body_limit)
    embed = discord.Embed(title=title, description=prefix + body, colour=ANSWER_COLOUR)
    meta = document_line(doc)
    link = _safe_link(passage.link or doc.url)
    if meta or link:
        value = "\n".join(x for x in (meta, f"[Open the source]({link})" if link else "") if x)
        if len(value) > FIELD_VALUE_LIMIT:
            value = meta[:FIELD_VALUE_LIMIT] or "\u200b"
        embed.add_field(name="Source", value=value, inline=False)
    return embed


def _paragraphs(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for m in re.finditer(r"\n\s*\n", text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    return [(a, b) for a, b in out if text[a:b].strip()]


@dataclass(frozen=True)
class OptionSpec:
    """A select option for one source: (label, description, value)."""

    label: str
    description: str
    value: str


def source_options(passages: Sequence[Passage]) -> list[OptionSpec]:
    """Options of the "Full passage" select; the value is the chunk id when it fits, else '#n'."""
    out = []
    for n, p in enumerate(passages[:SELECT_OPTIONS_LIMIT], start=1):
        label = fit(f"[{n}] {p.document.title or p.document.doc_id}", OPTION_TEXT_LIMIT, str)
        description = fit(p.heading or p.document.publisher or "", OPTION_TEXT_LIMIT, str)
        value = p.chunk_id if 0 < len(p.chunk_id) <= OPTION_TEXT_LIMIT else f"#{n}"
        out.append(OptionSpec(label, description, value))
    return out


def question_from_embed(embed: discord.Embed) -> tuple[str, str | None]:
    """(question, jurisdiction) read back from an answer embed, for a click after a restart."""
    footer = embed.footer.text or ""
    jurisdiction = None
    if m := _JURISDICTION_RE.search(footer):
        jurisdiction = None if m.group("j") == "all" else m.group("j")
    for line in footer.splitlines():
        if line.startswith(_QUESTION_PREFIX):
            return line[len(_QUESTION_PREFIX) :], jurisdiction
    return unescape(embed.title or ""), jurisdiction


def added_by(actor: str) -> str:
    """'discord:<id>:<name>' → a user mention (mentions in embeds never ping); else escaped."""
    parts = actor.split(":", 2)
    if len(parts) >= 2 and parts[0] == "discord" and parts[1].isdigit():
        return f"<@{parts[1]}>"
    return escape(actor) if actor else "the corpus folder"


def document_entry(doc: DocumentInfo) -> str:
    """One line of /corpus list."""
    when = f" on {doc.added_at:%Y-%m-%d}" if doc.added_at else ""
    meta = document_line(doc)
    warning = f" ⚠️ {escape(doc.warning)}" if doc.warning else ""
    return (
        f"**{escape(doc.title or doc.doc_id)}**{warning}\n"
        f"`{doc.doc_id}` · {meta + ' · ' if meta else ''}{doc.chunks} passages · "
        f"added by {added_by(doc.added_by)}{when}"
    )


def documents_embed(docs: Sequence[DocumentInfo]) -> tuple[discord.Embed, str | None]:
    """/corpus list as an embed; when it does not fit, also the full list as Markdown text."""
    title = f"{len(docs)} document{'s' if len(docs) != 1 else ''} in the corpus"
    if not docs:
        return discord.Embed(title=title, description="The corpus is empty."), None
    entries = [document_entry(d) for d in docs]
    description = "\n\n".join(entries)
    if len(description) <= DESCRIPTION_LIMIT:
        return discord.Embed(title=title, description=description), None
    shown: list[str] = []
    for i, entry in enumerate(entries):
        more = f"{ELLIPSIS} and {len(entries) - i} more: see the attached file."
        if len("\n\n".join([*shown, entry, more])) > DESCRIPTION_LIMIT:
            shown.append(more)
            break
        shown.append(entry)
    return discord.Embed(title=title, description="\n\n".join(shown)), description


def added_message(result: AddResult) -> str:
    """Reply to /corpus add: title, passages, time taken."""
    doc = result.document
    meta = document_line(doc)
    text = (
        f"Added **{escape(doc.title or doc.doc_id)}**{f' ({meta})' if meta else ''}: "
        f"{result.passages} passages indexed in {result.seconds:.1f} s. "
        f"Document id: `{doc.doc_id}`."
    )
    if doc.warning:
        text += f"\n⚠️ Its status says: {escape(doc.warning)}"
    return fit(text, MESSAGE_LIMIT, str)


def removed_message(doc: DocumentInfo) -> str:
    """Reply to /corpus remove."""
    return fit(
        f"Removed **{escape(doc.title or doc.doc_id)}** (`{doc.doc_id}`, {doc.chunks} passages). "
        "Answers no longer cite it.",
        MESSAGE_LIMIT,
        str,
    )


def reindex_message(report: IndexReport) -> str:
    """Reply to /reindex."""
    state = "Rebuilt the index" if report.rebuilt else "The index was already up to date"
    text = (
        f"{state}: {report.documents} documents, {report.chunks} passages "
        f"({report.embedded} newly embedded) in {report.seconds:.1f} s."
    )
    if report.skipped:
        lines = "\n".join(f"• {escape(s)}" for s in report.skipped)
        text += f"\nSkipped {len(report.skipped)} file(s):\n{lines}"
    return fit(text, MESSAGE_LIMIT, str)


def choice_name(doc: DocumentInfo) -> str:
    """Autocomplete label of a document (≤ 100 characters)."""
    extra = ", ".join(x for x in (doc.publisher, doc.date) if x)
    return fit(f"{doc.title or doc.doc_id}{f' ({extra})' if extra else ''}", OPTION_TEXT_LIMIT, str)


def thread_name(question: str) -> str:
    """A thread title from a question (plain text, ≤ 100 characters)."""
    name = _SPACE.sub(" ", question).strip() or "PolicyBot answer"
    return fit(name, THREAD_NAME_LIMIT, str)
