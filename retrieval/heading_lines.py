"""Which lines of a document's text are headings, and at what level: Markdown, "CHAPTER II",
"Article 5", "4.2. Ensuring …", a lone short line; not the first line of a numbered paragraph
that a PDF wrapped. chunking.py builds the heading path from them."""

from __future__ import annotations

import re

from retrieval.lexical import words
from retrieval.sentences import contents_entry
from retrieval.signatures import SIGNATURE_LINE

MAX_HEADING_CHARS = 90
PLAIN_LEVEL = 9  # a lone short line guessed to be a heading: below every named level

_MARKDOWN_HEADING = re.compile(r"#{1,6}\s+\S")
_LEVEL_1 = re.compile(r"(PART|Part|TITLE|Title|CHAPTER|Chapter)\s+[IVXLC\d]+\b")
_LEVEL_2 = re.compile(r"(SECTION|Section)\s+[IVXLC\d]+\s*$")
_LEVEL_3 = re.compile(
    r"(Article|ARTICLE|Annex|ANNEX|Appendix|APPENDIX|Schedule|SCHEDULE)\s+"
    r"(?:[\dIVXLC]+[a-zA-Z]?\b|[A-Z](?:[.:]|\s*$))"  # "Annex III", "Article 5a", "Appendix B."
)
_LINK = re.compile(r"https?://|www\.")
NUMBERED = re.compile(r"(\d+(?:\.\d+)*)\.?\s+[A-Z]")
_SENTENCE_INSIDE = re.compile(r"[A-Za-z)]{2}[.?!]\s+[A-Z]")
# A wrapped PDF line of body text is this long; the corpus's numbered titles followed by text
# on the next line are at most 58 characters, its wrapped numbered paragraphs 79-87.
_FULL_LINE_CHARS = 75
# A line that starts an item, not one that goes on ("– including future AI Safety Summits –").
LIST_LINE = re.compile(r"(?:\d+(?:\.\d+)*\.?\s|[•*·(]|[-–]\s*[A-Z])")


def heading_level(line: str, single_line_block: bool, continued: bool = False) -> int | None:
    """The level of a heading line, or None when the line is body text. ``continued``: the
    next line of its paragraph goes on with text (not a numbered line or a list item)."""
    if len(line) > 100:
        return None
    if _MARKDOWN_HEADING.match(line):
        return len(line) - len(line.lstrip("#"))
    # A reference's wrapped line ("Article 248. https://doi.org/…"), a contents entry, or a
    # signatory's name ("DONALD J. TRUMP").
    if _LINK.search(line) or contents_entry(line) or SIGNATURE_LINE.fullmatch(line):
        return None
    if _LEVEL_1.match(line):
        return 1
    if _LEVEL_2.match(line):
        return 2
    if _LEVEL_3.match(line) and not line.rstrip().endswith((".", ";", ",")):
        return 3
    numbered = NUMBERED.match(line)
    if (
        numbered
        and len(line) <= MAX_HEADING_CHARS
        and not line.endswith((".", ";", ",", ":"))
        and not _wrapped_paragraph(line, continued)
    ):
        return 3 + numbered.group(1).count(".")
    if (
        single_line_block
        and len(line) <= 80
        and line[:1].isupper()
        and not line.endswith((".", ";", ",", ":", "?", "!"))
        and sum(ch.isalpha() for ch in line) >= 3
    ):
        return PLAIN_LEVEL
    return None


def _wrapped_paragraph(line: str, continued: bool) -> bool:
    """True for the first line of a numbered paragraph that a PDF wrapped: it holds a sentence
    end with more after it ("5. The pace … continues to accelerate. In the run up …"), it
    stops on a word that no title ends with ("… in scope of the regulatory framework for"), or
    it is a full line that the next one goes on from (a title that long is a question)."""
    last = line.split()[-1]
    full = continued and len(line) >= _FULL_LINE_CHARS and not line.endswith("?")
    return full or bool(_SENTENCE_INSIDE.search(line)) or not words(last)
