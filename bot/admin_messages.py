"""Replies to admin commands: what was added, removed, re-indexed, and the document list."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.text import (
    DESCRIPTION_LIMIT,
    ELLIPSIS,
    MESSAGE_LIMIT,
    OPTION_TEXT_LIMIT,
    document_line,
    escape,
    fit,
)
from retrieval.types import AddResult, DocumentInfo, IndexReport


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
