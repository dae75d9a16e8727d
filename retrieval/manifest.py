"""What a build is: the manifest of parameters it was made with, checked when it is read, and
everything one build publishes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import numpy as np

from retrieval.names import DocumentNames
from retrieval.snapshot import Analysis, StoredPassage
from retrieval.spelling import Spelling
from retrieval.types import DocumentInfo

INDEX_FORMAT = 6  # 2: sentence vectors and term sets; 3: document names; 4: made from the
# database; 5: a sentence that only repeats its title or heading is never an answer; 6: which
# words stand near each other, and a citation of a publication is never an answer
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
    documents: int
    chunks: int
    built_at: str
    sentences: int = 0
    sentences_missing: int = 0  # > 0 while the sentence pass has not finished
    search: str = "flat"
    format: int = INDEX_FORMAT


@dataclass(frozen=True)
class Build:
    """Everything one build publishes."""

    manifest: Manifest
    passages: list[StoredPassage]
    documents: dict[str, DocumentInfo]
    passage_vectors: np.ndarray
    lexical_terms: list[list[str]]  # each passage's terms, with its title and heading
    analysis: Analysis
    sentence_vectors: np.ndarray
    sentence_ready: np.ndarray
    names: DocumentNames
    spelling: Spelling


def checked_manifest(manifest: Manifest) -> Manifest:
    """The manifest, when every field has the type it is declared with."""
    kinds = {"int": int, "str": str, "list[str]": list}
    for item in fields(manifest):
        value = getattr(manifest, item.name)
        kind = kinds[item.type]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"manifest field {item.name} is {type(value).__name__}")
    return manifest


def made_differently(built: dict, model: str, chunker: str, chunk_tokens: int) -> str:
    """What a build was made with that the settings do not name, as a refusal; "" if none."""
    wanted = {"model": model, "chunker": chunker, "chunk_tokens": chunk_tokens}
    diff = ", ".join(
        f"{k} {built.get(k)!r} (configured: {wanted[k]!r})"
        for k in wanted
        if built.get(k) != wanted[k]
    )
    return f"The index was built with {diff}; {REBUILD_HINT}." if diff else ""


def new_build_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
