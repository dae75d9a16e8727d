"""Text and metadata out of PDF and HTML: page furniture, hyphenation and markup removed.

pypdf and trafilatura are imported inside their parsers, so only those files pay for them.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter

from retrieval.errors import DocumentError, printable
from retrieval.metadata import meta_value

# Each pattern below runs in linear time on a hostile line (a run of letters or of exotic
# spaces); their earlier lazy or unanchored forms took quadratic time.
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


def parse_pdf(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """Page text with running headers, page numbers and hyphenated line breaks removed."""
    from pypdf import PdfReader  # imported here: only PDFs pay for it

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{name} is password-protected; upload an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = meta_value(info.title) if info else ""
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


def parse_html(data: bytes, name: str) -> tuple[str, dict[str, str]]:
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
