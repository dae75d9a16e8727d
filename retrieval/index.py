"""Index snapshots: vectors (FAISS), BM25 and passages, written aside and published atomically.

Layout under ``<data_dir>/index``: ``builds/<build_id>/`` (manifest.json, vectors.faiss,
passages.json, lexical/) and ``CURRENT``, a one-line pointer replaced with ``os.replace``.
A build killed at any moment leaves only a ``.tmp-*`` folder; CURRENT still names the old build.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from retrieval.errors import IndexUnavailable
from retrieval.lexical import LexicalIndex
from retrieval.types import DocumentInfo

INDEX_FORMAT = 1
REBUILD_HINT = "run `policybot index --rebuild` to rebuild it"


@dataclass(frozen=True)
class Manifest:
    """The parameters a build was made with; a loader refuses a build that does not match."""

    build_id: str
    model: str
    dimension: int
    chunker: str
    chunk_tokens: int
    corpus_checksum: str
    corpus_dirs: list[str]
    documents: int
    chunks: int
    built_at: str
    format: int = INDEX_FORMAT


@dataclass(frozen=True)
class StoredPassage:
    """A chunk as the snapshot keeps it: enough to quote and cite without the database."""

    chunk_id: str
    doc_id: str
    heading: str
    start: int
    end: int
    text: str


@dataclass
class Snapshot:
    """One published build, loaded: immutable while questions run against it."""

    manifest: Manifest
    passages: list[StoredPassage]
    documents: dict[str, DocumentInfo]
    vectors: faiss.Index
    lexical: LexicalIndex
    rows_by_chunk: dict[str, int] = field(default_factory=dict)
    # The row of the passage that follows each one in its document.
    next_row: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows_by_chunk = {p.chunk_id: row for row, p in enumerate(self.passages)}
        order = sorted(
            range(len(self.passages)),
            key=lambda r: (self.passages[r].doc_id, self.passages[r].start),
        )
        self.next_row = {
            row: following
            for row, following in itertools.pairwise(order)
            if self.passages[row].doc_id == self.passages[following].doc_id
        }

    def dense_scores(self, query_vector: np.ndarray, k: int, allowed: np.ndarray | None):
        """(rows, cosine scores) of the k nearest passages, restricted to ``allowed`` rows."""
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))
        k = min(k, self.vectors.ntotal)
        scores, rows = self.vectors.search(query_vector.reshape(1, -1), k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]


def new_build_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def _write_json(path: Path, value) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, default=str)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IndexDirectory:
    """Publishes builds and finds the current one."""

    def __init__(self, root: Path):
        self.root = root
        self.builds = root / "builds"
        self.pointer = root / "CURRENT"

    def current_id(self) -> str | None:
        try:
            return self.pointer.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def manifest(self) -> Manifest | None:
        """The current build's manifest, or None when nothing usable is published."""
        build_id = self.current_id()
        if build_id is None:
            return None
        try:
            data = json.loads((self.builds / build_id / "manifest.json").read_text("utf-8"))
            return Manifest(**data)
        except (OSError, ValueError, TypeError):
            return None

    def publish(
        self,
        manifest: Manifest,
        passages: list[StoredPassage],
        documents: dict[str, DocumentInfo],
        vectors: np.ndarray,
        lexical_texts: list[str],
    ) -> Path:
        """Write a complete build aside, then switch CURRENT to it in one rename."""
        self.builds.mkdir(parents=True, exist_ok=True)
        staging = self.builds / f".tmp-{manifest.build_id}"
        staging.mkdir()
        index = faiss.IndexFlatIP(manifest.dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(index, str(staging / "vectors.faiss"))
        LexicalIndex.build(lexical_texts).save(staging / "lexical")
        _write_json(staging / "passages.json", [asdict(p) for p in passages])
        _write_json(staging / "documents.json", {k: asdict(v) for k, v in documents.items()})
        _write_json(staging / "manifest.json", asdict(manifest))  # last: marks the build complete
        final = self.builds / manifest.build_id
        os.rename(staging, final)
        _fsync_dir(self.builds)
        tmp_pointer = self.root / "CURRENT.tmp"
        tmp_pointer.write_text(manifest.build_id + "\n", encoding="utf-8")
        with open(tmp_pointer, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_pointer, self.pointer)
        _fsync_dir(self.root)
        return final

    def prune(self, keep: int = 2) -> None:
        """Drop unfinished builds and all but the newest ``keep`` published ones (lock held)."""
        if not self.builds.is_dir():
            return
        current = self.current_id()
        finished = sorted(p for p in self.builds.iterdir() if not p.name.startswith(".tmp-"))
        stale = [p for p in self.builds.iterdir() if p.name.startswith(".tmp-")]
        stale += [p for p in finished[:-keep] if p.name != current]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)

    def load(self, model: str, chunker: str, chunk_tokens: int) -> Snapshot:
        """The current build, refused with a hint when missing, damaged or made differently."""
        build_id = self.current_id()
        if build_id is None:
            raise IndexUnavailable(
                f"No index has been built yet: {REBUILD_HINT.replace(' --rebuild', '')}."
            )
        folder = self.builds / build_id
        try:
            manifest = Manifest(**json.loads((folder / "manifest.json").read_text("utf-8")))
        except (OSError, ValueError, TypeError) as err:
            raise IndexUnavailable(
                f"The index {build_id} is damaged ({err}); {REBUILD_HINT}."
            ) from err
        wanted = {
            "model": model,
            "chunker": chunker,
            "chunk_tokens": chunk_tokens,
            "format": INDEX_FORMAT,
        }
        built = {name: getattr(manifest, name) for name in wanted}
        if built != wanted:
            diff = ", ".join(
                f"{k} {built[k]!r} (configured: {wanted[k]!r})"
                for k in wanted
                if built[k] != wanted[k]
            )
            raise IndexUnavailable(f"The index was built with {diff}; {REBUILD_HINT}.")
        try:
            passages = [
                StoredPassage(**p)
                for p in json.loads((folder / "passages.json").read_text("utf-8"))
            ]
            documents = {
                k: DocumentInfo(**v)
                for k, v in json.loads((folder / "documents.json").read_text("utf-8")).items()
            }
            vectors = faiss.read_index(str(folder / "vectors.faiss"))
            lexical = LexicalIndex.load(folder / "lexical")
        except (OSError, ValueError, TypeError, RuntimeError) as err:
            raise IndexUnavailable(
                f"The index {build_id} is damaged ({err}); {REBUILD_HINT}."
            ) from err
        if (
            vectors.ntotal != len(passages)
            or lexical.size != len(passages)
            or vectors.d != manifest.dimension
        ):
            raise IndexUnavailable(f"The index {build_id} is inconsistent; {REBUILD_HINT}.")
        return Snapshot(manifest, passages, documents, vectors, lexical)
