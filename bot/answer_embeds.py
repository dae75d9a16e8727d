"""Answers as Discord embeds: the answer or abstention, its sources, more sources, a whole
passage, and the "Full passage" options. Pure functions: nothing here talks to Discord."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot.text import (
    DESCRIPTION_LIMIT,
    ELLIPSIS,
    EMBED_BUDGET,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    FOOTER_LIMIT,
    OPTION_TEXT_LIMIT,
    SELECT_OPTIONS_LIMIT,
    TITLE_LIMIT,
    document_line,
    escape,
    fit,
    fit_quote,
    link_text,
    merge_spans,
    render_quote,
    safe_link,
    unescape,
)
from retrieval.quotes import cleaned_highlights, readable, short_heading
from retrieval.types import Answer, Passage

ANSWER_COLOUR = discord.Colour.blue()
ABSTAIN_COLOUR = discord.Colour.light_grey()
_QUESTION_PREFIX = "Question: "
_JURISDICTION_RE = re.compile(r"^Jurisdiction: (?P<j>.+?) · ", re.M)


def source_field(
    n: int, passage: Passage, limit: int = FIELD_VALUE_LIMIT, same_as: int | None = None
) -> tuple[str, str]:
    """(name, value) of source ``n``: title, publisher, date, status, bold-quoted text, link.

    ``same_as`` is the number of an earlier source from the same document: its long title and
    details are not repeated.
    """
    doc = passage.document
    title = f"(the same document as [{same_as}])" if same_as else doc.title or doc.doc_id
    name = fit(f"[{n}] {title}", FIELD_NAME_LIMIT)
    limit = max(0, min(limit, FIELD_VALUE_LIMIT))
    head = [
        line
        for line in (
            "" if same_as else document_line(doc),
            "" if same_as else _status_line(doc),
            fit(f"§ {short_heading(passage.heading)}", 150) if passage.heading else "",
        )
        if line
    ]
    link = ""
    for url in (passage.link, doc.url):
        if url and len(safe_link(url)) <= max(120, limit // 3):
            link = f"[Open the source]({safe_link(url)})"
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
    quote_text = fit_quote(*cleaned_highlights(passage.text, passage.highlights), room)
    lines = [*head, *([f"> {quote_text}"] if quote_text else []), *([link] if link else [])]
    value = "\n".join(lines)
    if not value or len(value) > limit:
        value = fit(doc.title or doc.doc_id, limit) if limit else ""
    return name, value or "\u200b"


def _status_line(doc) -> str:
    """A warning when the document is not current; else its recorded nature, plainly."""
    if doc.warning:
        return fit(f"⚠️ {doc.warning}", 200)
    return fit(f"Status: {doc.status}", 200) if doc.status else ""


_LABELS = {"status": "**Status:** ", "part": "In "}  # a status, or the part the quotes are from


def answer_body(answer: Answer, limit: int) -> str:
    """The answer sentences with [n] markers, whole sentences only, within ``limit``."""
    pieces = [
        f"{_LABELS.get(s.kind, '')}{escape(s.text.strip())} [{s.source}]" for s in answer.sentences
    ]
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
            link = safe_link(doc.url)
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


def cited_chunk_ids(answer: Answer) -> list[str]:
    """Chunk ids of the passages the answer cites (of the shown ones when it cites none)."""
    ids: list[str] = []
    for s in answer.sentences:
        if 1 <= s.source <= len(answer.passages):
            cid = answer.passages[s.source - 1].chunk_id
            if cid not in ids:
                ids.append(cid)
    return ids or [p.chunk_id for p in answer.passages]


def _footer(answer: Answer, jurisdiction: str | None, full_question: bool) -> str:
    seconds = answer.elapsed_ms / 1000
    text = (
        f"Jurisdiction: {jurisdiction or 'all'} · {seconds:.1f} s · "
        "Quotes are verbatim: follow the links to check them."
    )
    if full_question:
        text = fit(f"{text}\n{_QUESTION_PREFIX}{answer.question.strip()}", FOOTER_LIMIT, str)
    return text


def answer_embed(answer: Answer, *, jurisdiction: str | None = None) -> discord.Embed:
    """The reply to a question: the answer (or abstention), then the sources it cites."""
    question = answer.question.strip()
    title = fit(question, TITLE_LIMIT) or "Your question"
    truncated = title.endswith(ELLIPSIS) and title != escape(question)
    footer = _footer(answer, jurisdiction, truncated)
    passages = answer.passages[:FIELDS_LIMIT]
    room = EMBED_BUDGET - len(title) - len(footer)
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
    first_of: dict[str, int] = {}
    for i, passage in enumerate(passages, start=1):
        per_field = room // (len(passages) - i + 1)
        same_as = first_of.setdefault(passage.document.doc_id, i)
        name, value = source_field(
            i,
            passage,
            min(FIELD_VALUE_LIMIT, per_field - 40),
            same_as=same_as if same_as != i else None,
        )
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
    room = EMBED_BUDGET - len(title) - len(description or "")
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
        head.append(f"§ {escape(short_heading(passage.heading))}")
    if doc.warning:
        head.append(f"⚠️ {escape(doc.warning)}")
    prefix = "\n".join(head) + ("\n\n" if head else "")
    spans = merge_spans(passage.highlights, len(passage.text))
    body_limit = DESCRIPTION_LIMIT - len(prefix)
    paragraphs = [_paragraph(passage.text, spans, a, b) for a, b in _paragraphs(passage.text)]
    body = "\n\n".join(p for p in paragraphs if p)
    if len(body) > body_limit:
        body = fit(readable(passage.text), body_limit)
    embed = discord.Embed(title=title, description=prefix + body, colour=ANSWER_COLOUR)
    meta = document_line(doc)
    link = safe_link(passage.link or doc.url)
    if meta or link:
        value = "\n".join(x for x in (meta, f"[Open the source]({link})" if link else "") if x)
        if len(value) > FIELD_VALUE_LIMIT:
            value = meta[:FIELD_VALUE_LIMIT] or "\u200b"
        embed.add_field(name="Source", value=value, inline=False)
    return embed


def _paragraph(text: str, spans, start: int, end: int) -> str:
    """``text[start:end]`` cleaned and escaped, its highlighted spans in bold."""
    inside = [
        (max(a, start) - start, min(b, end) - start) for a, b in spans if a < end and b > start
    ]
    cleaned, marks = cleaned_highlights(text[start:end], inside)
    return render_quote(cleaned, marks, 0, len(cleaned))


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
