"""The one service every adapter calls: ask, add, remove, list, reindex, status."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml
from filelock import FileLock, Timeout

from retrieval import answer as answering
from retrieval.answer_types import question_form
from retrieval.chunking import CHUNKER_VERSION, chunk_text, embedding_text, fit_to_model
from retrieval.config import Settings
from retrieval.documents import SUPPORTED_SUFFIXES, SourceDocument, load_bytes, load_path, slugify
from retrieval.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.errors import (
    DocumentError,
    DuplicateDocument,
    IndexUnavailable,
    InvalidQuestion,
    PolicyBotError,
    UnknownDocument,
)
from retrieval.fetch import fetch_url
from retrieval.fusion import candidate_rows
from retrieval.index import IndexDirectory, Manifest, Snapshot, StoredPassage, new_build_id
from retrieval.store import ChunkRow, DocumentRow, Store, sha256, to_info
from retrieval.types import (
    AddResult,
    AdminAction,
    Answer,
    DocumentInfo,
    IndexReport,
    Passage,
    Status,
)

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total) chunks embedded
EMBED_BATCH = 64


class Service:
    """PolicyBot's engine behind one object; safe to call from worker threads."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder(settings.embedding_model)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.db_url)
        self.index_dir = IndexDirectory(settings.data_dir / "index")
        self._write_lock = FileLock(str(settings.data_dir / "write.lock"))
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    # reading ---------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model and the index now (the bot does this before it reports ready)."""
        self.ensure_index()
        self.current()
        self.embedder.embed(["warm up"])

    def ensure_index(self, progress: Progress | None = None) -> IndexReport | None:
        """Build the index on first use, or when the configured corpus folders changed."""
        manifest = self.index_dir.manifest()
        if manifest is not None and manifest.corpus_dirs == self._corpus_names():
            return None
        return self.reindex(progress=progress, actor="auto")

    def current(self) -> Snapshot:
        """The published snapshot; reloaded when another process publishes a new build."""
        build_id = self.index_dir.current_id()
        with self._snapshot_lock:
            if self._snapshot is None or self._snapshot.manifest.build_id != build_id:
                self._snapshot = self.index_dir.load(
                    self.settings.embedding_model, CHUNKER_VERSION, self.settings.chunk_tokens
                )
            return self._snapshot

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        jurisdiction: str | None = None,
        doc_id: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Answer:
        """Answer from the corpus, with passages best first (twice ``top_k``, for 'more')."""
        question = " ".join((question or "").split())
        if not question:
            raise InvalidQuestion("Please ask a question: the text was empty.")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InvalidQuestion(
                f"Questions are limited to {limit} characters; this one has {len(question)}."
            )
        top_k = top_k or self.settings.top_k
        started = time.perf_counter()
        snapshot = self.current()
        allowed = self._filter_rows(snapshot, jurisdiction, doc_id, date_from, date_to)
        query_vector = self.embedder.embed([question])[0]
        form = question_form(question)
        candidates = candidate_rows(snapshot, form.topic, query_vector, allowed)
        result = answering.compose(
            question,
            form,
            query_vector,
            snapshot,
            candidates,
            self.embedder,
            top_k=top_k,
            min_support=self.settings.min_support,
        )
        return replace(result, elapsed_ms=(time.perf_counter() - started) * 1000)

    def passage(self, chunk_id: str) -> Passage:
        """The whole passage with that id, from the index now serving."""
        snapshot = self.current()
        row = snapshot.rows_by_chunk.get(chunk_id)
        if row is None:
            raise UnknownDocument(f"That passage ({chunk_id}) is no longer in the index.")
        return answering.to_passage(snapshot, row)

    def documents(self) -> list[DocumentInfo]:
        return sorted(self.store.documents(), key=lambda d: d.doc_id)

    def jurisdictions(self) -> list[str]:
        return sorted({d.jurisdiction for d in self.documents() if d.jurisdiction})

    def status(self) -> Status:
        manifest = self.index_dir.manifest()
        return Status(
            documents=manifest.documents if manifest else 0,
            chunks=manifest.chunks if manifest else 0,
            model=self.settings.embedding_model,
            dimension=manifest.dimension if manifest else 0,
            chunker=f"v{CHUNKER_VERSION}, {self.settings.chunk_tokens} tokens",
            build_id=manifest.build_id if manifest else "",
            built_at=datetime.fromisoformat(manifest.built_at) if manifest else None,
            corpus_dirs=tuple(self._corpus_names()),
        )

    def admin_actions(self, limit: int = 50) -> list[AdminAction]:
        return self.store.actions(limit)

    # writing ---------------------------------------------------------------------------------

    def reindex(
        self, *, rebuild: bool = False, actor: str = "cli", progress: Progress | None = None
    ) -> IndexReport:
        """Bring the index in line with the corpus folders, embedding only new text."""
        with (
            self._audited(
                actor, "rebuild" if rebuild else "reindex", ", ".join(self._corpus_names())
            ),
            self._locked(),
        ):
            return self._reindex(rebuild, progress)

    def add_file(self, path: Path, *, actor: str = "cli") -> AddResult:
        """Copy a file into the corpus (atomically) and index it."""
        with self._audited(actor, "add", str(path)):
            document = load_path(Path(path), self.settings.max_document_bytes)
            return self._add(document, Path(path).read_bytes(), Path(path).suffix, actor)

    def add_bytes(self, data: bytes, filename: str, *, actor: str) -> AddResult:
        """Add an uploaded file: its type is checked by content, its size by the setting."""
        with self._audited(actor, "add", filename):
            if len(data) > self.settings.max_document_bytes:
                raise DocumentError(
                    f"{filename} is {len(data):,} bytes; the limit is {self.settings.max_document_bytes:,}."
                )
            return self._add(load_bytes(data, filename), data, Path(filename).suffix, actor)

    def add_url(self, url: str, *, actor: str) -> AddResult:
        """Fetch a web page or PDF (bounded in size and time) and add it as a Markdown document."""
        with self._audited(actor, "add_url", url):
            fetched = fetch_url(
                url,
                max_bytes=self.settings.max_document_bytes,
                timeout_s=self.settings.fetch_timeout_s,
            )
            document = load_bytes(fetched.data, fetched.filename)
            meta = {k: v for k, v in document.meta.items() if v}
            meta.setdefault("url", fetched.url)
            meta["obtained_from"] = fetched.url
            front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
            markdown = f"---\n{front}---\n\n{document.text}\n".encode()
            name = slugify(meta.get("title", ""))[:80].strip("-") or document.doc_id
            return self._add(load_bytes(markdown, name + ".md"), markdown, ".md", actor)

    def remove(self, doc_id: str, *, actor: str = "cli") -> DocumentInfo:
        """Take a document out of the corpus and the index; its file is kept aside, not deleted."""
        with self._audited(actor, "remove", doc_id), self._locked():
            row = self.store.document(doc_id)
            if row is None:
                raise UnknownDocument(
                    f"No document has the id {doc_id!r}; `policybot list` shows the ids."
                )
            if self.store.document_count() == 1:
                raise DocumentError("This is the last document; an index needs at least one.")
            source = Path(row.source)
            aside = (
                self.settings.data_dir
                / "removed"
                / f"{time.strftime('%Y%m%dT%H%M%S')}-{source.name}"
            )
            aside.parent.mkdir(parents=True, exist_ok=True)
            if source.exists():
                try:
                    shutil.move(source, aside)
                except OSError as err:
                    raise DocumentError(
                        f"Cannot move {source} out of the corpus: {err.strerror}."
                    ) from err
            try:
                self._reindex(False, None)
            except BaseException:
                if aside.exists():
                    shutil.move(aside, source)
                raise
            return to_info(row)

    def record_feedback(
        self, *, question: str, chunk_ids: Sequence[str], user_id: str, vote: int
    ) -> None:
        """Store a 👍/👎 (vote +1/-1) against a hash of the user id, never the id itself."""
        if vote not in (1, -1):
            raise ValueError("vote must be +1 or -1")
        user_hash = hashlib.sha256(f"policybot:{user_id}".encode()).hexdigest()
        self.store.record_feedback(question, chunk_ids, user_hash, vote)

    def record_failure(self, *, actor: str, action: str, target: str, error: str) -> None:
        """Audit an admin action that was refused before it reached the service."""
        self.store.record_action(actor, action, target, error)

    # internals -------------------------------------------------------------------------------

    def _corpus_names(self) -> list[str]:
        return [str(Path(d).resolve()) for d in self.settings.corpus_dirs]

    @contextmanager
    def _locked(self):
        """One writer at a time across processes; readers never wait."""
        try:
            with self._write_lock.acquire(timeout=600):
                yield
        except Timeout as err:
            raise PolicyBotError("Another indexing run is still going; try again shortly.") from err

    @contextmanager
    def _audited(self, actor: str, action: str, target: str):
        """Record every admin action with its outcome (reads are not recorded)."""
        try:
            yield
        except PolicyBotError as err:
            self.store.record_action(actor, action, target, f"refused: {err}")
            raise
        except BaseException as err:
            self.store.record_action(actor, action, target, f"failed: {type(err).__name__}")
            raise
        else:
            self.store.record_action(actor, action, target, "ok")

    def _add(self, document: SourceDocument, data: bytes, suffix: str, actor: str) -> AddResult:
        started = time.perf_counter()
        with self._locked():
            same = self.store.document_with_content(document.content_hash)
            if same is not None:
                raise DuplicateDocument(
                    f"That content is already in the corpus as {same.doc_id!r} ({same.title}); not added again."
                )
            if self.store.document(document.doc_id) is not None:
                raise DocumentError(
                    f"A document with the id {document.doc_id!r} already exists; remove it first or rename the file."
                )
            folder = Path(self.settings.corpus_dirs[0])
            target = folder / f"{document.doc_id}{suffix.lower()}"
            if target.exists():
                raise DocumentError(
                    f"{target} already exists in the corpus folder; rename the file."
                )
            _write_atomically(target, data)
            try:
                report = self._reindex(False, None)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            if self.store.document(document.doc_id) is None:
                target.unlink(missing_ok=True)
                reason = next(
                    (s for s in report.skipped if s.startswith(str(target))), "it was skipped"
                )
                raise DocumentError(f"{target.name} could not be indexed: {reason}")
            self.store.set_added_by(document.doc_id, actor)
        counts = self.store.chunk_counts()
        info = to_info(self.store.document(document.doc_id), counts.get(document.doc_id, 0))
        return AddResult(info, info.chunks, time.perf_counter() - started)

    def _scan(self, known: set[str]) -> tuple[list[SourceDocument], list[str], set[str]]:
        """Load every supported file in the corpus folders: (documents, skipped, unreadable ids).

        Files of already indexed documents come first, so a copy never takes over their id.
        """
        documents: list[SourceDocument] = []
        skipped: list[str] = []
        unreadable: set[str] = set()
        seen_ids: dict[str, Path] = {}
        seen_hashes: dict[str, str] = {}
        for folder in self.settings.corpus_dirs:
            folder = Path(folder)
            if not folder.is_dir():
                raise PolicyBotError(f"The corpus folder {folder} does not exist.")
            for path in sorted(
                folder.iterdir(), key=lambda p: (slugify(p.stem) not in known, p.name)
            ):
                if not path.is_file() or path.suffix.lower() not in SUPPORTED_SUFFIXES:
                    continue
                if path.name.lower().startswith("readme") or path.name.startswith("."):
                    continue  # a folder's own description, or a temporary file
                try:
                    document = load_path(path, self.settings.max_document_bytes)
                except DocumentError as err:
                    skipped.append(f"{path}: {err}")
                    unreadable.add(path.stem.lower())
                    continue
                if document.doc_id in seen_ids:
                    skipped.append(
                        f"{path}: the id {document.doc_id!r} is already used by {seen_ids[document.doc_id]}"
                    )
                    continue
                if document.content_hash in seen_hashes:
                    skipped.append(
                        f"{path}: same content as {seen_hashes[document.content_hash]!r}"
                    )
                    continue
                seen_ids[document.doc_id] = path
                seen_hashes[document.content_hash] = document.doc_id
                documents.append(replace(document, meta={**document.meta, "source": str(path)}))
        return documents, skipped, unreadable

    def _reindex(self, rebuild: bool, progress: Progress | None) -> IndexReport:
        started = time.perf_counter()
        existing = self.store.document_rows()
        documents, skipped, unreadable = self._scan(set(existing))
        by_id = {d.doc_id: d for d in documents}
        for document in documents:
            old = existing.get(document.doc_id)
            row = _document_row(document)
            if (
                rebuild
                or old is None
                or (old.content_hash, old.meta_json, old.source)
                != (
                    row.content_hash,
                    row.meta_json,
                    row.source,
                )
            ):
                self.store.replace_document(row, self._chunk_rows(document))
        gone = [doc_id for doc_id in existing if doc_id not in by_id and doc_id not in unreadable]
        self.store.delete_documents(gone)
        rows = self.store.document_rows()
        if not rows:
            raise PolicyBotError(
                f"No documents to index in {', '.join(self._corpus_names())}: add Markdown, text, PDF or HTML files."
            )
        chunks = self.store.chunks()
        embedded = self._embed_missing(chunks, rows, progress)
        checksum = _checksum(rows.values(), self.settings, CHUNKER_VERSION)
        manifest = self.index_dir.manifest()
        if (
            not rebuild
            and manifest is not None
            and manifest.corpus_checksum == checksum
            and manifest.corpus_dirs == self._corpus_names()
            and _loads(self)
        ):
            return IndexReport(
                len(rows),
                len(chunks),
                embedded,
                time.perf_counter() - started,
                False,
                tuple(skipped),
                manifest.build_id,
            )
        build_id = self._publish(rows, chunks, checksum)
        return IndexReport(
            len(rows),
            len(chunks),
            embedded,
            time.perf_counter() - started,
            True,
            tuple(skipped),
            build_id,
        )

    def _chunk_rows(self, document: SourceDocument) -> list[ChunkRow]:
        title = document.meta.get("title", "")
        chunks = chunk_text(document.text, self.settings.chunk_tokens)
        chunks = fit_to_model(
            document.text, title, chunks, self.embedder.count_tokens, self.embedder.max_tokens
        )
        rows = []
        for ordinal, chunk in enumerate(chunks):
            text = document.text[chunk.start : chunk.end]
            rows.append(
                ChunkRow(
                    doc_id=document.doc_id,
                    ordinal=ordinal,
                    start=chunk.start,
                    end=chunk.end,
                    heading=chunk.heading,
                    tokens=chunk.tokens,
                    text_hash=sha256(embedding_text(title, chunk.heading, text)),
                )
            )
        return rows

    def _embed_missing(self, chunks: list[ChunkRow], rows: dict[str, DocumentRow], progress) -> int:
        """Embed chunks whose text has no cached vector, saving each batch as it completes."""
        model = self.settings.embedding_model
        missing = self.store.missing_embeddings(model, (c.text_hash for c in chunks))
        todo: dict[str, str] = {}
        for chunk in chunks:
            if chunk.text_hash in missing and chunk.text_hash not in todo:
                document = rows[chunk.doc_id]
                text = document.text[chunk.start : chunk.end]
                todo[chunk.text_hash] = embedding_text(document.title, chunk.heading, text)
        # Similar lengths per batch: the model pads each batch to its longest text.
        hashes = sorted(todo, key=lambda h: len(todo[h]))
        if progress:
            progress(0, len(hashes))
        for start in range(0, len(hashes), EMBED_BATCH):
            batch = hashes[start : start + EMBED_BATCH]
            self.store.save_embeddings(model, batch, self.embedder.embed([todo[h] for h in batch]))
            if progress:
                progress(min(start + EMBED_BATCH, len(hashes)), len(hashes))
        if hashes:
            log.info("embedded %d new chunks", len(hashes))
        return len(hashes)

    def _publish(self, rows: dict[str, DocumentRow], chunks: list[ChunkRow], checksum: str) -> str:
        passages = [
            StoredPassage(
                chunk_id=f"{c.doc_id}#{c.ordinal}",
                doc_id=c.doc_id,
                heading=c.heading,
                start=c.start,
                end=c.end,
                text=rows[c.doc_id].text[c.start : c.end],
            )
            for c in chunks
        ]
        documents = {
            doc_id: replace(to_info(row), added_at=None, added_by="")
            for doc_id, row in rows.items()
        }
        dimension = self.embedder.dimension
        vectors = self.store.embeddings(
            self.settings.embedding_model, [c.text_hash for c in chunks], dimension
        )
        lexical = [f"{rows[p.doc_id].title}\n{p.heading}\n{p.text}" for p in passages]
        manifest = Manifest(
            build_id=new_build_id(),
            model=self.settings.embedding_model,
            dimension=dimension,
            chunker=CHUNKER_VERSION,
            chunk_tokens=self.settings.chunk_tokens,
            corpus_checksum=checksum,
            corpus_dirs=self._corpus_names(),
            documents=len(rows),
            chunks=len(chunks),
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.index_dir.publish(manifest, passages, documents, vectors, lexical)
        self.index_dir.prune()
        log.info(
            "published index %s: %d documents, %d chunks", manifest.build_id, len(rows), len(chunks)
        )
        return manifest.build_id

    def _filter_rows(
        self, snapshot: Snapshot, jurisdiction, doc_id, date_from, date_to
    ) -> np.ndarray | None:
        if not any((jurisdiction, doc_id, date_from, date_to)):
            return None
        docs = snapshot.documents
        if doc_id and doc_id not in docs:
            raise UnknownDocument(
                f"No document has the id {doc_id!r}; `policybot list` shows the ids."
            )

        def keep(info: DocumentInfo) -> bool:
            return (
                (not jurisdiction or info.jurisdiction.lower() == jurisdiction.lower())
                and (not doc_id or info.doc_id == doc_id)
                and (not date_from or (info.date and info.date >= date_from))
                and (not date_to or (info.date and info.date <= date_to))
            )

        kept = {d for d, info in docs.items() if keep(info)}
        return np.array(
            [row for row, p in enumerate(snapshot.passages) if p.doc_id in kept], dtype=np.int64
        )


def _document_row(document: SourceDocument) -> DocumentRow:
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
        content_hash=document.content_hash,
        text=document.text,
    )


def _checksum(rows, settings: Settings, chunker: str) -> str:
    """Identifies what a build is made of: documents, metadata, model and chunker."""
    parts = sorted((r.doc_id, r.content_hash, sha256(r.meta_json)) for r in rows)
    parts.append((settings.embedding_model, chunker, str(settings.chunk_tokens)))
    return sha256(json.dumps(parts))


def _loads(service: Service) -> bool:
    """True when the published build is usable as it is."""
    try:
        service.current()
    except IndexUnavailable:
        return False
    return True


def _write_atomically(target: Path, data: bytes) -> None:
    """Write beside the target, then rename: a crash leaves the old state or the whole file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
