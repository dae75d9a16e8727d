"""Turn a file or uploaded bytes into a `SourceDocument`: kind by content, text, metadata, id."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
import stat
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

import yaml

from retrieval.errors import DocumentError, printable

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".pdf", ".html", ".htm"})
_SUPPORTED_NAMES = "Markdown, text, PDF, HTML"
_KIND_BY_SUFFIX = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
}
_NAMED_AS = {"markdown": "Markdown", "text": "plain text", "pdf": "PDF", "html": "HTML"}
_HOLDS = {"pdf": "a PDF", "html": "an HTML page", "text": "text", "binary": "binary data"}
MAX_DOCUMENT_CHARS = 2_000_000  # 3.4x the largest corpus text (EU AI Act, 585k): bounds chunking
_MAX_FRONT_MATTER_CHARS = 64 * 1024  # 50x the largest in the corpus; PyYAML parses in Python
_MAX_FRONT_MATTER_DEPTH = 4  # key: value, a list or small mapping as value; deeper is not metadata
_READ_BYTES = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_STANDARD_KEYS = ("title", "publisher", "jurisdiction", "date", "url", "license", "status")
_MAX_TITLE_CHARS = 150

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
# Each pattern below runs in linear time on a hostile line (a long "# # #" heading, a run of
# letters or of exotic spaces); their earlier lazy or unanchored forms took quadratic time.
_MD_TITLE = re.compile(r"^#[ \t]+(.+)$", re.M)  # trailing spaces and #s are trimmed in code
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st"})
_PAGE_OF = re.compile(r"(?i)(page\s+)?\d{1,4}(\s+of\s+\d{1,4})?")
_PAGE_DIGITS = re.compile(r"[\d/ -]+")  # a page footer such as "24-05969 2/8", with a d/d
_DIGIT_SLASH_DIGIT = re.compile(r"\d/\d")
_HYPHEN_BREAK = re.compile(r"-\n([a-z]+)")  # the word before the hyphen is found in code
_FILE_LIKE_TITLE = re.compile(r"(?i)^(microsoft \w+ - )|\.(docx?|pdf|pptx?|xlsx?|rtf|odt|indd)$")
# A table row that only lays out a list item: "| (a) | text |" (EUR-Lex numbers points this way).
_LIST_ROW = re.compile(
    r"^(?:\|\s*+)++([‘“]?\(?\w{1,5}(?:\.\d{1,3})*[.)]|[-–—•])\s*+\|\s*+((?:[^\S\n]*+\S)*?)\s*+\|$",
    re.M,
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
    """The kind the file name claims, confirmed by the content: a login page saved as .pdf or a
    PDF renamed .md is refused, naming both types, rather than indexed as what it is not."""
    name = printable(PurePath(filename).name)
    suffix = PurePath(filename).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{name}: unsupported file type '{suffix or '(none)'}'; supported: {_SUPPORTED_NAMES}"
        )
    claimed, found = _KIND_BY_SUFFIX[suffix], _content_kind(data)
    if found == "binary" and claimed != "pdf":
        raise DocumentError(f"{name} is not text (binary content); supported: {_SUPPORTED_NAMES}")
    if found != claimed and (claimed == "pdf" or found in ("pdf", "html")):
        raise DocumentError(
            f"{name}: the name says {_NAMED_AS[claimed]} but the content is {_HOLDS[found]}; "
            "refused (rename the file to match what it holds)"
        )
    if found == "text":
        _decode(data, name)
    return claimed


def _content_kind(data: bytes) -> str:
    """The kind by the first bytes: pdf, html (a whole page, not a fragment), binary or text."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and (b"<!doctype html" in head or b"<html" in head):
        return "html"
    return "binary" if b"\x00" in data else "text"


def load_path(path: Path, max_bytes: int, *, max_chars: int = MAX_DOCUMENT_CHARS) -> SourceDocument:
    """Read a regular file within the size limit and load it."""
    return load_bytes(read_path(path, max_bytes), Path(path).name, max_chars=max_chars)


def read_path(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, at most ``max_bytes``.

    Anything else is refused before it is opened (opening a FIFO blocks; /dev/zero never ends),
    and the read stops at ``max_bytes + 1`` whatever the size said: a file can grow while read.
    """
    name = printable(Path(path).name)
    try:
        info = os.stat(path)  # follows links: a link to a regular file is a regular file
        if not stat.S_ISREG(info.st_mode):
            raise DocumentError(
                f"{name} is {_file_type(info.st_mode)}, not a regular file; refused"
            )
        if info.st_size > max_bytes:
            raise DocumentError(
                f"{name} is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes"
            )
        # Non-blocking, in case a FIFO or device was put in its place since the stat.
        with open(os.open(path, _OPEN_FLAGS), "rb", buffering=0) as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise DocumentError(f"{name} is {_file_type(mode)}, not a regular file; refused")
            data = _read_at_most(file, max_bytes + 1)
    except OSError as err:
        raise DocumentError(f"cannot read {name}: {err.strerror or err}") from err
    if len(data) > max_bytes:
        raise DocumentError(f"{name} grew past the limit of {max_bytes:,} bytes while being read")
    return data


def _read_at_most(file: io.RawIOBase, limit: int) -> bytes:
    parts: list[bytes] = []
    while limit > 0 and (part := file.read(min(limit, _READ_BYTES))):
        parts.append(part)
        limit -= len(part)
    return b"".join(parts)


def _file_type(mode: int) -> str:
    for test, what in _FILE_TYPES:
        if test(mode):
            return what
    return "a special file"


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
        text, meta = _parse_pdf(data, shown)
    elif kind == "html":
        text, meta = _parse_html(data, shown)
    else:
        text, meta = _parse_text(data, shown)
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
    raw = _load_front_matter(match.group(1) or "", name)
    return text[match.end() :], checked_metadata(raw, name)


METADATA_SUFFIX = ".meta.yaml"  # "report.pdf.meta.yaml" sets the metadata of "report.pdf"
OVERRIDABLE_KEYS = ("title", "publisher", "jurisdiction", "date", "url", "status", "license")


def metadata_file(path: Path) -> Path:
    """The sidecar that holds metadata an admin gave for ``path`` (PDF metadata is often wrong)."""
    return path.with_name(path.name + METADATA_SUFFIX)


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata ``path``'s sidecar sets, read like front matter; {} without a sidecar."""
    sidecar = metadata_file(path)
    if not sidecar.is_file():
        return {}
    source = _decode(read_path(sidecar, _MAX_FRONT_MATTER_CHARS), sidecar.name)
    framed = _FRONT_MATTER.match(source)  # written between --- lines, like front matter
    inner = (framed.group(1) or "") if framed else source
    return checked_metadata(_load_front_matter(inner, sidecar.name), sidecar.name)


def checked_metadata(raw: Mapping, name: str) -> dict[str, str]:
    """Metadata values as text, with a date that must read YYYY-MM-DD."""
    meta = {str(key): _meta_value(value) for key, value in raw.items()}
    if meta.get("date"):
        meta["date"] = _iso_date(raw["date"], name)
    return meta


def _load_front_matter(source: str, name: str) -> dict:
    if len(source) > _MAX_FRONT_MATTER_CHARS:
        raise DocumentError(
            f"{name}: front matter is {len(source):,} characters, over the limit of "
            f"{_MAX_FRONT_MATTER_CHARS:,}"
        )
    loader = _FrontMatterLoader(source)
    try:
        raw = loader.get_single_data() or {}
    except _Refused as err:
        raise DocumentError(f"{name}: front matter (line {err.line + 2}) {err.problem}") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 2})" if where else ""
        problem = getattr(err, "problem", None) or "invalid syntax"
        raise DocumentError(f"{name}: front matter is not valid YAML{line}: {problem}") from err
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise DocumentError(f"{name}: front matter must be 'key: value' lines")
    return raw


class _Refused(Exception):
    """YAML that is valid but not accepted as metadata, with the line it starts on."""

    def __init__(self, problem: str, event: yaml.Event) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = event.start_mark.line if event.start_mark else 0


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML for metadata: no anchors or aliases (a 1 KB alias bomb expands to gigabytes) and
    shallow nesting. Without aliases the parsed values are no larger than the capped source."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused("uses a YAML anchor or alias (& or *); write each value out", event)
        if self._depth >= _MAX_FRONT_MATTER_DEPTH:
            raise _Refused(f"nests deeper than {_MAX_FRONT_MATTER_DEPTH} levels", event)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _as_written(construct):
    """A constructor that keeps the scalar as written when Python refuses its value."""

    def tolerant(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
        try:
            return construct(loader, node)
        except ValueError:  # date 2024-13-45, a 5,000-digit number
            return loader.construct_scalar(node)

    return tolerant


_SAFE = yaml.constructor.SafeConstructor
_FrontMatterLoader.add_constructor("tag:yaml.org,2002:int", _as_written(_SAFE.construct_yaml_int))
_FrontMatterLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _as_written(_SAFE.construct_yaml_timestamp)
)


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
        raise DocumentError(
            f"{name}: date must be YYYY-MM-DD, not '{printable(str(value))}'"
        ) from None


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
            f"{name} could not be read as a PDF (truncated or corrupt?): {printable(str(err))}"
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
    parts, done = [], 0
    for match in _HYPHEN_BREAK.finditer(text):
        start = hyphen = match.start()
        while start > done and text[start - 1].isascii() and text[start - 1].isalpha():
            start -= 1
        if start == hyphen:
            continue  # no letter before the hyphen: a dash, not a broken word
        head, tail = text[start:hyphen], match.group(1)
        parts += [
            text[done:start],
            head + tail if (head + tail).lower() in words else f"{head}-{tail}",
        ]
        done = match.end()
    parts.append(text[done:])
    return "".join(parts)


def _is_furniture(line: str, repeated: set[str]) -> bool:
    return line in repeated or _is_page_number(line)


def _is_page_number(line: str) -> bool:
    if _PAGE_OF.fullmatch(line):
        return True
    return bool(_PAGE_DIGITS.fullmatch(line) and _DIGIT_SLASH_DIGIT.search(line))


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
        line = heading.group(1)
        return line.rstrip(" \t#") or line[0]
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first and len(first) < _MAX_TITLE_CHARS:
        return first
    readable = re.sub(r"[-_]+", " ", PurePath(name).stem).strip()
    return readable[:1].upper() + readable[1:]
