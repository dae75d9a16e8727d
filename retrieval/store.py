"""The database, the source of truth: documents, chunks, builds, cached embeddings, feedback
and the admin audit log.

SQLite by default; PostgreSQL through the same SQLModel code, shared by many processes: the
write lock is then an advisory lock and inserts that two processes may race are upserts.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout
from sqlalchemy import event, func, inspect, text
from sqlalchemy.orm import defer
from sqlmodel import Session, SQLModel, create_engine, delete, select

from retrieval.errors import PolicyBotError
from retrieval.pointer import BuildPointer, CurrentBuild
from retrieval.tables import (
    UPLOADED,
    AdminActionRow,
    BuildRow,
    Change,
    ChunkRow,
    CurrentBuildRow,
    DocumentRow,
    EmbeddingRow,
    FeedbackRow,
    OriginalRow,
    sha256,
    to_info,
    utcnow,
)
from retrieval.types import AdminAction, DocumentInfo

WRITE_LOCK_KEY = 0x706F6C6963790001  # the advisory lock every writer takes on PostgreSQL
SCHEMA_LOCK_KEY = 0x706F6C6963790002  # taken while creating tables, apart from writers
LOCK_POLL_S = 0.2  # how often a waiting writer tries the advisory lock again


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the bot) never block the indexer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    """Typed access to the database; every method is one short transaction."""

    def __init__(self, url: str):
        self.is_sqlite = url.startswith("sqlite")
        self.engine = create_engine(
            url,
            connect_args={"check_same_thread": False} if self.is_sqlite else {},
            pool_pre_ping=True,  # a restarted server costs a reconnect, not a failed question
        )
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # The dialect's INSERT … ON CONFLICT; imported for the backend in use only.
        self.pointer = BuildPointer(url, lambda: self)
        self._dialect = importlib.import_module(f"sqlalchemy.dialects.{self.engine.dialect.name}")
        with self._lock(SCHEMA_LOCK_KEY, 60):  # processes starting together create it once
            SQLModel.metadata.create_all(self.engine)
            self._add_origin_column()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def write_lock(self, timeout_s: float = 600):
        """One writer at a time across processes and machines; readers never wait."""
        return self._lock(WRITE_LOCK_KEY, timeout_s)

    @contextmanager
    def _lock(self, key: int, timeout_s: float) -> Iterator[None]:
        """An advisory lock on PostgreSQL; a file lock beside the database file on SQLite."""
        if self.is_sqlite:
            database = self.pointer.sqlite_file
            if database is None:  # in memory: such a database has one process
                yield
                return
            try:
                with FileLock(f"{database}.{key:x}.lock").acquire(timeout=timeout_s):
                    yield
            except Timeout as err:
                raise _busy() from err
            return
        with self.engine.connect() as connection:
            deadline = time.monotonic() + timeout_s
            take = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=key)
            while not connection.execute(take).scalar():
                if time.monotonic() > deadline:
                    raise _busy()
                time.sleep(LOCK_POLL_S)
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)").bindparams(key=key))
                connection.commit()

    def _add_origin_column(self) -> None:
        """Databases made before documents had an origin get one: the folder of their file."""
        columns = {c["name"] for c in inspect(self.engine).get_columns("document")}
        if "origin" in columns:
            return
        with self.engine.begin() as connection:
            connection.execute(text("ALTER TABLE document ADD COLUMN origin VARCHAR DEFAULT ''"))
            rows = connection.execute(text("SELECT doc_id, source FROM document")).all()
            for doc_id, source in rows:
                origin = str(Path(source).resolve().parent) if source else UPLOADED
                connection.execute(
                    text("UPDATE document SET origin = :o WHERE doc_id = :d"),
                    {"o": origin, "d": doc_id},
                )

    # documents and builds -----------------------------------------------------------------------

    def document_rows(self) -> dict[str, DocumentRow]:
        with self.session() as session:
            return {row.doc_id: row for row in session.exec(select(DocumentRow))}

    def document(self, doc_id: str) -> DocumentRow | None:
        with self.session() as session:
            return session.get(DocumentRow, doc_id)

    def original(self, doc_id: str) -> OriginalRow | None:
        with self.session() as session:
            return session.get(OriginalRow, doc_id)

    @staticmethod
    def info(row: DocumentRow, chunks: int = 0) -> DocumentInfo:
        return to_info(row, chunks)

    def document_count(self) -> int:
        with self.session() as session:
            return session.exec(select(func.count()).select_from(DocumentRow)).one()

    def origins(self) -> set[str]:
        return self.pointer.origins()

    def document_with_content(self, content_hash: str) -> DocumentRow | None:
        """The document whose text hashes to ``content_hash``, if any (an indexed lookup)."""
        with self.session() as session:
            query = select(DocumentRow).where(DocumentRow.content_hash == content_hash)
            return session.exec(query).first()

    def current_build(self) -> CurrentBuild | None:
        """The build every process should serve: one joined read."""
        return self.pointer.current()

    def rows(self, sql: str) -> list[tuple]:
        """The rows of one of pointer.py's statements, through this engine."""
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql)]

    def commit(self, change: Change, build: BuildRow) -> None:
        """Write the documents, delete the others and switch the current build, all at once
        (the caller holds the write lock)."""
        with self.session() as session:
            replaced = {row.doc_id for row, _ in change.documents}
            ids = list(change.deleted | replaced)
            kept = {
                old.doc_id: (old.added_by, old.added_at)
                for old in session.exec(select(DocumentRow).where(DocumentRow.doc_id.in_(ids)))
            }
            session.exec(delete(ChunkRow).where(ChunkRow.doc_id.in_(ids)))
            session.exec(delete(OriginalRow).where(OriginalRow.doc_id.in_(change.deleted)))
            session.exec(delete(DocumentRow).where(DocumentRow.doc_id.in_(change.deleted)))
            for row, _ in change.documents:
                if row.doc_id in kept:  # re-chunked or updated: who added it stays
                    row.added_by, row.added_at = kept[row.doc_id]
                session.merge(row)
            session.flush()  # the documents before the rows that refer to them
            session.add_all([chunk for _, chunks in change.documents for chunk in chunks])
            session.add_all(change.originals)
            session.add(build)
            session.flush()
            session.merge(CurrentBuildRow(id=1, build_id=build.build_id))
            session.commit()

    def consistent_read(
        self,
    ) -> tuple[CurrentBuild, dict[str, DocumentRow], list[ChunkRow]] | None:
        """The current build with the documents and chunks it was made of, or None when there
        is no build. Every change of documents switches the build in the same transaction, so
        an unchanged build id before and after the reads proves they belong together."""
        for _ in range(10):
            before = self.current_build()
            if before is None:
                return None
            rows, chunks = self.document_rows(), self.chunks()
            after = self.current_build()
            if after is not None and after.build_id == before.build_id:
                return before, rows, chunks
        raise PolicyBotError("The database changed during ten reads in a row; try again.")

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
        """Insert vectors in one executemany; a vector another process saved first is kept
        (the same text gives the same vector)."""
        rows = [
            {"model": model, "text_hash": text_hash, "vector": vector.astype("<f4").tobytes()}
            for text_hash, vector in zip(text_hashes, vectors, strict=True)
        ]
        with self.session() as session:
            session.execute(self._dialect.insert(EmbeddingRow).on_conflict_do_nothing(), rows)
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
        """One vote per user and question: a second vote replaces the first, also when two
        processes record it at once."""
        values = {
            "question": question,
            "question_hash": sha256(question.strip().lower()),
            "user_hash": user_hash,
            "chunk_ids": json.dumps(list(chunk_ids)),
            "vote": vote,
            "at": utcnow(),
        }
        upsert = self._dialect.insert(FeedbackRow).values(**values)
        upsert = upsert.on_conflict_do_update(
            index_elements=["question_hash", "user_hash"],
            set_={k: values[k] for k in ("question", "chunk_ids", "vote", "at")},
        )
        with self.session() as session:
            session.execute(upsert)
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


def _busy() -> PolicyBotError:
    return PolicyBotError("Another indexing run is still going; try again shortly.")
