"""Bring the index in line with the corpus folders: scan, chunk, embed what is new, publish.

A build is published in two steps. First the passages (with every sentence vector the cache
already holds), so questions are answered as soon as the passages are embedded; then the
remaining sentence vectors, as a second build. Until then the answer step embeds a shortlisted
passage's missing sentences itself.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retrieval.chunking import CHUNKER_VERSION, chunk_text
from retrieval.documents import SourceDocument, load_path, slugify
from retrieval.embedding import Embedder
from retrieval.errors import DocumentError, PolicyBotError, printable
from retrieval.files import SUPPORTED_SUFFIXES
from retrieval.index import Build, IndexDirectory, Manifest, new_build_id
from retrieval.lexical import terms, words
from retrieval.metadata import read_metadata
from retrieval.model_input import embedding_text, fit_to_model
from retrieval.names import DocumentNames
from retrieval.snapshot import StoredPassage, analyse
from retrieval.spelling import Spelling
from retrieval.store import ChunkRow, DocumentRow, Store, sha256, to_info
from retrieval.types import IndexReport

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (what: "passages" or "sentences", done, total)
EMBED_BATCH = 128  # texts embedded and saved together: a killed run loses at most one batch


@dataclass(frozen=True)
class CorpusConfig:
    """What a build is made from and with."""

    folders: tuple[Path, ...]
    model: str
    chunk_tokens: int
    max_document_bytes: int
    max_document_chars: int
    max_chunks: int

    @property
    def names(self) -> list[str]:
        return [str(Path(d).resolve()) for d in self.folders]


class Indexer:
    """Scans, chunks, embeds and publishes; the caller holds the write lock."""

    def __init__(
        self,
        config: CorpusConfig,
        store: Store,
        embedder: Embedder,
        index_dir: IndexDirectory,
        published_loads: Callable[[], bool],
    ):
        self.config = config
        self.store = store
        self.embedder = embedder
        self.index_dir = index_dir
        self.published_loads = published_loads  # True when the current build can serve

    def run(self, rebuild: bool, progress: Progress | None = None) -> IndexReport:
        started = time.perf_counter()
        self.index_dir.prune()  # what a build killed while publishing left behind
        existing = self.store.document_rows()
        documents, skipped, unreadable = self.scan(set(existing))
        by_id = {d.doc_id: d for d in documents}
        for document in documents:
            old = existing.get(document.doc_id)
            row = document_row(document)
            changed = old is None or (old.content_hash, old.meta_json, old.source) != (
                row.content_hash,
                row.meta_json,
                row.source,
            )
            if rebuild or changed:
                try:
                    chunk_rows = self.chunk_rows(document)
                except DocumentError as err:  # one hostile document does not stop the others
                    skipped.append(f"{printable(row.source)}: {err}")
                    unreadable.add(document.doc_id)
                    continue
                self.store.replace_document(row, chunk_rows)
        gone = [doc_id for doc_id in existing if doc_id not in by_id and doc_id not in unreadable]
        self.store.delete_documents(gone)
        rows = self.store.document_rows()
        if not rows:
            raise PolicyBotError(
                f"No documents to index in {', '.join(self.config.names)}: add Markdown, text, PDF or HTML files."
            )
        chunks = self.store.chunks()
        texts = {
            c.text_hash: embedding_text(rows[c.doc_id].title, c.heading, _text(rows, c))
            for c in chunks
        }
        embedded = self._embed_missing(texts, "passages", progress)
        checksum = corpus_checksum(rows.values(), self.config)
        manifest = self.index_dir.manifest()
        current = (
            not rebuild
            and manifest is not None
            and manifest.corpus_checksum == checksum
            and manifest.corpus_dirs == self.config.names
            and self.published_loads()
        )
        if current and manifest.sentences_missing == 0:
            seconds = time.perf_counter() - started
            return IndexReport(
                len(rows), len(chunks), embedded, seconds, False, tuple(skipped), manifest.build_id
            )
        build = self._build(rows, chunks, checksum)
        if current:  # the passages are published; only the sentence pass was interrupted
            build = replace(build, manifest=manifest)
        else:
            self.index_dir.publish(build)
            log.info("published passages of %s: %d chunks", build.manifest.build_id, len(chunks))
        answerable_s = time.perf_counter() - started
        manifest, sentences = self._publish_sentences(build, progress)
        self.index_dir.prune()
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

    def scan(self, known: set[str]) -> tuple[list[SourceDocument], list[str], set[str]]:
        """Load every supported file in the corpus folders: (documents, skipped, unreadable ids).

        Files of already indexed documents come first, so a copy never takes over their id.
        """
        documents: list[SourceDocument] = []
        skipped: list[str] = []
        unreadable: set[str] = set()
        seen_ids: dict[str, Path] = {}
        seen_hashes: dict[str, str] = {}
        for folder in map(Path, self.config.folders):
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
                    document = load_path(
                        path,
                        self.config.max_document_bytes,
                        max_chars=self.config.max_document_chars,
                    )
                except DocumentError as err:
                    skipped.append(f"{printable(str(path))}: {err}")
                    unreadable.add(path.stem.lower())
                    continue
                if document.doc_id in seen_ids:
                    skipped.append(
                        f"{printable(str(path))}: the id {document.doc_id!r} is already used by "
                        f"{printable(str(seen_ids[document.doc_id]))}"
                    )
                    continue
                if document.content_hash in seen_hashes:
                    skipped.append(
                        f"{printable(str(path))}: same content as {seen_hashes[document.content_hash]!r}"
                    )
                    continue
                seen_ids[document.doc_id] = path
                seen_hashes[document.content_hash] = document.doc_id
                try:
                    given = read_metadata(path)  # what an admin set for it, over its own
                except DocumentError as err:
                    skipped.append(f"{printable(str(path))}: {err}")
                    unreadable.add(document.doc_id)
                    continue
                meta = {**document.meta, **given, "source": str(path)}
                documents.append(replace(document, meta=meta))
        return documents, skipped, unreadable

    def chunk_rows(self, document: SourceDocument) -> list[ChunkRow]:
        title = document.meta.get("title", "")
        limit = self.config.max_chunks
        chunks = chunk_text(document.text, self.config.chunk_tokens, max_chunks=limit)
        chunks = fit_to_model(
            document.text,
            title,
            chunks,
            self.embedder.count_tokens,
            self.embedder.max_tokens,
            max_chunks=limit,
        )
        return [
            ChunkRow(
                doc_id=document.doc_id,
                ordinal=ordinal,
                start=chunk.start,
                end=chunk.end,
                heading=chunk.heading,
                tokens=chunk.tokens,
                text_hash=sha256(
                    embedding_text(title, chunk.heading, document.text[chunk.start : chunk.end])
                ),
            )
            for ordinal, chunk in enumerate(chunks)
        ]

    def _embed_missing(self, texts: dict[str, str], what: str, progress: Progress | None) -> int:
        """Embed the texts (by hash) that have no cached vector, saving each batch as it ends."""
        model = self.config.model
        missing = self.store.missing_embeddings(model, texts)
        # Similar lengths together: the cost of a text follows its length.
        hashes = sorted(missing, key=lambda h: len(texts[h]))
        if progress:
            progress(what, 0, len(hashes))
        for start in range(0, len(hashes), EMBED_BATCH):
            batch = hashes[start : start + EMBED_BATCH]
            self.store.save_embeddings(model, batch, self.embedder.embed([texts[h] for h in batch]))
            if progress:
                progress(what, min(start + EMBED_BATCH, len(hashes)), len(hashes))
        if hashes:
            log.info("embedded %d new %s", len(hashes), what)
        return len(hashes)

    def _build(self, rows: dict[str, DocumentRow], chunks: list[ChunkRow], checksum: str) -> Build:
        """The build of these chunks, with the sentence vectors the cache holds so far."""
        passages = [
            StoredPassage(
                chunk_id=f"{c.doc_id}#{c.ordinal}",
                doc_id=c.doc_id,
                heading=c.heading,
                start=c.start,
                end=c.end,
                text=_text(rows, c),
            )
            for c in chunks
        ]
        documents = {
            doc_id: replace(to_info(row), added_at=None, added_by="")
            for doc_id, row in rows.items()
        }
        analysis = analyse(passages, {doc_id: row.title for doc_id, row in rows.items()})
        dimension = self.embedder.dimension
        model = self.config.model
        vectors = self.store.embeddings(model, [c.text_hash for c in chunks], dimension)
        scored = analysis.sentences.scored
        sentence_hashes = [sha256(t) for t in analysis.sentence_texts(passages)]
        found = self.store.embeddings_found(
            model, [h for h, s in zip(sentence_hashes, scored, strict=True) if s]
        )
        sentence_vectors = np.zeros((len(sentence_hashes), dimension), dtype=np.float32)
        ready = ~scored  # a sentence the answer never chooses needs no vector
        for i, text_hash in enumerate(sentence_hashes):
            if text_hash in found:
                sentence_vectors[i] = found[text_hash]
                ready[i] = True
        manifest = Manifest(
            build_id=new_build_id(),
            model=model,
            dimension=dimension,
            chunker=CHUNKER_VERSION,
            chunk_tokens=self.config.chunk_tokens,
            corpus_checksum=checksum,
            corpus_dirs=self.config.names,
            documents=len(rows),
            chunks=len(chunks),
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            sentences=int(scored.sum()),
            sentences_missing=int((~ready).sum()),
        )
        lexical = [terms(f"{rows[p.doc_id].title}\n{p.heading}\n{p.text}") for p in passages]
        names = DocumentNames.build(
            (r.doc_id, r.title, _aliases(r.meta_json), r.text) for r in rows.values()
        )
        known = {w for p in passages for w in words(p.text)}
        known |= {w for row in rows.values() for w in words(row.title)}
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
            Spelling(known),
        )

    def _publish_sentences(self, build: Build, progress: Progress | None) -> tuple[Manifest, int]:
        """Embed the sentences the cache lacks, then publish the build again with them."""
        if build.manifest.sentences_missing == 0:
            return build.manifest, 0
        texts = build.analysis.sentence_texts(build.passages)
        pending = np.flatnonzero(~build.sentence_ready)
        by_hash = {sha256(texts[i]): texts[i] for i in pending}
        embedded = self._embed_missing(by_hash, "sentences", progress)
        found = self.store.embeddings_found(self.config.model, list(by_hash))
        vectors = np.array(build.sentence_vectors)
        for i in pending:
            vectors[i] = found[sha256(texts[i])]
        manifest = replace(
            build.manifest,
            build_id=new_build_id(),
            sentences_missing=0,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        ready = np.ones(len(texts), dtype=bool)
        self.index_dir.publish_sentences(build.manifest, manifest, vectors, ready)
        log.info("published sentences of %s: %d sentences", manifest.build_id, manifest.sentences)
        return manifest, embedded


def _aliases(meta_json: str) -> list[str]:
    """The front matter's ``aliases`` (a YAML list arrives joined by commas)."""
    value = json.loads(meta_json).get("aliases", "")
    return [a.strip() for a in str(value).split(",") if a.strip()]


def _text(rows: dict[str, DocumentRow], chunk: ChunkRow) -> str:
    return rows[chunk.doc_id].text[chunk.start : chunk.end]


def document_row(document: SourceDocument) -> DocumentRow:
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


def corpus_checksum(rows: Sequence[DocumentRow], config: CorpusConfig) -> str:
    """Identifies what a build is made of: documents, metadata, model and chunker."""
    parts = sorted((r.doc_id, r.content_hash, sha256(r.meta_json)) for r in rows)
    parts.append((config.model, CHUNKER_VERSION, str(config.chunk_tokens)))
    return sha256(json.dumps(parts))
