"""The database: documents, chunks, cached embeddings, feedback and the admin audit log.

SQLite by default; any SQLAlchemy URL (PostgreSQL) works through the same SQLModel code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import UniqueConstraint, event, func, insert
from sqlalchemy.orm import defer
from sqlmodel import Field, Session, SQLModel, create_engine, delete, select

from retrieval.types import AdminAction, DocumentInfo


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
    source: str = ""
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


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the bot) never block the indexer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    """Typed access to the database; every method is one short transaction."""

    def __init__(self, url: str):
        is_sqlite = url.startswith("sqlite")
        self.engine = create_engine(
            url, connect_args={"check_same_thread": False} if is_sqlite else {}
        )
        if is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        SQLModel.metadata.create_all(self.engine)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # documents and chunks -------------------------------------------------------------------

    def document_rows(self) -> dict[str, DocumentRow]:
        with self.session() as session:
            return {row.doc_id: row for row in session.exec(select(DocumentRow))}

    def document(self, doc_id: str) -> DocumentRow | None:
        with self.session() as session:
            return session.get(DocumentRow, doc_id)

    @staticmethod
    def info(row: DocumentRow, chunks: int = 0) -> DocumentInfo:
        return to_info(row, chunks)

    def document_count(self) -> int:
        with self.session() as session:
            return session.exec(select(func.count()).select_from(DocumentRow)).one()

    def document_with_content(self, content_hash: str) -> DocumentRow | None:
        """The document whose text hashes to ``content_hash``, if any (an indexed lookup)."""
        with self.session() as session:
            query = select(DocumentRow).where(DocumentRow.content_hash == content_hash)
            return session.exec(query).first()

    def replace_document(self, row: DocumentRow, chunks: Sequence[ChunkRow]) -> None:
        """Insert or update a document and swap its chunks, keeping who added it."""
        with self.session() as session:
            old = session.get(DocumentRow, row.doc_id)
            if old is not None:
                row.added_by, row.added_at = old.added_by, old.added_at
                session.exec(delete(ChunkRow).where(ChunkRow.doc_id == row.doc_id))
                session.delete(old)
                session.flush()
            session.add(row)
            session.flush()
            session.add_all(chunks)
            session.commit()

    def delete_documents(self, doc_ids: Iterable[str]) -> None:
        ids = list(doc_ids)
        if not ids:
            return
        with self.session() as session:
            session.exec(delete(ChunkRow).where(ChunkRow.doc_id.in_(ids)))
            session.exec(delete(DocumentRow).where(DocumentRow.doc_id.in_(ids)))
            session.commit()

    def set_added_by(self, doc_id: str, actor: str) -> None:
        with self.session() as session:
            row = session.get(DocumentRow, doc_id)
            if row is not None:
                row.added_by, row.added_at = actor, utcnow()
                session.add(row)
                session.commit()

    def chunks(self) -> list[ChunkRow]:
        """All chunks in a stable order: by document, then position."""
        with self.session() as session:
            return list(session.exec(select(ChunkRow).order_by(ChunkRow.doc_id, ChunkRow.ordinal)))

    def chunk_counts(self) -> dict[str, int]:
        with self.session() as session:
            rows = session.exec(select(ChunkRow.doc_id, func.count()).group_by(ChunkRow.doc_id))
            return dict(rows.all())

    def documents(self) -> list[DocumentInfo]:
        """Every document's metadata and chunk count, without reading the texts."""
        counts = self.chunk_counts()
        with self.session() as session:
            rows = session.exec(select(DocumentRow).options(defer(DocumentRow.text))).all()
            return [to_info(row, counts.get(row.doc_id, 0)) for row in rows]

    # embeddings ---------------------------------------------------------------------------------

    def missing_embeddings(self, model: str, text_hashes: Iterable[str]) -> set[str]:
        wanted = set(text_hashes)
        with self.session() as session:
            have = set(
                session.exec(select(EmbeddingRow.text_hash).where(EmbeddingRow.model == model))
            )
        return wanted - have

    def save_embeddings(self, model: str, text_hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Insert vectors for texts that have none (the caller holds the write lock), in one
        executemany: a merge per row costs a SELECT each."""
        rows = [
            {"model": model, "text_hash": text_hash, "vector": vector.astype("<f4").tobytes()}
            for text_hash, vector in zip(text_hashes, vectors, strict=True)
        ]
        with self.session() as session:
            session.execute(insert(EmbeddingRow), rows)
            session.commit()

    def embeddings_found(self, model: str, text_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``text_hashes``, by hash."""
        found: dict[str, np.ndarray] = {}
        with self.session() as session:
            for start in range(0, len(text_hashes), 500):
                batch = text_hashes[start : start + 500]
                query = select(EmbeddingRow.text_hash, EmbeddingRow.vector).where(
                    EmbeddingRow.model == model, EmbeddingRow.text_hash.in_(batch)
                )
                for text_hash, vector in session.exec(query):
                    found[text_hash] = np.frombuffer(vector, dtype="<f4")
        return found

    def embeddings(self, model: str, text_hashes: Sequence[str], dimension: int) -> np.ndarray:
        """Vectors in the order of ``text_hashes``; each must be present."""
        found = self.embeddings_found(model, list(dict.fromkeys(text_hashes)))
        matrix = np.zeros((len(text_hashes), dimension), dtype=np.float32)
        for i, text_hash in enumerate(text_hashes):
            matrix[i] = found[text_hash]
        return matrix

    # feedback and audit --------------------------------------------------------------------------

    def record_feedback(
        self, question: str, chunk_ids: Sequence[str], user_hash: str, vote: int
    ) -> None:
        """One vote per user and question: a second vote replaces the first."""
        question_hash = sha256(question.strip().lower())
        with self.session() as session:
            query = select(FeedbackRow).where(
                FeedbackRow.question_hash == question_hash, FeedbackRow.user_hash == user_hash
            )
            row = session.exec(query).first() or FeedbackRow(
                question=question,
                question_hash=question_hash,
                user_hash=user_hash,
                chunk_ids="[]",
                vote=0,
            )
            row.chunk_ids, row.vote, row.at = json.dumps(list(chunk_ids)), vote, utcnow()
            session.add(row)
            session.commit()

    def feedback(self) -> list[FeedbackRow]:
        with self.session() as session:
            return list(session.exec(select(FeedbackRow).order_by(FeedbackRow.id)))

    def record_action(self, actor: str, action: str, target: str, outcome: str) -> None:
        with self.session() as session:
            session.add(AdminActionRow(actor=actor, action=action, target=target, outcome=outcome))
            session.commit()

    def actions(self, limit: int = 50) -> list[AdminAction]:
        with self.session() as session:
            query = select(AdminActionRow).order_by(AdminActionRow.id.desc()).limit(limit)
            return [
                AdminAction(row.actor, row.action, row.target, row.outcome, row.at)
                for row in session.exec(query)
            ]


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
