"""The one service every adapter calls: ask, add, remove, list, reindex, status."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from retrieval.asking import answer_question
from retrieval.chunking import CHUNKER_VERSION
from retrieval.config import Settings
from retrieval.corpus import RemovedFiles, metadata_yaml, write_atomically
from retrieval.embedding import Embedder, OnnxEmbedder
from retrieval.errors import (
    DocumentError,
    DuplicateDocument,
    IndexUnavailable,
    InvalidQuestion,
    PolicyBotError,
    UnknownDocument,
    printable,
)
from retrieval.index import INDEX_FORMAT, IndexDirectory
from retrieval.params import Params
from retrieval.passages import to_passage
from retrieval.snapshot import Snapshot
from retrieval.types import (
    AddResult,
    AdminAction,
    Answer,
    DocumentInfo,
    Filters,
    IndexReport,
    Passage,
    Status,
)

if TYPE_CHECKING:  # the indexer and the database load on first use: answering needs neither
    from retrieval.indexer import Indexer, Progress
    from retrieval.store import Store

log = logging.getLogger(__name__)


class Service:
    """PolicyBot's engine behind one object; safe to call from worker threads."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, params: Params | None = None
    ):
        self.settings = settings
        self.params = params or Params()
        self.embedder = embedder or OnnxEmbedder(
            settings.embedding_model, settings.model_folder, settings.embed_threads
        )
        _ensure_folder(settings.data_dir)
        self.index_dir = IndexDirectory(settings.data_dir / "index")
        self._write_lock = FileLock(str(settings.data_dir / "write.lock"))
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    @cached_property
    def store(self) -> Store:
        """The database, opened on first use: answering a question never needs it."""
        from retrieval.store import Store

        return Store(self.settings.db_url)

    @cached_property
    def indexer(self) -> Indexer:
        from retrieval.indexer import CorpusConfig, Indexer

        config = CorpusConfig(
            folders=tuple(self.settings.corpus_dirs),
            model=self.settings.embedding_model,
            chunk_tokens=self.settings.chunk_tokens,
            max_document_bytes=self.settings.max_document_bytes,
            max_document_chars=self.settings.max_document_chars,
            max_chunks=self.settings.max_chunks_per_document,
        )
        return Indexer(config, self.store, self.embedder, self.index_dir, self._published_loads)

    # reading ---------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model and the index now (the bot does this before it reports ready)."""
        self.ensure_index()
        self.current()
        self.embedder.embed(["warm up"])

    def ensure_index(self, progress: Progress | None = None) -> IndexReport | None:
        """Build the index on first use, or when the configured corpus folders changed."""
        manifest = self.index_dir.manifest()
        if (
            manifest is not None
            and manifest.corpus_dirs == self._corpus_names()
            and manifest.format == INDEX_FORMAT
        ):
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
        self, question: str, *, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer from the corpus: ``top_k`` passages shown, as many more for "more sources"."""
        question = " ".join((question or "").split())
        if not question:
            raise InvalidQuestion("Please ask a question: the text was empty.")
        try:
            question.encode("utf-8")
        except UnicodeEncodeError as err:  # a lone surrogate: bytes that were not UTF-8
            raise InvalidQuestion(
                f"The question holds bytes that are not text (at character {err.start + 1}); "
                "type it again as plain text."
            ) from err
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InvalidQuestion(
                f"Questions are limited to {limit} characters; this one has {len(question)}."
            )
        top_k = top_k or self.settings.top_k
        started = time.perf_counter()
        snapshot = self.current()
        filters = filters or Filters()
        _check_filters(filters, snapshot)
        result = answer_question(
            snapshot,
            self.embedder,
            question,
            top_k=top_k,
            filters=filters,
            params=self.params,
            min_support=self.settings.min_support,
        )
        return replace(result, elapsed_ms=(time.perf_counter() - started) * 1000)

    def passage(self, chunk_id: str) -> Passage:
        """The whole passage with that id, from the index now serving."""
        snapshot = self.current()
        row = snapshot.rows_by_chunk.get(chunk_id)
        if row is None:
            raise UnknownDocument(f"That passage ({chunk_id}) is no longer in the index.")
        return to_passage(snapshot, row)

    def documents(self) -> list[DocumentInfo]:
        return sorted(self.store.documents(), key=lambda d: d.doc_id)

    def jurisdictions(self) -> list[str]:
        return sorted({d.jurisdiction for d in self.documents() if d.jurisdiction})

    def status(self) -> Status:
        """The index now serving, the database, and what is wrong with them, if anything."""
        manifest = self.index_dir.manifest()
        problem = ""
        database = self.settings.data_dir / "policybot.db"
        if not self.settings.database_url and manifest is not None and not database.exists():
            problem = f"the database {database} is missing: run `policybot index --rebuild`."
            stored = 0
        else:
            stored = self.store.document_count()
        if not problem and self.index_dir.current_id() is not None:
            try:
                snapshot = self.current()
            except IndexUnavailable as err:
                problem = str(err)
            else:
                if len(snapshot.documents) != stored:
                    problem = (
                        f"the index holds {len(snapshot.documents)} documents but the database "
                        f"{stored}: run `policybot index`."
                    )
        return Status(
            documents=manifest.documents if manifest else 0,
            chunks=manifest.chunks if manifest else 0,
            model=self.settings.embedding_model,
            dimension=manifest.dimension if manifest else 0,
            chunker=f"v{CHUNKER_VERSION}, {self.settings.chunk_tokens} tokens",
            build_id=manifest.build_id if manifest else "",
            built_at=datetime.fromisoformat(manifest.built_at) if manifest else None,
            corpus_dirs=tuple(self._corpus_names()),
            database_documents=stored,
            problem=problem,
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
            return self.indexer.run(rebuild, progress)

    def add_file(
        self,
        path: Path,
        *,
        actor: str = "cli",
        metadata: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> AddResult:
        """Copy a file into the corpus (atomically) and index it; ``metadata`` (title, date, …)
        replaces what the file says or lacks, and is kept beside it."""
        from retrieval.documents import load_bytes
        from retrieval.files import read_path

        with self._audited(actor, "add", printable(str(path))):
            data = read_path(Path(path), self.settings.max_document_bytes)
            document = load_bytes(data, Path(path).name, max_chars=self.settings.max_document_chars)
            return self._add(document, data, Path(path).suffix, actor, metadata, progress)

    def add_bytes(self, data: bytes, filename: str, *, actor: str) -> AddResult:
        """Add an uploaded file: its type is checked by content, its size by the setting."""
        from retrieval.documents import load_bytes

        with self._audited(actor, "add", printable(filename)):
            if len(data) > self.settings.max_document_bytes:
                raise DocumentError(
                    f"{printable(filename)} is {len(data):,} bytes; the limit is {self.settings.max_document_bytes:,}."
                )
            document = load_bytes(data, filename, max_chars=self.settings.max_document_chars)
            return self._add(document, data, Path(filename).suffix, actor)

    def add_url(self, url: str, *, actor: str) -> AddResult:
        """Fetch a web page or PDF (bounded in size and time) and add it as a Markdown document."""
        from retrieval.corpus import markdown_copy
        from retrieval.documents import load_bytes
        from retrieval.fetch import fetch_url

        limit = self.settings.max_document_chars
        with self._audited(actor, "add_url", printable(url)):
            fetched = fetch_url(
                url,
                max_bytes=self.settings.max_document_bytes,
                timeout_s=self.settings.fetch_timeout_s,
            )
            markdown, filename = markdown_copy(
                load_bytes(fetched.data, fetched.filename, max_chars=limit), fetched.url
            )
            return self._add(
                load_bytes(markdown, filename, max_chars=limit), markdown, ".md", actor
            )

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
            info = self.store.info(row, self.store.chunk_counts().get(doc_id, 0))
            from retrieval.metadata import metadata_file

            source = Path(row.source)
            removed = RemovedFiles(self.settings.data_dir / "removed")
            aside = removed.move_aside(source)
            aside_metadata = removed.move_aside(metadata_file(source))
            try:
                self.indexer.run(False)
            except BaseException:
                removed.restore(aside, source)
                removed.restore(aside_metadata, metadata_file(source))
                raise
            return info

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

    def _published_loads(self) -> bool:
        """True when the published build is usable as it is."""
        try:
            self.current()
        except IndexUnavailable:
            return False
        return True

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

    def _add(
        self,
        document,
        data: bytes,
        suffix: str,
        actor: str,
        metadata: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> AddResult:
        from retrieval.metadata import OVERRIDABLE_KEYS, checked_metadata, metadata_file

        started = time.perf_counter()
        given = {k: v for k, v in (metadata or {}).items() if v}
        if set(given) - set(OVERRIDABLE_KEYS):
            raise DocumentError(f"Only these can be set: {', '.join(OVERRIDABLE_KEYS)}.")
        given = checked_metadata(given, "the metadata given")
        with self._locked():
            same = self.store.document_with_content(document.content_hash)
            if same is not None:
                raise DuplicateDocument(
                    f"That content is already in the corpus as {same.doc_id!r} ({printable(same.title)}); not added again."
                )
            if self.store.document(document.doc_id) is not None:
                raise DocumentError(
                    f"A document with the id {document.doc_id!r} already exists; remove it first or rename the file."
                )
            folder = Path(self.settings.corpus_dirs[0])
            target = folder / f"{document.doc_id}{suffix.lower()}"
            sidecar = metadata_file(target)
            if target.exists() or sidecar.exists():
                raise DocumentError(
                    f"{printable(str(target))} already exists in the corpus folder; rename the file."
                )
            if given:  # beside the file, first: a file never enters with the wrong metadata
                write_atomically(sidecar, metadata_yaml(given))
            write_atomically(target, data)
            try:
                report = self.indexer.run(False, progress)
            except BaseException:  # a failure or a SIGTERM: the corpus is as before
                target.unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
                self.store.delete_documents([document.doc_id])
                raise
            if self.store.document(document.doc_id) is None:
                target.unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
                reason = next(
                    (s for s in report.skipped if s.startswith(str(target))), "it was skipped"
                )
                raise DocumentError(f"{printable(target.name)} could not be indexed: {reason}")
            self.store.set_added_by(document.doc_id, actor)
        counts = self.store.chunk_counts()
        info = self.store.info(self.store.document(document.doc_id), counts.get(document.doc_id, 0))
        return AddResult(info, info.chunks, time.perf_counter() - started)


def _check_filters(filters: Filters, snapshot: Snapshot) -> None:
    """Filters that name a jurisdiction the corpus has and dates in order, or a clear refusal
    (a filter matching nothing would answer "no answer" without saying why)."""
    known = sorted({d.jurisdiction for d in snapshot.documents.values() if d.jurisdiction})
    if filters.jurisdiction and filters.jurisdiction.lower() not in {j.lower() for j in known}:
        raise InvalidQuestion(
            f"No document has the jurisdiction {printable(filters.jurisdiction)!r}; "
            f"choose one of: {', '.join(known) or 'none yet'}."
        )
    dates = {"since": filters.date_from, "until": filters.date_to}
    for name, value in dates.items():
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise InvalidQuestion(
                    f"--{name} must be a date written YYYY-MM-DD, not {printable(value)!r}."
                ) from None
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidQuestion(
            f"--since {filters.date_from} is after --until {filters.date_to}: no date is both."
        )


def _ensure_folder(folder: Path) -> None:
    """The data folder, created if missing; a clear refusal when it cannot be."""
    if folder.exists() and not folder.is_dir():
        raise PolicyBotError(
            f"POLICYBOT_DATA_DIR is {printable(str(folder))}, a file: point it at a folder "
            "(it is created when missing)."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PolicyBotError(
            f"Cannot create the data folder {printable(str(folder))} ({err.strerror}): set "
            "POLICYBOT_DATA_DIR to a folder you can write."
        ) from err
