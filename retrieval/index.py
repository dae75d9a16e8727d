"""Index builds: written aside, published atomically, loaded as a ``Snapshot``.

Layout under ``<data_dir>/index``: ``builds/<build_id>/`` and ``CURRENT``, a one-line pointer
replaced with ``os.replace``. A build folder holds manifest.json (written last), passages.json,
documents.json, vectors.faiss (the search index), passage_vectors.npy, sentence_vectors.npy,
analysis.npz, vocabulary.json, names.json, words.json, near_words.npy and lexical/ (BM25).
A build killed at any moment leaves only a ``.tmp-*`` folder; CURRENT still names the old build.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from retrieval.errors import IndexUnavailable
from retrieval.lexical import LexicalIndex
from retrieval.manifest import (
    INDEX_FORMAT,
    REBUILD_HINT,
    Build,
    Manifest,
    checked_manifest,
    made_differently,
)
from retrieval.names import DocumentNames
from retrieval.snapshot import Analysis, SentenceTable, Snapshot, StoredPassage, TermSets
from retrieval.spelling import Spelling
from retrieval.types import DocumentInfo
from retrieval.vectors import describe, search_index


def _write_json(path: Path, value) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, default=str)
        handle.flush()
        os.fsync(handle.fileno())


def _write_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())


def _load_vectors(path: Path) -> np.ndarray:
    """Memory-mapped, so a large build's vectors are read only where a question looks."""
    try:
        return np.load(path, mmap_mode="r")
    except ValueError:  # an empty array cannot be mapped
        return np.load(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _analysis_arrays(analysis: Analysis) -> dict[str, np.ndarray]:
    table = analysis.sentences
    return {
        "passage_offsets": analysis.passage_terms.offsets,
        "passage_ids": analysis.passage_terms.ids,
        "informative": analysis.informative,
        "first": table.first,
        "start": table.start,
        "end": table.end,
        "scored": table.scored,
        "opens_list": table.opens_list,
        "item": table.item,
        "sentence_offsets": table.terms.offsets,
        "sentence_ids": table.terms.ids,
    }


def _analysis_from(arrays, vocabulary: list[str]) -> Analysis:
    table = SentenceTable(
        first=arrays["first"],
        start=arrays["start"],
        end=arrays["end"],
        scored=arrays["scored"],
        opens_list=arrays["opens_list"],
        item=arrays["item"],
        terms=TermSets(arrays["sentence_offsets"], arrays["sentence_ids"]),
    )
    passage_terms = TermSets(arrays["passage_offsets"], arrays["passage_ids"])
    return Analysis(vocabulary, passage_terms, arrays["informative"], table)


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
            return checked_manifest(Manifest(**data))
        except (OSError, ValueError, TypeError):
            return None

    def publish(self, build: Build) -> Manifest:
        """Write a complete build aside, then switch CURRENT to it in one rename."""
        staging = self._staging(build.manifest.build_id)
        index = search_index(build.passage_vectors)
        import faiss

        faiss.write_index(index, str(staging / "vectors.faiss"))
        _write_npy(staging / "passage_vectors.npy", build.passage_vectors.astype(np.float32))
        LexicalIndex.build(build.lexical_terms).save(staging / "lexical")
        _write_json(staging / "passages.json", [asdict(p) for p in build.passages])
        _write_json(staging / "documents.json", {k: asdict(v) for k, v in build.documents.items()})
        _write_json(staging / "vocabulary.json", build.analysis.vocabulary)
        _write_json(staging / "names.json", build.names.to_json())
        _write_json(staging / "words.json", build.spelling.words)
        _write_npy(staging / "near_words.npy", build.spelling.near_pairs)
        with open(staging / "analysis.npz", "wb") as handle:
            np.savez(handle, **_analysis_arrays(build.analysis))
            handle.flush()
            os.fsync(handle.fileno())
        manifest = replace(build.manifest, search=describe(index))
        self._finish(staging, manifest, build.sentence_vectors, build.sentence_ready)
        return manifest

    def publish_sentences(
        self, base: Manifest, manifest: Manifest, vectors: np.ndarray, ready: np.ndarray
    ) -> Manifest:
        """Publish ``base`` again with new sentence vectors; its other files are hard-linked."""
        staging = self._staging(manifest.build_id)
        source = self.builds / base.build_id
        for path in source.rglob("*"):
            target = staging / path.relative_to(source)
            if path.is_dir():
                target.mkdir(exist_ok=True)
            elif path.name not in ("manifest.json", "sentence_vectors.npy", "sentence_ready.npy"):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, target)
        self._finish(staging, manifest, vectors, ready)
        return manifest

    def _staging(self, build_id: str) -> Path:
        self.builds.mkdir(parents=True, exist_ok=True)
        staging = self.builds / f".tmp-{build_id}"
        shutil.rmtree(staging, ignore_errors=True)  # left by a publisher killed midway
        staging.mkdir()
        return staging

    def _finish(self, staging: Path, manifest: Manifest, vectors, ready) -> None:
        _write_npy(staging / "sentence_vectors.npy", np.asarray(vectors, dtype=np.float32))
        _write_npy(staging / "sentence_ready.npy", np.asarray(ready, dtype=bool))
        _write_json(staging / "manifest.json", asdict(manifest))  # last: marks it complete
        final = self.builds / manifest.build_id
        os.rename(staging, final)
        _fsync_dir(self.builds)
        self.point_to(manifest.build_id)

    def point_to(self, build_id: str) -> None:
        """Switch CURRENT to a published build in one rename."""
        tmp_pointer = self.root / "CURRENT.tmp"
        tmp_pointer.write_text(build_id + "\n", encoding="utf-8")
        with open(tmp_pointer, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_pointer, self.pointer)
        _fsync_dir(self.root)

    def discard(self, build_id: str) -> None:
        shutil.rmtree(self.builds / build_id, ignore_errors=True)

    def has(self, build_id: str) -> bool:
        return (self.builds / build_id / "manifest.json").is_file()

    def with_checksum(self, checksum: str) -> Manifest | None:
        """A published build of exactly these documents, whose files a new one can share."""
        if not self.builds.is_dir():
            return None
        for folder in sorted(self.builds.iterdir(), reverse=True):
            try:
                data = json.loads((folder / "manifest.json").read_text("utf-8"))
                manifest = checked_manifest(Manifest(**data))
            except (OSError, ValueError, TypeError):
                continue
            if manifest.corpus_checksum == checksum and manifest.format == INDEX_FORMAT:
                return manifest
        return None

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
            data = json.loads((folder / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise IndexUnavailable(
                f"The index {build_id} is damaged ({err}); {REBUILD_HINT}."
            ) from err
        built = {name: data.get(name) for name in ("model", "chunker", "chunk_tokens")}
        problem = made_differently(built, model, chunker, chunk_tokens)
        if not problem and data.get("format", 1) != INDEX_FORMAT:
            problem = f"The index has format {data.get('format', 1)} (this version reads {INDEX_FORMAT}); {REBUILD_HINT}."
        if problem:
            raise IndexUnavailable(problem)
        try:
            return self._read(folder, checked_manifest(Manifest(**data)))
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as err:
            raise IndexUnavailable(
                f"The index {build_id} is damaged ({err}); {REBUILD_HINT}."
            ) from err

    def _read(self, folder: Path, manifest: Manifest) -> Snapshot:
        import faiss

        passages = [
            StoredPassage(**p) for p in json.loads((folder / "passages.json").read_text("utf-8"))
        ]
        documents = {
            k: DocumentInfo(**v)
            for k, v in json.loads((folder / "documents.json").read_text("utf-8")).items()
        }
        with np.load(folder / "analysis.npz") as arrays:
            analysis = _analysis_from(
                {k: arrays[k] for k in arrays.files},
                json.loads((folder / "vocabulary.json").read_text("utf-8")),
            )
        snapshot = Snapshot(
            manifest=manifest,
            passages=passages,
            documents=documents,
            search_index=faiss.read_index(str(folder / "vectors.faiss")),
            passage_vectors=_load_vectors(folder / "passage_vectors.npy"),
            lexical=LexicalIndex.load(folder / "lexical"),
            analysis=analysis,
            sentence_vectors=_load_vectors(folder / "sentence_vectors.npy"),
            sentence_ready=np.load(folder / "sentence_ready.npy"),
            names=DocumentNames.from_json(json.loads((folder / "names.json").read_text("utf-8"))),
            spelling=Spelling(
                json.loads((folder / "words.json").read_text("utf-8")),
                np.load(folder / "near_words.npy"),
            ),
        )
        sizes = {
            len(passages),
            snapshot.search_index.ntotal,
            snapshot.lexical.size,
            len(snapshot.passage_vectors),
            len(analysis.informative),
            len(analysis.sentences.first) - 1,
        }
        sentences = {len(analysis.sentences), len(snapshot.sentence_vectors)}
        if len(sizes) != 1 or len(sentences) != 1 or snapshot.search_index.d != manifest.dimension:
            raise IndexUnavailable(
                f"The index {manifest.build_id} is inconsistent; {REBUILD_HINT}."
            )
        return snapshot
