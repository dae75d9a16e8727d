"""Read a file safely within a size limit, and tell its kind by its content, not its name."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path, PurePath

from retrieval.errors import DocumentError, printable

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
_READ_BYTES = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


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
        decode(data, name)
    return claimed


def _content_kind(data: bytes) -> str:
    """The kind by the first bytes: pdf, html (a whole page, not a fragment), binary or text."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and (b"<!doctype html" in head or b"<html" in head):
        return "html"
    return "binary" if b"\x00" in data else "text"


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


def decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        byte = err.object[err.start]
        raise DocumentError(
            f"{name} is not valid UTF-8 text (byte 0x{byte:02x} at offset {err.start}); "
            "save it as UTF-8"
        ) from err
