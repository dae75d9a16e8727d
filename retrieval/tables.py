"""The database's tables (SQLModel), the ``Change`` one transaction writes, and the small
helpers rows are made and read with."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from retrieval.types import DocumentInfo

UPLOADED = "upload"  # the origin of a document added by upload, file or URL, not a folder


def utcnow() -> datetime:
    return datetime.now(UTC)


class DocumentRow(SQLModel, table=True):
    __tablename__ = "document"

    doc_id: str = Field(primary_key=True)
    title: str
    publisher: str = ""
    jurisdiction: str = Field("", index=True)
    date: str = ""
    url: str = ""
    status: str = ""
    license: str = ""
    meta_json: str = "{}"
    kind: str = ""
    source: str = ""  # the file's path in its folder, or the uploaded name or URL
    origin: str = Field("", index=True)  # the folder it was imported from, or UPLOADED
    content_hash: str = Field(index=True)
    text: str
    added_by: str = ""
    added_at: datetime = Field(default_factory=utcnow)


class ChunkRow(SQLModel, table=True):
    __tablename__ = "chunk"

    id: int | None = Field(default=None, primary_key=True)
    doc_id: str = Field(foreign_key="document.doc_id", index=True)
    ordinal: int
    start: int
    end: int
    heading: str = ""
    tokens: int = 0
    text_hash: str = Field(index=True)  # hash of the text that is embedded


class OriginalRow(SQLModel, table=True):
    """The bytes of an uploaded file as they came, so nothing an admin added is lost."""

    __tablename__ = "original"

    doc_id: str = Field(foreign_key="document.doc_id", primary_key=True)
    filename: str
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class BuildRow(SQLModel, table=True):
    """A published build: what it was made of and with."""

    __tablename__ = "build"

    build_id: str = Field(primary_key=True)
    corpus_checksum: str
    model: str
    dimension: int
    chunker: str
    chunk_tokens: int
    documents: int
    chunks: int
    sentences_missing: int = 0
    built_at: datetime = Field(default_factory=utcnow)


class CurrentBuildRow(SQLModel, table=True):
    """The build every process serves: one row, switched in the transaction that changes the
    documents, so a reader never sees documents and a build that disagree."""

    __tablename__ = "current_build"

    id: int = Field(1, primary_key=True)
    build_id: str = Field(foreign_key="build.build_id")


@dataclass
class Change:
    """Documents to write and delete, and the build that then serves, as one transaction."""

    documents: list[tuple[DocumentRow, list[ChunkRow]]] = field(default_factory=list)
    originals: list[OriginalRow] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)


class EmbeddingRow(SQLModel, table=True):
    """Vectors keyed by model and text, so an unchanged chunk is never embedded twice."""

    __tablename__ = "embedding"

    model: str = Field(primary_key=True)
    text_hash: str = Field(primary_key=True)
    vector: bytes


class FeedbackRow(SQLModel, table=True):
    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("question_hash", "user_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    question: str
    question_hash: str
    chunk_ids: str  # JSON list
    user_hash: str
    vote: int
    at: datetime = Field(default_factory=utcnow)


class AdminActionRow(SQLModel, table=True):
    __tablename__ = "admin_action"

    id: int | None = Field(default=None, primary_key=True)
    actor: str
    action: str
    target: str
    outcome: str
    at: datetime = Field(default_factory=utcnow, index=True)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_info(row: DocumentRow, chunks: int = 0) -> DocumentInfo:
    return DocumentInfo(
        doc_id=row.doc_id,
        title=row.title,
        publisher=row.publisher,
        jurisdiction=row.jurisdiction,
        date=row.date,
        url=row.url,
        status=row.status,
        license=row.license,
        source=row.source,
        chunks=chunks,
        added_by=row.added_by,
        added_at=row.added_at,
    )
