"""The one service every adapter calls: ask, add, remove, list, reindex, status."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.asking import answer_question
from retrieval.chunking import CHUNKER_VERSION
from retrieval.config import Settings
from retrieval.corpus import RemovedFiles
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
from retrieval.index import IndexDirectory
from retrieval.manifest import made_differently
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
        _ensure_folder(settings.data_dir)
        self.index_dir = IndexDirectory(settings.data_dir / "index")
        self._snapshot_lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._snapshot: Snapshot | None = None

    @cached_property
    def store(self) -> Store:
        """The database: the documents and which build every process serves."""
        from retrieval.store import Store

        return Store(self.settings.db_url)

    @cached_property
    def local(self) -> LocalBuilds:
        """This data folder's copies of the database's builds."""
        from retrieval.builds import LocalBuilds, Recipe

        recipe = Recipe(
            self.settings.embedding_model, self.settings.chunk_tokens, self.embedder.dimension
        )
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
            self.embedder,
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
        from retrieval.importing import folder_name

        seen = self.store.origins()
        unseen = [f for f in self.settings.corpus_dirs if folder_name(f) not in seen]
        if self.store.current_build() is None or unseen:
            return self.reindex(progress=progress, actor="auto")
        return None

    def current(self) -> Snapshot:
        """The build the database names as current; made here from the database the first
        time this folder sees it, while questions already running finish on the previous one."""
        wanted = self.store.current_build()
        if wanted is None:
            raise IndexUnavailable("No index has been built yet: run `policybot index`.")
        made = {"model": wanted.model, "chunker": wanted.chunker}
        problem = made_differently(
            {**made, "chunk_tokens": wanted.chunk_tokens}, self.settings.embedding_model,
            CHUNKER_VERSION, self.settings.chunk_tokens,
        )  # fmt: skip
        if problem:
            raise IndexUnavailable(problem)
        previous = self._snapshot
        if previous is not None and previous.manifest.build_id == wanted.build_id:
            return previous
        if self.index_dir.current_id() != wanted.build_id:
            if not self._refreshing.acquire(blocking=previous is None):
                return previous  # another thread is making the new build here
            try:
                self.local.refresh()
            finally:
                self._refreshing.release()
        with self._snapshot_lock:
            loaded = self._snapshot
            if loaded is None or loaded.manifest.build_id != self.index_dir.current_id():
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
        """The build the database names as current, and what is wrong with it, if anything."""
        problem = ""
        database = self.settings.data_dir / "policybot.db"
        if not self.settings.database_url and not database.exists() and self.index_dir.manifest():
            problem = (
                f"the database {database} is missing: run `policybot index --rebuild` to "
                "import the corpus folders again."
            )
            return Status(0, 0, self.settings.embedding_model, 0, "", "", None, problem=problem)
        wanted = self.store.current_build()
        if wanted is not None:
            try:
                self.current()
            except IndexUnavailable as err:
                problem = str(err)
        return Status(
            documents=wanted.documents if wanted else 0,
            chunks=wanted.chunks if wanted else 0,
            model=self.settings.embedding_model,
            dimension=wanted.dimension if wanted else 0,
            chunker=f"v{CHUNKER_VERSION}, {self.settings.chunk_tokens} tokens",
            build_id=wanted.build_id if wanted else "",
            built_at=wanted.built_at.replace(tzinfo=UTC) if wanted else None,
            corpus_dirs=tuple(str(d) for d in self.settings.corpus_dirs),
            database_documents=self.store.document_count(),
            problem=problem,
        )

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
        from retrieval.documents import load_bytes
        from retrieval.files import read_path

        with self._audited(actor, "add", printable(str(path))):
            data = read_path(Path(path), self.settings.max_document_bytes)
            name = Path(path).name
            document = load_bytes(data, name, max_chars=self.settings.max_document_chars)
            return self._add(document, data, name, actor, metadata, progress)

    def add_bytes(self, data: bytes, filename: str, *, actor: str) -> AddResult:
        """Add an uploaded file: its type is checked by content, its size by the setting."""
        from retrieval.documents import load_bytes

        with self._audited(actor, "add", printable(filename)):
            if len(data) > self.settings.max_document_bytes:
                raise DocumentError(
                    f"{printable(filename)} is {len(data):,} bytes; the limit is {self.settings.max_document_bytes:,}."
                )
            document = load_bytes(data, filename, max_chars=self.settings.max_document_chars)
            return self._add(document, data, Path(filename).name, actor)

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
            document = load_bytes(markdown, filename, max_chars=limit)
            return self._add(document, markdown, filename, actor, source=fetched.url)

    def remove(self, doc_id: str, *, actor: str = "cli") -> DocumentInfo:
        """Take a document out of the database and the index; its file or uploaded bytes are
        kept in the data folder's ``removed/``, not deleted."""
        from retrieval.indexer import Work

        with self._audited(actor, "remove", doc_id), self._locked():
            row = self.store.document(doc_id)
            if row is None:
                raise UnknownDocument(
                    f"No document has the id {doc_id!r}; `policybot list` shows the ids."
                )
            if self.store.document_count() == 1:
                raise DocumentError("This is the last document; an index needs at least one.")
            info = self.store.info(row, self.store.chunk_counts().get(doc_id, 0))
            undo = self._keep_removed(row)
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

    def _keep_removed(self, row):
        """Keep what a removal takes away: a folder's file moves aside (so the next import does
        not bring it back), an upload's bytes are written out. Returns what undoes it."""
        from retrieval.metadata import metadata_file
        from retrieval.tables import UPLOADED

        removed = RemovedFiles(self.settings.data_dir / "removed")
        if row.origin == UPLOADED:
            original = self.store.original(row.doc_id)
            if original is None:
                return lambda: None
            kept = removed.keep(original.filename, original.data)
            return lambda: kept.unlink(missing_ok=True)
        source = Path(row.source)
        aside = removed.move_aside(source)
        aside_metadata = removed.move_aside(metadata_file(source))

        def undo() -> None:
            removed.restore(aside, source)
            removed.restore(aside_metadata, metadata_file(source))

        return undo

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
        from retrieval.importing import document_row
        from retrieval.indexer import Work
        from retrieval.metadata import OVERRIDABLE_KEYS, checked_metadata
        from retrieval.tables import UPLOADED, OriginalRow

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
            meta = {**document.meta, **given, "source": source or filename}
            row = document_row(replace(document, meta=meta), UPLOADED, added_by=actor)
            original = OriginalRow(doc_id=row.doc_id, filename=filename, data=data)
            report = self.indexer.run(Work(added=[(row, original)]), progress)
            if self.store.document(document.doc_id) is None:
                reason = next(
                    (s for s in report.skipped if s.startswith(printable(row.source))),
                    "it was skipped",
                )
                raise DocumentError(f"{printable(filename)} could not be indexed: {reason}")
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
