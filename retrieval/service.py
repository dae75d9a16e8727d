"""The one service every adapter calls: ask, add, remove, list, reindex, status."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.asking import answer_question
from retrieval.config import Settings
from retrieval.embedding import Embedder, OnnxEmbedder
from retrieval.errors import IndexUnavailable, PolicyBotError, UnknownDocument, printable
from retrieval.index import IndexDirectory
from retrieval.params import Params
from retrieval.passages import to_passage
from retrieval.pointer import BuildPointer, folder_origin
from retrieval.serving import Serving, missing_database
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
from retrieval.validation import check_filters, checked_question, ensure_folder, removable

if TYPE_CHECKING:  # the indexer loads on first use: answering needs it not
    from retrieval.builds import LocalBuilds
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
        # What makes the index's vectors, and the name builds and the cache know them by: a
        # given embedder does both, as does float32.
        self.index_embedder, self.vectors_model = self.embedder, settings.embedding_model
        if embedder is None and settings.index_precision == "bfloat16":
            from retrieval.torch_embedding import Bfloat16Embedder

            self.index_embedder = Bfloat16Embedder(self.embedder, settings.embed_threads)
            self.vectors_model = self.index_embedder.name
        ensure_folder(settings.data_dir)
        self.index_dir = IndexDirectory(settings.data_dir / "index")
        self.serving = Serving(self.index_dir, self.vectors_model, settings.chunk_tokens)

    @cached_property
    def pointer(self) -> BuildPointer:
        """The current build and the folders seen, read without opening the Store on SQLite."""
        return BuildPointer(self.settings.db_url, lambda: self.store)

    @cached_property
    def store(self) -> Store:
        """The database: the documents and which build every process serves."""
        from retrieval.store import Store

        return Store(self.settings.db_url)

    @cached_property
    def local(self) -> LocalBuilds:
        """This data folder's copies of the database's builds."""
        from retrieval.builds import LocalBuilds, Recipe

        recipe = Recipe(self.vectors_model, self.settings.chunk_tokens, self.embedder.dimension)
        return LocalBuilds(self.index_dir, self.store, recipe)

    @cached_property
    def indexer(self) -> Indexer:
        from retrieval.importing import Limits
        from retrieval.indexer import Indexer

        limits = Limits(self.settings.max_document_bytes, self.settings.max_document_chars)
        return Indexer(
            self.local.recipe,
            limits,
            self.settings.max_chunks_per_document,
            self.store,
            self.index_embedder,
            self.local,
            self._serving,
        )

    # reading ---------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model and the index now (the bot does this before it reports ready)."""
        self.ensure_index()
        self.current()
        self.embedder.embed(["warm up"])

    def ensure_index(self, progress: Progress | None = None) -> IndexReport | None:
        """Import the configured folders the database has not seen, and build when the
        database has no build yet; otherwise nothing (``current`` follows new builds)."""
        seen = self.pointer.origins()
        unseen = [f for f in self.settings.corpus_dirs if folder_origin(f) not in seen]
        if self.pointer.current() is None or unseen:
            return self.reindex(progress=progress, actor="auto")
        return None

    def current(self) -> Snapshot:
        """The build the database names as current; made here from the database the first
        time this folder sees it, while questions already running finish on the previous one."""
        return self.serving.current(self.pointer.current(), lambda: self.local.refresh())

    def ask(
        self, question: str, *, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer from the corpus: ``top_k`` passages shown, as many more for "more sources"."""
        question = checked_question(question, self.settings.max_question_chars)
        top_k = top_k or self.settings.top_k
        started = time.perf_counter()
        snapshot = self.current()
        filters = filters or Filters()
        check_filters(filters, snapshot)
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
        """The build the database names as current, and what is wrong with it, if anything."""
        settings = self.settings
        problem = missing_database(settings.data_dir, settings.database_url, self.index_dir)
        if problem:
            return Status(0, 0, settings.embedding_model, 0, "", "", None, problem=problem)
        return self.serving.status(self.store, lambda: self.local.refresh(), settings.corpus_dirs)

    def admin_actions(self, limit: int = 50) -> list[AdminAction]:
        return self.store.actions(limit)

    # writing ---------------------------------------------------------------------------------

    def reindex(
        self,
        *,
        rebuild: bool = False,
        actor: str = "cli",
        progress: Progress | None = None,
        folders: Sequence[Path] | None = None,
    ) -> IndexReport:
        """Import the folders (the configured ones by default) and build from every document
        in the database, embedding only new text."""
        from retrieval.indexer import Work

        folders = list(self.settings.corpus_dirs if folders is None else folders)
        action = "rebuild" if rebuild else "reindex"
        with self._audited(actor, action, ", ".join(map(str, folders))), self._locked():
            return self.indexer.run(Work(folders=folders, rebuild=rebuild), progress)

    def add_file(
        self,
        path: Path,
        *,
        actor: str = "cli",
        metadata: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> AddResult:
        """Store a file's text and bytes in the database and index it; ``metadata`` (title,
        date, …) replaces what the file says or lacks."""
        from retrieval.uploads import document_of_file

        with self._audited(actor, "add", printable(str(path))):
            document, data, name = document_of_file(
                path, self.settings.max_document_bytes, self.settings.max_document_chars
            )
            return self._add(document, data, name, actor, metadata, progress)

    def add_bytes(self, data: bytes, filename: str, *, actor: str) -> AddResult:
        """Add an uploaded file: its type is checked by content, its size by the setting."""
        from retrieval.uploads import document_of_bytes

        with self._audited(actor, "add", printable(filename)):
            document = document_of_bytes(
                data, filename, self.settings.max_document_bytes, self.settings.max_document_chars
            )
            return self._add(document, data, Path(filename).name, actor)

    def add_url(self, url: str, *, actor: str) -> AddResult:
        """Fetch a web page or PDF (bounded in size and time) and add it as a Markdown document."""
        from retrieval.uploads import document_of_url

        with self._audited(actor, "add_url", printable(url)):
            document, markdown, filename, source = document_of_url(
                url,
                self.settings.max_document_bytes,
                self.settings.fetch_timeout_s,
                self.settings.max_document_chars,
            )
            return self._add(document, markdown, filename, actor, source=source)

    def remove(self, doc_id: str, *, actor: str = "cli") -> DocumentInfo:
        """Take a document out of the database and the index; its file or uploaded bytes are
        kept in the data folder's ``removed/``, not deleted."""
        from retrieval.indexer import Work

        with self._audited(actor, "remove", doc_id), self._locked():
            row = removable(self.store, doc_id)
            info = self.store.info(row, self.store.chunk_counts().get(doc_id, 0))
            from retrieval.corpus import RemovedFiles, keep_removed  # not on the question path

            undo = keep_removed(row, self.store, RemovedFiles(self.settings.data_dir / "removed"))
            try:
                self.indexer.run(Work(removed=[doc_id]))
            except BaseException:
                undo()
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

    def _serving(self) -> bool:
        """True when this folder serves the database's current build as it is."""
        try:
            self.current()
        except IndexUnavailable:
            return False
        return True

    def _locked(self):
        """One writer at a time across processes and machines; readers never wait."""
        return self.store.write_lock()

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
        filename: str,
        actor: str,
        metadata: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        source: str = "",
    ) -> AddResult:
        """Store an uploaded document, its bytes and the build that includes it in one
        transaction: a failure or a SIGTERM before it leaves the database as it was."""
        from retrieval.indexer import Work
        from retrieval.uploads import given_metadata, refuse_duplicate, refuse_skipped, upload_rows

        started = time.perf_counter()
        given = given_metadata(metadata)
        with self._locked():
            refuse_duplicate(self.store, document)
            row, original = upload_rows(document, data, filename, actor, given, source)
            report = self.indexer.run(Work(added=[(row, original)]), progress)
            refuse_skipped(self.store, report, document.doc_id, row.source, filename)
        counts = self.store.chunk_counts()
        info = self.store.info(self.store.document(document.doc_id), counts.get(document.doc_id, 0))
        return AddResult(info, info.chunks, time.perf_counter() - started)
