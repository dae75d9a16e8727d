"""From the database's documents, chunks and cached vectors to a local build, and back.

Every process serves the build the database names as current. The process that made it
publishes it from memory; every other one makes the same files from the database, with no
embedding, the first time it sees the new build id.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from filelock import FileLock

from retrieval.chunking import CHUNKER_VERSION
from retrieval.index import IndexDirectory
from retrieval.lexical import terms
from retrieval.manifest import Build, Manifest
from retrieval.names import DocumentNames
from retrieval.snapshot import StoredPassage, analyse
from retrieval.spelling import Spelling
from retrieval.store import Store
from retrieval.tables import BuildRow, ChunkRow, DocumentRow, sha256, to_info

log = logging.getLogger(__name__)

PUBLISH_WAIT_S = 600  # how long a process waits for another one publishing in the same folder


@dataclass(frozen=True)
class Recipe:
    """What every build of this configuration is made with."""

    model: str
    chunk_tokens: int
    dimension: int


def corpus_checksum(rows: Sequence[DocumentRow], recipe: Recipe) -> str:
    """Identifies what a build is made of: documents, metadata, model and chunker."""
    parts = sorted((r.doc_id, r.content_hash, sha256(r.meta_json)) for r in rows)
    parts.append((recipe.model, CHUNKER_VERSION, str(recipe.chunk_tokens)))
    return sha256(json.dumps(parts))


def build_row(manifest: Manifest) -> BuildRow:
    return BuildRow(
        build_id=manifest.build_id,
        corpus_checksum=manifest.corpus_checksum,
        model=manifest.model,
        dimension=manifest.dimension,
        chunker=manifest.chunker,
        chunk_tokens=manifest.chunk_tokens,
        documents=manifest.documents,
        chunks=manifest.chunks,
        sentences_missing=manifest.sentences_missing,
        built_at=datetime.fromisoformat(manifest.built_at),
    )


def make_build(
    store: Store,
    recipe: Recipe,
    rows: dict[str, DocumentRow],
    chunks: list[ChunkRow],
    build_id: str,
    built_at: str,
) -> Build:
    """The build of these chunks, with the sentence vectors the cache holds so far."""
    passages = [
        StoredPassage(
            chunk_id=f"{c.doc_id}#{c.ordinal}",
            doc_id=c.doc_id,
            heading=c.heading,
            start=c.start,
            end=c.end,
            text=passage_text(rows, c),
        )
        for c in chunks
    ]
    documents = {
        doc_id: replace(to_info(row), added_at=None, added_by="") for doc_id, row in rows.items()
    }
    analysis = analyse(passages, {doc_id: row.title for doc_id, row in rows.items()})
    vectors = store.embeddings(recipe.model, [c.text_hash for c in chunks], recipe.dimension)
    scored = analysis.sentences.scored
    sentence_hashes = [sha256(t) for t in analysis.sentence_texts(passages)]
    found = store.embeddings_found(
        recipe.model, [h for h, s in zip(sentence_hashes, scored, strict=True) if s]
    )
    sentence_vectors = np.zeros((len(sentence_hashes), recipe.dimension), dtype=np.float32)
    ready = ~scored  # a sentence the answer never chooses needs no vector
    for i, text_hash in enumerate(sentence_hashes):
        if text_hash in found:
            sentence_vectors[i] = found[text_hash]
            ready[i] = True
    manifest = Manifest(
        build_id=build_id,
        model=recipe.model,
        dimension=recipe.dimension,
        chunker=CHUNKER_VERSION,
        chunk_tokens=recipe.chunk_tokens,
        corpus_checksum=corpus_checksum(list(rows.values()), recipe),
        documents=len(rows),
        chunks=len(chunks),
        built_at=built_at,
        sentences=int(scored.sum()),
        sentences_missing=int((~ready).sum()),
    )
    lexical = [terms(f"{rows[p.doc_id].title}\n{p.heading}\n{p.text}") for p in passages]
    names = DocumentNames.build(
        (r.doc_id, r.title, _aliases(r.meta_json), r.text) for r in rows.values()
    )
    # The corpus's words: its passages and headings, and what its citations show: titles, names,
    # publishers ("according to TechRadar Pro") and statuses ("the Commerce press release").
    texts = [p.text for p in passages] + sorted({p.heading for p in passages})
    texts += [info.status for info in documents.values()]
    document_names = [n for ns in names.names.values() for n in ns]
    document_names += [info.title for info in documents.values()]
    document_names += [info.publisher for info in documents.values()]
    return Build(
        manifest,
        passages,
        documents,
        vectors,
        lexical,
        analysis,
        sentence_vectors,
        ready,
        names,
        Spelling.of_texts(texts, document_names),
    )


class LocalBuilds:
    """The data folder's copy of the database's builds; one publisher at a time per folder."""

    def __init__(self, index_dir: IndexDirectory, store: Store, recipe: Recipe):
        self.index_dir = index_dir
        self.store = store
        self.recipe = recipe
        self._lock = FileLock(str(index_dir.root.parent / "publish.lock"))

    def publish(self, build: Build) -> None:
        """Publish a build made here, unless another process of this folder already did."""
        with self._lock.acquire(timeout=PUBLISH_WAIT_S):
            if not self.index_dir.has(build.manifest.build_id):
                self.index_dir.publish(build)

    def publish_sentences(self, base: Manifest, manifest: Manifest, vectors, ready) -> None:
        with self._lock.acquire(timeout=PUBLISH_WAIT_S):
            if not self.index_dir.has(manifest.build_id):
                self.index_dir.publish_sentences(base, manifest, vectors, ready)

    def prune(self) -> None:
        with self._lock.acquire(timeout=PUBLISH_WAIT_S):
            self.index_dir.prune()

    def refresh(self, replace_damaged: bool = False) -> float:
        """Make the database's current build here from its rows; the seconds it took.
        ``replace_damaged``: the local copy of that build does not load, make it again."""
        started = time.perf_counter()
        with self._lock.acquire(timeout=PUBLISH_WAIT_S):
            read = self.store.consistent_read()
            if read is None:
                return 0.0
            wanted, rows, chunks = read
            if replace_damaged:
                self.index_dir.discard(wanted.build_id)
            if self.index_dir.has(wanted.build_id):
                self.index_dir.point_to(wanted.build_id)
                return 0.0
            built_at = wanted.built_at.replace(tzinfo=UTC).isoformat(timespec="seconds")
            build = make_build(self.store, self.recipe, rows, chunks, wanted.build_id, built_at)
            # A build of the same documents differs only in sentence vectors: link the rest
            # (not when repairing: a damaged file is shared by the builds that link it).
            same = (
                None
                if replace_damaged
                else self.index_dir.with_checksum(build.manifest.corpus_checksum)
            )
            if same is not None:
                self.index_dir.publish_sentences(
                    same, build.manifest, build.sentence_vectors, build.sentence_ready
                )
            else:
                self.index_dir.publish(build)
        seconds = time.perf_counter() - started
        log.info("refreshed to build %s in %.1f s", wanted.build_id, seconds)
        return seconds


def passage_text(rows: dict[str, DocumentRow], chunk: ChunkRow) -> str:
    return rows[chunk.doc_id].text[chunk.start : chunk.end]


def _aliases(meta_json: str) -> list[str]:
    """The front matter's ``aliases`` (a YAML list arrives joined by commas)."""
    value = json.loads(meta_json).get("aliases", "")
    return [a.strip() for a in str(value).split(",") if a.strip()]
