"""Changes to the documents become a new build: chunk, embed what is new, commit, publish.

The database is the source of truth. A run gathers its changes (folders imported, a document
added or removed), embeds the new chunks, then writes the documents, their chunks and the new
current build in one transaction. A build is published in two steps: first the passages (with
every sentence vector the cache already holds), so questions are answered as soon as the
passages are embedded; then the remaining sentence vectors, as a second build. Until then the
answer step embeds a shortlisted passage's missing sentences itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retrieval.builds import LocalBuilds, Recipe, build_row, make_build, passage_text
from retrieval.chunking import CHUNKER_VERSION, chunk_text
from retrieval.embedding import Embedder
from retrieval.errors import DocumentError, PolicyBotError, printable
from retrieval.importing import Limits, import_folders
from retrieval.manifest import Build, Manifest, new_build_id
from retrieval.model_input import embedding_text, fit_to_model
from retrieval.pointer import CurrentBuild
from retrieval.store import Store
from retrieval.tables import Change, ChunkRow, DocumentRow, OriginalRow, sha256
from retrieval.types import IndexReport

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (what: "passages" or "sentences", done, total)
# Texts embedded and saved together, bounded by their length: a killed run loses at most one
# batch (about 8 s of work here). Sentences embed at 105/s in batches of 128 and at 118-125/s in
# batches of about 1,000, where the runs of one token length fill up and the workers rarely wait.
EMBED_BATCH_CHARS = 160_000


@dataclass(frozen=True)
class Work:
    """What one run changes: folders to import, uploads to add, documents to remove."""

    folders: Sequence[Path] = ()
    added: Sequence[tuple[DocumentRow, OriginalRow]] = ()
    removed: Iterable[str] = ()
    rebuild: bool = False  # chunk every document again and publish a new build


class Indexer:
    """Turns changes into builds; the caller holds the write lock."""

    def __init__(
        self,
        recipe: Recipe,
        limits: Limits,
        max_chunks: int,
        store: Store,
        embedder: Embedder,
        local: LocalBuilds,
        serving: Callable[[], bool],
    ):
        self.recipe = recipe
        self.limits = limits
        self.max_chunks = max_chunks
        self.store = store
        self.embedder = embedder
        self.local = local
        self.serving = serving  # True when this folder serves the database's current build

    def run(self, work: Work, progress: Progress | None = None) -> IndexReport:
        started = time.perf_counter()
        self.local.prune()  # what a build killed while publishing left behind
        current = self.store.current_build()
        existing = self.store.document_rows()
        imported = import_folders(list(work.folders), existing, self.limits)
        skipped = imported.skipped
        removed = imported.deleted | set(work.removed)
        written = imported.rows + [row for row, _ in work.added]
        if work.rebuild or (current is not None and not self._same_recipe(current)):
            fresh = {row.doc_id for row in written}
            written += [r for r in existing.values() if r.doc_id not in fresh | removed]
        change = Change(deleted=removed)
        for row in written:
            try:
                change.documents.append((row, self.chunk_rows(row)))
            except DocumentError as err:  # one hostile document does not stop the others
                skipped.append(f"{printable(row.source)}: {err}")
        chunked = {row.doc_id for row, _ in change.documents}
        change.originals = [o for row, o in work.added if row.doc_id in chunked]
        rows = {k: v for k, v in existing.items() if k not in removed}
        rows.update({row.doc_id: row for row, _ in change.documents})
        if not rows:
            raise PolicyBotError(
                "No documents to index: add Markdown, text, PDF or HTML files to a corpus folder."
            )
        chunks = self._chunks(change, rows)
        texts = {
            c.text_hash: embedding_text(rows[c.doc_id].title, c.heading, passage_text(rows, c))
            for c in chunks
        }
        embedded = self._embed_missing(texts, "passages", progress)
        if not change.documents and not change.deleted and current is not None:
            if current.sentences_missing:  # the last run stopped before its sentence pass ended
                build = make_build(
                    self.store, self.recipe, rows, chunks, current.build_id, _iso(current)
                )
                self.local.publish(build)
                manifest, sentences = self._publish_sentences(build, progress)
                return self._report(rows, chunks, embedded, started, skipped, manifest, sentences)
            repaired = not self.serving()  # this folder's copy is missing or damaged
            if repaired:
                self.local.refresh(replace_damaged=True)
            seconds = time.perf_counter() - started
            return IndexReport(
                len(rows), len(chunks), embedded, seconds, repaired, tuple(skipped),
                current.build_id,
            )  # fmt: skip
        build = make_build(self.store, self.recipe, rows, chunks, new_build_id(), _now())
        self.store.commit(change, build_row(build.manifest))
        self.local.publish(build)
        log.info("published passages of %s: %d chunks", build.manifest.build_id, len(chunks))
        answerable_s = time.perf_counter() - started
        manifest, sentences = self._publish_sentences(build, progress)
        self.local.prune()
        return self._report(
            rows, chunks, embedded, started, skipped, manifest, sentences, answerable_s
        )

    def chunk_rows(self, row: DocumentRow) -> list[ChunkRow]:
        chunks = chunk_text(row.text, self.recipe.chunk_tokens, max_chunks=self.max_chunks)
        chunks = fit_to_model(
            row.text,
            row.title,
            chunks,
            self.embedder.count_tokens,
            self.embedder.max_tokens,
            max_chunks=self.max_chunks,
        )
        return [
            ChunkRow(
                doc_id=row.doc_id,
                ordinal=ordinal,
                start=chunk.start,
                end=chunk.end,
                heading=chunk.heading,
                tokens=chunk.tokens,
                text_hash=sha256(
                    embedding_text(row.title, chunk.heading, row.text[chunk.start : chunk.end])
                ),
            )
            for ordinal, chunk in enumerate(chunks)
        ]

    def _chunks(self, change: Change, rows: dict[str, DocumentRow]) -> list[ChunkRow]:
        """Every chunk of the documents after the change, by document, then position."""
        fresh = {row.doc_id: chunks for row, chunks in change.documents}
        kept = [c for c in self.store.chunks() if c.doc_id in rows and c.doc_id not in fresh]
        chunks = kept + [c for doc_chunks in fresh.values() for c in doc_chunks]
        return sorted(chunks, key=lambda c: (c.doc_id, c.ordinal))

    def _same_recipe(self, current: CurrentBuild) -> bool:
        """False when the settings name another model or chunker: every chunk is redone."""
        made_with = (current.model, current.chunker, current.chunk_tokens)
        return made_with == (self.recipe.model, CHUNKER_VERSION, self.recipe.chunk_tokens)

    def _embed_missing(self, texts: dict[str, str], what: str, progress: Progress | None) -> int:
        """Embed the texts (by hash) that have no cached vector, saving each batch as it ends."""
        model = self.recipe.model
        missing = self.store.missing_embeddings(model, texts)
        # Similar lengths together: the cost of a text follows its length.
        hashes = sorted(missing, key=lambda h: len(texts[h]))
        if progress:
            progress(what, 0, len(hashes))
        done = 0
        for batch in _batches(hashes, texts, EMBED_BATCH_CHARS):
            self.store.save_embeddings(model, batch, self.embedder.embed([texts[h] for h in batch]))
            done += len(batch)
            if progress:
                progress(what, done, len(hashes))
        if hashes:
            log.info("embedded %d new %s", len(hashes), what)
        return len(hashes)

    def _publish_sentences(self, build: Build, progress: Progress | None) -> tuple[Manifest, int]:
        """Embed the sentences the cache lacks, then publish the build again with them."""
        if build.manifest.sentences_missing == 0:
            return build.manifest, 0
        texts = build.analysis.sentence_texts(build.passages)
        pending = np.flatnonzero(~build.sentence_ready)
        by_hash = {sha256(texts[i]): texts[i] for i in pending}
        embedded = self._embed_missing(by_hash, "sentences", progress)
        found = self.store.embeddings_found(self.recipe.model, list(by_hash))
        vectors = np.array(build.sentence_vectors)
        for i in pending:
            vectors[i] = found[sha256(texts[i])]
        manifest = replace(
            build.manifest, build_id=new_build_id(), sentences_missing=0, built_at=_now()
        )
        self.store.commit(Change(), build_row(manifest))
        ready = np.ones(len(texts), dtype=bool)
        self.local.publish_sentences(build.manifest, manifest, vectors, ready)
        log.info("published sentences of %s: %d sentences", manifest.build_id, manifest.sentences)
        return manifest, embedded

    @staticmethod
    def _report(rows, chunks, embedded, started, skipped, manifest, sentences, answerable_s=0.0):
        return IndexReport(
            len(rows),
            len(chunks),
            embedded,
            time.perf_counter() - started,
            True,
            tuple(skipped),
            manifest.build_id,
            answerable_seconds=answerable_s,
            sentences_embedded=sentences,
        )


def _batches(hashes: list[str], texts: dict[str, str], max_chars: int) -> Iterator[list[str]]:
    """Consecutive runs of ``hashes`` whose texts hold at most ``max_chars`` (or one text)."""
    batch: list[str] = []
    size = 0
    for text_hash in hashes:
        if batch and size + len(texts[text_hash]) > max_chars:
            yield batch
            batch, size = [], 0
        batch.append(text_hash)
        size += len(texts[text_hash])
    if batch:
        yield batch


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(build) -> str:
    return build.built_at.replace(tzinfo=UTC).isoformat(timespec="seconds")
