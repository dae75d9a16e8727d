"""Quotes that read as text: Markdown and PDF line breaks removed, offsets kept.

Passages stay verbatim (their offsets locate them in the document); what is *shown* of a quote
is cleaned: ``[label](url)`` reads "label", ``**bold**`` reads "bold" (an unpaired ``**``
goes), a line break inside a sentence reads as a space, a leading list marker goes. ``clean``
also returns, for every character it keeps, its offset in the original, so a cleaned quote
still maps back exactly.
"""

from __future__ import annotations

import re

# Spans of Markdown syntax that are dropped, keeping their inner text.
_LINK = re.compile(r"!?\[([^\]\n]{1,300})\]\((?:[^()\s]|\([^()\s]*\))+\)")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_STRAY_BOLD = re.compile(r"\*\*")  # a marker left unpaired ("**The … risks. **This …")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_LIST_MARKER = re.compile(r"\A\s*(?:[-*•▪●◦➢►▶>]|#{1,6})\s+")
_MARKUP = re.compile(r"[\[*_\\]")  # a character that a link, emphasis or escape needs


def clean(text: str) -> tuple[str, list[int]]:
    """(cleaned text, offset in ``text`` of each cleaned character)."""
    keep = list(range(len(text)))
    drop: set[int] = set()
    for match in _LINK.finditer(text):
        label_start, label_end = match.span(1)
        drop.update(range(match.start(), label_start))
        drop.update(range(label_end, match.end()))
    for match in _EMPHASIS.finditer(text):
        marker = len(match.group(1))
        drop.update(range(match.start(), match.start() + marker))
        drop.update(range(match.end() - marker, match.end()))
    for match in _STRAY_BOLD.finditer(text):
        if match.start() not in drop:
            drop.update(range(match.start(), match.end()))
    for match in _ESCAPE.finditer(text):
        drop.add(match.start())
    if marker := _LIST_MARKER.match(text):
        drop.update(range(marker.start(), marker.end()))
    out: list[str] = []
    offsets: list[int] = []
    for i in keep:
        if i in drop:
            continue
        char = text[i]
        if char.isspace():
            if not out or out[-1] == " ":
                continue
            char = " "
        out.append(char)
        offsets.append(i)
    while out and out[-1] == " ":
        out.pop()
        offsets.pop()
    return "".join(out), offsets


def cleaned_highlights(text: str, highlights) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The cleaned text, with the highlight spans moved onto it."""
    cleaned, offsets = clean(text)
    spans = []
    for start, end in highlights:
        inside = [i for i, offset in enumerate(offsets) if start <= offset < end]
        if inside:
            spans.append((inside[0], inside[-1] + 1))
    return cleaned, tuple(spans)


def marked_runs(text: str, highlights) -> list[tuple[str, bool]]:
    """The cleaned text in runs of (text, highlighted), so a renderer can bold the quote."""
    cleaned, offsets = clean(text)
    runs: list[tuple[str, bool]] = []
    for char, offset in zip(cleaned, offsets, strict=True):
        marked = any(start <= offset < end for start, end in highlights)
        if runs and runs[-1][1] == marked:
            runs[-1] = (runs[-1][0] + char, marked)
        else:
            runs.append((char, marked))
    return runs


def readable(text: str) -> str:
    """Just the cleaned text. Without Markdown or a list marker, that is the words: most
    sentences take this path, without the per-character walk."""
    if not _MARKUP.search(text) and not _LIST_MARKER.match(text):
        return " ".join(text.split())
    return clean(text)[0]


def short_heading(heading: str, limit: int = 80) -> str:
    """A passage's own section: the last part of its heading path, with its spaces plain (PDF
    text sets "5.1.3\u2002Tackling" with en spaces), cut at a word with "…"."""
    own = " ".join(heading.split(" › ")[-1].split())
    if len(own) <= limit:
        return own
    cut = own[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return f"{cut}…"
