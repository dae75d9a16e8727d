"""Turn a file or uploaded bytes into a `SourceDocument`: kind by content, text, metadata, id.

Reading and kind checks are in files.py, front matter and sidecars in metadata.py, PDF and HTML
text in extraction.py; this module puts them together.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

from retrieval.errors import DocumentError, printable
from retrieval.extraction import parse_html, parse_pdf
from retrieval.files import detect_kind, read_path
from retrieval.metadata import parse_text

log = logging.getLogger(__name__)

MAX_DOCUMENT_CHARS = 2_000_000  # 3.4x the largest corpus text (EU AI Act, 585k): bounds chunking
_STANDARD_KEYS = ("title", "publisher", "jurisdiction", "date", "url", "license", "status")
_MAX_TITLE_CHARS = 150

# Linear time on a hostile line (a long "# # #" heading); its lazy form took quadratic time.
_MD_TITLE = re.compile(r"^#[ \t]+(.+)$", re.M)  # trailing spaces and #s are trimmed in code


@dataclass(frozen=True)
class SourceDocument:
    """A document ready to chunk; every offset elsewhere refers to ``text``."""

    doc_id: str
    text: str
    meta: Mapping[str, str]
    content_hash: str
    kind: str  # "markdown" | "text" | "pdf" | "html"


def load_path(path: Path, max_bytes: int, *, max_chars: int = MAX_DOCUMENT_CHARS) -> SourceDocument:
    """Read a regular file within the size limit and load it."""
    return load_bytes(read_path(path, max_bytes), Path(path).name, max_chars=max_chars)


def load_bytes(
    data: bytes, filename: str, *, max_chars: int = MAX_DOCUMENT_CHARS
) -> SourceDocument:
    """Parse bytes by their checked kind into text and metadata, refusing a text over
    ``max_chars``: chunking and embedding cost follow its length."""
    name = PurePath(filename).name
    shown = printable(name)
    doc_id = slugify(PurePath(name).stem)
    kind = detect_kind(data, name)
    if kind == "pdf":
        text, meta = parse_pdf(data, shown)
    elif kind == "html":
        text, meta = parse_html(data, shown)
    else:
        text, meta = parse_text(data, shown)
    if not text.strip():
        raise DocumentError(f"{shown} contains no text")
    if len(text) > max_chars:
        raise DocumentError(
            f"{shown} has {len(text):,} characters of text, over the limit of {max_chars:,} "
            "(setting POLICYBOT_MAX_DOCUMENT_CHARS)"
        )
    meta = {key: meta.get(key, "") for key in _STANDARD_KEYS} | meta
    meta["title"] = meta["title"] or _derive_title(text, name)
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    log.debug("loaded %s: %s, %d chars", doc_id, kind, len(text))
    return SourceDocument(doc_id=doc_id, text=text, meta=meta, content_hash=content_hash, kind=kind)


def slugify(stem: str) -> str:
    """A stable document id: lowercase ascii, [a-z0-9._-], single dashes."""
    decomposed = unicodedata.normalize("NFKD", stem.lower())
    unaccented = "".join(char for char in decomposed if not unicodedata.combining(char))
    slug = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9._-]", "-", unaccented)).strip("-._")
    if not slug:
        raise DocumentError(f"cannot make a document id from the file name '{printable(stem)}'")
    return slug


def _derive_title(text: str, name: str) -> str:
    """First '#' heading, else a short first line, else the file name made readable."""
    heading = _MD_TITLE.search(text)
    if heading:
        line = heading.group(1)
        return line.rstrip(" \t#") or line[0]
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first and len(first) < _MAX_TITLE_CHARS:
        return first
    readable = re.sub(r"[-_]+", " ", PurePath(name).stem).strip()
    return readable[:1].upper() + readable[1:]
