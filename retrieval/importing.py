"""Importing a corpus folder: what it adds, updates and removes in the database.

A folder owns the documents it brought in (their ``origin`` is the folder) and nothing else:
its import never touches an upload or another folder's documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from retrieval.documents import SourceDocument, load_path, slugify
from retrieval.errors import DocumentError, PolicyBotError, printable
from retrieval.files import SUPPORTED_SUFFIXES
from retrieval.metadata import read_metadata
from retrieval.pointer import folder_origin
from retrieval.tables import UPLOADED, DocumentRow


@dataclass(frozen=True)
class Limits:
    """The most one document may cost to read."""

    max_document_bytes: int
    max_document_chars: int


@dataclass
class FolderImport:
    """What importing folders changes: rows to write, ids to delete, files skipped and why."""

    rows: list[DocumentRow] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)


def import_folders(
    folders: list[Path], existing: dict[str, DocumentRow], limits: Limits
) -> FolderImport:
    """Compare each folder with the documents it brought in before."""
    result = FolderImport()
    for folder in folders:
        origin = folder_origin(folder)
        if not Path(folder).is_dir():
            raise PolicyBotError(f"The corpus folder {printable(str(folder))} does not exist.")
        seen: set[str] = set()
        unreadable: set[str] = set()
        for document in _scan(Path(folder), existing, origin, limits, result.skipped, unreadable):
            seen.add(document.doc_id)
            row = document_row(document, origin)
            old = existing.get(row.doc_id)
            if old is None or (old.content_hash, old.meta_json, old.source) != (
                row.content_hash,
                row.meta_json,
                row.source,
            ):
                result.rows.append(row)
        result.deleted |= {
            doc_id
            for doc_id, row in existing.items()
            if row.origin == origin and doc_id not in seen and doc_id not in unreadable
        }
    return result


def _scan(
    folder: Path,
    existing: dict[str, DocumentRow],
    origin: str,
    limits: Limits,
    skipped: list[str],
    unreadable: set[str],
):
    """Every supported file of the folder as a document, in a stable order; files of
    documents it already owns come first, so a copy never takes over their id."""
    owned = {doc_id for doc_id, row in existing.items() if row.origin == origin}
    taken = {row.content_hash: row for row in existing.values() if row.origin != origin}
    seen_ids: dict[str, Path] = {}
    seen_hashes: dict[str, str] = {}
    for path in sorted(folder.iterdir(), key=lambda p: (slugify(p.stem) not in owned, p.name)):
        if not path.is_file() or path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        if path.name.lower().startswith("readme") or path.name.startswith("."):
            continue  # a folder's own description, or a temporary file
        where = printable(str(path))
        try:
            document = load_path(
                path, limits.max_document_bytes, max_chars=limits.max_document_chars
            )
        except DocumentError as err:
            skipped.append(f"{where}: {err}")
            unreadable.add(path.stem.lower())
            continue
        other = existing.get(document.doc_id)
        if other is not None and other.origin != origin:
            skipped.append(f"{where}: the id {document.doc_id!r} is {_owner(other)}")
            continue
        if document.doc_id in seen_ids:
            skipped.append(
                f"{where}: the id {document.doc_id!r} is already used by "
                f"{printable(str(seen_ids[document.doc_id]))}"
            )
            continue
        same = taken.get(document.content_hash)
        if document.content_hash in seen_hashes or same is not None:
            first = seen_hashes.get(document.content_hash) or same.doc_id
            skipped.append(f"{where}: same content as {first!r}")
            continue
        seen_ids[document.doc_id] = path
        seen_hashes[document.content_hash] = document.doc_id
        try:
            given = read_metadata(path)  # what an admin set for it, over its own
        except DocumentError as err:
            skipped.append(f"{where}: {err}")
            unreadable.add(document.doc_id)
            continue
        yield replace(document, meta={**document.meta, **given, "source": str(path)})


def _owner(row: DocumentRow) -> str:
    if row.origin == UPLOADED:
        return "already used by an uploaded document"
    return f"already used by a document of {printable(row.origin)}"


def document_row(document: SourceDocument, origin: str, added_by: str = "") -> DocumentRow:
    meta = dict(document.meta)
    source = meta.pop("source", "")
    return DocumentRow(
        doc_id=document.doc_id,
        title=meta.get("title", "") or document.doc_id,
        publisher=meta.get("publisher", ""),
        jurisdiction=meta.get("jurisdiction", ""),
        date=meta.get("date", ""),
        url=meta.get("url", ""),
        status=meta.get("status", ""),
        license=meta.get("license", ""),
        meta_json=json.dumps(meta, sort_keys=True, ensure_ascii=False),
        kind=document.kind,
        source=source,
        origin=origin,
        content_hash=document.content_hash,
        text=document.text,
        added_by=added_by,
    )
