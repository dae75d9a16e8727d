"""An upload's way into the database: a file, bytes or an address read as a document, the
metadata an admin may set, the refusal of content or an id the database already has, and the
rows of the document and of its bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.corpus import markdown_copy
from retrieval.documents import SourceDocument, load_bytes
from retrieval.errors import DocumentError, DuplicateDocument, printable
from retrieval.files import read_path
from retrieval.importing import document_row
from retrieval.metadata import OVERRIDABLE_KEYS, checked_metadata
from retrieval.tables import UPLOADED, DocumentRow, OriginalRow

if TYPE_CHECKING:
    from retrieval.store import Store
    from retrieval.types import IndexReport


def document_of_file(
    path: Path, max_bytes: int, max_chars: int
) -> tuple[SourceDocument, bytes, str]:
    """A file read within the size limit: its document, its bytes and its name."""
    data = read_path(Path(path), max_bytes)
    name = Path(path).name
    document = load_bytes(data, name, max_chars=max_chars)
    return document, data, name


def document_of_bytes(data: bytes, filename: str, max_bytes: int, max_chars: int) -> SourceDocument:
    """Uploaded bytes as a document: the type checked by content, the size by ``max_bytes``."""
    if len(data) > max_bytes:
        raise DocumentError(
            f"{printable(filename)} is {len(data):,} bytes; the limit is {max_bytes:,}."
        )
    return load_bytes(data, filename, max_chars=max_chars)


def document_of_url(
    url: str, max_bytes: int, timeout_s: float, max_chars: int
) -> tuple[SourceDocument, bytes, str, str]:
    """A fetched page or PDF as a Markdown document: it, its bytes, its file name and the
    address it was fetched from."""
    from retrieval.fetch import fetch_url

    fetched = fetch_url(url, max_bytes=max_bytes, timeout_s=timeout_s)
    markdown, filename = markdown_copy(
        load_bytes(fetched.data, fetched.filename, max_chars=max_chars), fetched.url
    )
    document = load_bytes(markdown, filename, max_chars=max_chars)
    return document, markdown, filename, fetched.url


def given_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """The metadata given with an upload, without empty values; only what may be set, checked."""
    given = {k: v for k, v in (metadata or {}).items() if v}
    if set(given) - set(OVERRIDABLE_KEYS):
        raise DocumentError(f"Only these can be set: {', '.join(OVERRIDABLE_KEYS)}.")
    return checked_metadata(given, "the metadata given")


def refuse_duplicate(store: Store, document: SourceDocument) -> None:
    """Refuse content the database already holds, and an id another document has."""
    same = store.document_with_content(document.content_hash)
    if same is not None:
        raise DuplicateDocument(
            f"That content is already in the corpus as {same.doc_id!r} ({printable(same.title)}); not added again."
        )
    if store.document(document.doc_id) is not None:
        raise DocumentError(
            f"A document with the id {document.doc_id!r} already exists; remove it first or rename the file."
        )


def upload_rows(
    document: SourceDocument,
    data: bytes,
    filename: str,
    actor: str,
    given: Mapping[str, str],
    source: str = "",
) -> tuple[DocumentRow, OriginalRow]:
    """The uploaded document's row (the given metadata over its own) and the row of its bytes."""
    meta = {**document.meta, **given, "source": source or filename}
    row = document_row(replace(document, meta=meta), UPLOADED, added_by=actor)
    original = OriginalRow(doc_id=row.doc_id, filename=filename, data=data)
    return row, original


def refuse_skipped(
    store: Store, report: IndexReport, doc_id: str, source: str, filename: str
) -> None:
    """Refuse, with the run's reason, an upload the run left out of the database."""
    if store.document(doc_id) is None:
        reason = next(
            (s for s in report.skipped if s.startswith(printable(source))),
            "it was skipped",
        )
        raise DocumentError(f"{printable(filename)} could not be indexed: {reason}")
