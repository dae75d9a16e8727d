"""A build killed at any moment leaves the previous index answering."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from retrieval.service import Service
from tests.conftest import REPO
from tests.fakes import HashEmbedder

# Runs a re-index in a child process that pauses at the named step, so the test can kill it there.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import retrieval.index as index
    from retrieval.config import Settings
    from retrieval.service import Service
    from tests.fakes import HashEmbedder

    data, corpus, step, marker = sys.argv[1:5]

    def pause(*args, **kwargs):
        Path(marker).write_text(step)
        time.sleep(60)

    if step == "embedding":
        HashEmbedder.embed = pause
    elif step == "vectors-written":
        original = index.LexicalIndex.build
        index.LexicalIndex.build = lambda terms: (pause(), original(terms))[1]
    elif step == "before-pointer":
        index.os.replace = pause
    elif step == "sentences":  # the sentence pass reaches the new document's sentence
        embed = HashEmbedder.embed
        HashEmbedder.embed = lambda self, texts: (
            pause() if "A brand new rule about model audits." in texts else embed(self, texts)
        )
    settings = Settings(data_dir=Path(data), corpus_dirs=[Path(corpus)], embedding_model="hash-embedder")
    Service(settings, embedder=HashEmbedder()).reindex(rebuild=True)
    """
)


@pytest.mark.parametrize("step", ["embedding", "vectors-written", "before-pointer"])
def test_killed_build_leaves_previous_index_serving(settings, corpus, tmp_path, step):
    Service(settings, embedder=HashEmbedder()).reindex()
    old_build = Service(settings, embedder=HashEmbedder()).current().manifest.build_id
    (corpus / "new-document.md").write_text("# New\n\nA brand new rule about model audits.\n")
    marker = tmp_path / "reached"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(settings.data_dir), str(corpus), step, str(marker)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the indexer ended before reaching the step"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    service = Service(settings, embedder=HashEmbedder())
    assert service.current().manifest.build_id == old_build
    assert service.ask("who signed the MOU?").passages
    report = service.reindex()  # the next run completes and cleans up the unfinished build
    assert report.rebuilt and "new-document" in service.current().documents
    assert not [p for p in service.index_dir.builds.iterdir() if p.name.startswith(".tmp-")]


def test_killed_sentence_pass_leaves_the_passages_answering(settings, corpus, tmp_path):
    """Passages publish before the sentence pass: a run killed during it still serves the new
    document, embedding its sentences at question time, and the next run only finishes them."""
    Service(settings, embedder=HashEmbedder()).reindex()
    (corpus / "new-document.md").write_text("# New\n\nA brand new rule about model audits.\n")
    marker = tmp_path / "reached"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(settings.data_dir),
            str(corpus),
            "sentences",
            str(marker),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the indexer ended before reaching the sentence pass"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    embedder = HashEmbedder()
    service = Service(settings, embedder=embedder)
    assert service.current().manifest.sentences_missing > 0
    answer = service.ask("what is the new rule about model audits?")
    assert answer.sentences[0].text == "A brand new rule about model audits."
    assert "A brand new rule about model audits." in embedder.texts  # embedded to answer
    report = service.reindex()
    assert report.embedded == 0 and report.sentences_embedded > 0
    assert service.current().manifest.sentences_missing == 0
    embedder.texts.clear()
    again = service.ask("what is the new rule about model audits?")
    assert embedder.texts == ["what is the new rule about model audits?"]  # nothing else
    assert again.sentences == answer.sentences
    assert [p.chunk_id for p in again.passages] == [p.chunk_id for p in answer.passages]
