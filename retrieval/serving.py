"""The snapshot a process answers from: the build the database names as current, loaded from
this data folder's copy, which is made from the database the first time the folder sees it;
and what `status` says of that build."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.chunking import CHUNKER_VERSION
from retrieval.errors import IndexUnavailable
from retrieval.index import IndexDirectory
from retrieval.manifest import made_differently
from retrieval.snapshot import Snapshot
from retrieval.types import Status

if TYPE_CHECKING:
    from retrieval.pointer import CurrentBuild
    from retrieval.store import Store


class Serving:
    """One snapshot at a time, switched to a new build while questions already running finish
    on the previous one; safe to call from worker threads."""

    def __init__(self, index_dir: IndexDirectory, model: str, chunk_tokens: int):
        self.index_dir = index_dir
        self.model = model
        self.chunk_tokens = chunk_tokens
        self._snapshot_lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._snapshot: Snapshot | None = None

    def current(self, wanted: CurrentBuild | None, refresh: Callable[[], object]) -> Snapshot:
        """The snapshot of ``wanted``, the build the database names as current; ``refresh``
        makes that build's files in this folder when it has not got them yet."""
        if wanted is None:
            raise IndexUnavailable("No index has been built yet: run `policybot index`.")
        made = {
            "model": wanted.model,
            "chunker": wanted.chunker,
            "chunk_tokens": wanted.chunk_tokens,
        }
        problem = made_differently(made, self.model, CHUNKER_VERSION, self.chunk_tokens)
        if problem:
            raise IndexUnavailable(problem)
        previous = self._snapshot
        if previous is not None and previous.manifest.build_id == wanted.build_id:
            return previous
        if self.index_dir.current_id() != wanted.build_id:
            if not self._refreshing.acquire(blocking=previous is None):
                return previous  # another thread is making the new build here
            try:
                refresh()
            finally:
                self._refreshing.release()
        with self._snapshot_lock:
            loaded = self._snapshot
            if loaded is None or loaded.manifest.build_id != self.index_dir.current_id():
                self._snapshot = self.index_dir.load(self.model, CHUNKER_VERSION, self.chunk_tokens)
            return self._snapshot

    def status(
        self, store: Store, refresh: Callable[[], object], corpus_dirs: Sequence[Path]
    ) -> Status:
        """The build the database names as current and what is wrong with it, if anything;
        ``refresh`` as for ``current``."""
        problem = ""
        wanted = store.current_build()
        if wanted is not None:
            try:
                self.current(store.current_build(), refresh)
            except IndexUnavailable as err:
                problem = str(err)
        return Status(
            documents=wanted.documents if wanted else 0,
            chunks=wanted.chunks if wanted else 0,
            model=self.model,
            dimension=wanted.dimension if wanted else 0,
            chunker=f"v{CHUNKER_VERSION}, {self.chunk_tokens} tokens",
            build_id=wanted.build_id if wanted else "",
            built_at=wanted.built_at.replace(tzinfo=UTC) if wanted else None,
            corpus_dirs=tuple(str(d) for d in corpus_dirs),
            database_documents=store.document_count(),
            database=store.engine.url.render_as_string(hide_password=True),
            problem=problem,
        )


def missing_database(data_dir: Path, database_url: str, index_dir: IndexDirectory) -> str:
    """What is wrong when this folder still has a build but its SQLite database is gone (the
    database, not the folder, is the source of truth); "" otherwise."""
    database = data_dir / "policybot.db"
    if not database_url and not database.exists() and index_dir.manifest():
        return (
            f"the database {database} is missing: run `policybot index --rebuild` to "
            "import the corpus folders again."
        )
    return ""
