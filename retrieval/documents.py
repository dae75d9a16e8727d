"""Turn a file or uploaded bytes into a `SourceDocument`: kind by content, text, metadata, id."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

import yaml

from retrieval.errors import DocumentError

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".pdf", ".html", ".htm"})
_SUPPORTED_NAMES = "Markdown, text, PDF, HTML"
_KIND_BY_SUFFIX = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
}
_STANDARD_KEYS = ("title", "publisher", "jurisdiction", "date", "url", "license", "status")
_MAX_TITLE_CHARS = 150

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
_MD_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st"})
_PAGE_NUMBER = re.compile(r"(?i)(page\s+)?\d{1,4}(\s+of\s+\d{1,4})?|[\d/ -]*\d/\d+[\d/ -]*")
_HYPHEN_BREAK = re.compile(r"([A-Za-z]+)-\n([a-z]+)")
_FILE_LIKE_TITLE = re.compile(r"(?i)^(microsoft \w+ - )|\.(docx?|pdf|pptx?|xlsx?|rtf|odt|indd)$")
# A table row that only lays out a list item: "| (a) | text |" (EUR-Lex numbers points this way).
_LIST_ROW = re.compile(
    r"^(?:\|\s*)+([‘“]?\(?\w{1,5}(?:\.\d{1,3})*[.)]|[-–—•])\s*\|\s*(.*?)\s*\|$", re.M
)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")


@dataclass(frozen=True)
class SourceDocument:
    """A document ready to chunk; every offset elsewhere refers to ``text``."""

    doc_id: str
    text: str
    meta: Mapping[str, str]
    content_hash: str
    kind: str  # "markdown" | "text" | "pdf" | "html"


def detect_kind(data: bytes, filename: str) -> str:
    """The document kind from the content first, so a renamed binary cannot pass as text."""
    name = PurePath(filename).name
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{name}: unsupported file type '{suffix or '(none)'}'; supported: {_SUPPORTED_NAMES}"
        )
    if data.startswith(b"%PDF-"):
        return "pdf"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and (b"<!doctype html" in head or b"<html" in head):
        return "html"
    if b"\x00" in data:
        raise DocumentError(f"{name} is not text (binary content); supported: {_SUPPORTED_NAMES}")
    if suffix == ".pdf":
        raise DocumentError(f"{name} is not a PDF (it does not start with %PDF-)")
    _decode(data, name)
    return _KIND_BY_SUFFIX[suffix]


def load_path(path: Path, max_bytes: int) -> SourceDocument:
    """Read a file within the size limit and load it."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(
                f"{path.name} is {size:,} bytes, over the limit of {max_bytes:,} bytes"
            )
        data = path.read_bytes()
    except OSError as err:
        raise DocumentError(f"cannot read {path.name}: {err.strerror or err}") from err
    return load_bytes(data, path.name)


def load_bytes(data: bytes, filename: str) -> SourceDocument:
    """Parse bytes by their detected kind into text and metadata."""
    name = PurePath(filename).name
    doc_id = slugify(PurePath(name).stem)
    kind = detect_kind(data, name)
    if kind == "pdf":
        text, meta = _parse_pdf(data, name)
    elif kind == "html":
        text, meta = _parse_html(data, name)
    else:
        text, meta = _parse_text(data, name)
    if not text.strip():
        raise DocumentError(f"{name} contains no text")
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
        raise DocumentError(f"cannot make a document id from the file name '{stem}'")
    return slug


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        byte = err.object[err.start]
        raise DocumentError(
            f"{name} is not valid UTF-8 text (byte 0x{byte:02x} at offset {err.start}); "
            "save it as UTF-8"
        ) from err


def _parse_text(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """Markdown or text with optional YAML front matter; the body is kept verbatim."""
    text = _decode(data, name).replace("\r\n", "\n").replace("\r", "\n")
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, {}
    try:
        raw = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 2})" if where else ""
        problem = getattr(err, "problem", None) or "invalid syntax"
        raise DocumentError(f"{name}: front matter is not valid YAML{line}: {problem}") from err
    if not isinstance(raw, dict):
        raise DocumentError(f"{name}: front matter must be 'key: value' lines")
    meta = {str(key): _meta_value(value) for key, value in raw.items()}
    if meta.get("date"):
        meta["date"] = _iso_date(raw["date"], name)
    return text[match.end() :], meta


def _meta_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_meta_value(item) for item in value)
    return str(value).strip()


def _iso_date(value: object, name: str) -> str:
    """YAML reads an unquoted date as a date; a quoted one must still be YYYY-MM-DD."""
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise DocumentError(f"{name}: date must be YYYY-MM-DD, not '{value}'") from None


def _parse_pdf(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """Page text with running headers, page numbers and hyphenated line breaks removed."""
    from pypdf import PdfReader  # imported here: only PDFs pay for it

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{name} is password-protected; upload an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = _meta_value(info.title) if info else ""
        created = str(info.get("/CreationDate", "")) if info else ""
    except DocumentError:
        raise
    except Exception as err:  # pypdf raises many types on damaged files
        raise DocumentError(
            f"{name} could not be read as a PDF (truncated or corrupt?): {err}"
        ) from err
    text = _clean_pdf_pages(pages)
    if not text.strip():
        raise DocumentError(
            f"{name} has no extractable text (a scan?); upload a text version or an OCR'd PDF"
        )
    return text, {"title": _meaningful_title(title), "date": _pdf_date(created)}


def _pdf_date(value: str) -> str:
    """YYYY-MM-DD from a PDF date ("D:20240405134805-04'00'"), or "" when it is malformed."""
    match = re.match(r"(?:D:)?(\d{4})(\d{2})(\d{2})", value)
    try:
        return dt.date(*map(int, match.groups())).isoformat() if match else ""
    except ValueError:
        return ""


def _meaningful_title(title: str) -> str:
    """A PDF's /Title unless it is a placeholder or a file name ("Microsoft Word - x.docx")."""
    if len(title) < 3 or title.lower() in {"untitled", "title", "document"}:
        return ""
    return "" if _FILE_LIKE_TITLE.search(title) else title


def _clean_pdf_pages(pages: list[str]) -> str:
    page_lines = []
    for page in pages:
        page = page.translate(_LIGATURES).replace("\xa0", " ")
        lines = [re.sub(r"[ \t]+", " ", line).strip() for line in page.splitlines()]
        page_lines.append([line for line in lines if line])
    repeated = _running_lines(page_lines)
    cleaned = []
    for lines in page_lines:
        start, end = 0, len(lines)
        while start < end and _is_furniture(lines[start], repeated):
            start += 1
        while end > start and _is_furniture(lines[end - 1], repeated):
            end -= 1
        cleaned.append("\n".join(lines[start:end]))
    return _join_hyphenated("\n\n".join(page for page in cleaned if page))


def _running_lines(page_lines: list[list[str]]) -> set[str]:
    """Lines at the top or bottom of many pages: running headers and footers."""
    counts = Counter(line for lines in page_lines for line in set(lines[:3] + lines[-3:]))
    return {line for line, n in counts.items() if n >= max(3, len(page_lines) // 3)}


def _join_hyphenated(text: str) -> str:
    """Rejoin words broken at line ends: "regu-\nlation" becomes "regulation" where the document
    uses that word elsewhere; otherwise the hyphen is real ("state-of-\nthe-art", URLs)."""
    words = set(re.findall(r"[a-z]+", text.lower()))

    def join(match: re.Match[str]) -> str:
        head, tail = match.groups()
        return head + tail if (head + tail).lower() in words else f"{head}-{tail}"

    return _HYPHEN_BREAK.sub(join, text)


def _is_furniture(line: str, repeated: set[str]) -> bool:
    return line in repeated or bool(_PAGE_NUMBER.fullmatch(line))


def _parse_html(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """Main text via trafilatura's default mode: on EUR-Lex it keeps the whole act and drops
    the navigation that its recall mode keeps."""
    import trafilatura  # imported here: only HTML pays for it

    extracted = trafilatura.extract(
        data, output_format="markdown", include_tables=True, include_comments=False
    )
    if not extracted:
        raise DocumentError(f"{name} has no readable main text")
    tree = trafilatura.load_html(data)
    if tree is None:
        raise DocumentError(f"{name} could not be parsed as HTML")
    # The page's own title: trafilatura's guess can be a footer heading ("Need help?").
    title = tree.xpath('string(//meta[@property="og:title"]/@content)') or tree.xpath(
        "string(//head/title)"
    )
    found = trafilatura.extract_metadata(tree)
    meta = {
        "title": " ".join(title.split()),
        "date": found.date or "",
        "url": found.url or "",
        "publisher": found.sitename or "",
    }
    return _clean_markdown(extracted), meta


def _clean_markdown(text: str) -> str:
    """Undo markdown escapes (quotes must match the page), flatten list-layout tables."""
    text = _MD_ESCAPE.sub(r"\1", text.replace("\xa0", " "))
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    text = _LIST_ROW.sub(r"\1 \2", "\n".join(lines))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _derive_title(text: str, name: str) -> str:
    """First '#' heading, else a short first line, else the file name made readable."""
    heading = _MD_TITLE.search(text)
    if heading:
        return heading.group(1)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first and len(first) < _MAX_TITLE_CHARS:
        return first
    readable = re.sub(r"[-_]+", " ", PurePath(name).stem).strip()
    return readable[:1].upper() + readable[1:]
