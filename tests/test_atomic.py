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


def stop_at(marker, command: list[str], env: dict, signal_number: int, why: str) -> int:
    """Run ``command`` until it writes ``marker`` (where it pauses), send it the signal, and
    return its exit status; ``why`` is the failure when it ends before the marker."""
    child = subprocess.Popen(command, cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, why
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal_number)
        return child.wait(30)
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("step", ["embedding", "vectors-written", "before-pointer"])
def test_killed_build_leaves_previous_index_serving(settings, corpus, tmp_path, step):
    Service(settings, embedder=HashEmbedder()).reindex()
    old_build = Service(settings, embedder=HashEmbedder()).current().manifest.build_id
    (corpus / "new-document.md").write_text("# New\n\nA brand new rule about model audits.\n")
    marker = tmp_path / "reached"
    stop_at(
        marker,
        [sys.executable, "-c", CHILD, str(settings.data_dir), str(corpus), step, str(marker)],
        {**os.environ, "PYTHONPATH": str(REPO)},
        signal.SIGKILL,
        "the indexer ended before reaching the step",
    )
    service = Service(settings, embedder=HashEmbedder())
    serving = service.current()
    if step == "embedding":  # killed before the database switched: the old build serves
        assert serving.manifest.build_id == old_build
    else:  # switched, then killed while writing local files: made again from the database
        assert serving.manifest.build_id != old_build and "new-document" in serving.documents
    assert service.ask("who signed the MOU?").passages
    service.reindex()  # the next run completes and cleans up the unfinished build
    assert "new-document" in service.current().documents
    assert not [p for p in service.index_dir.builds.iterdir() if p.name.startswith(".tmp-")]


def test_killed_sentence_pass_leaves_the_passages_answering(settings, corpus, tmp_path):
    """Passages publish before the sentence pass: a run killed during it still serves the new
    document, embedding its sentences at question time, and the next run only finishes them."""
    Service(settings, embedder=HashEmbedder()).reindex()
    (corpus / "new-document.md").write_text("# New\n\nA brand new rule about model audits.\n")
    marker = tmp_path / "reached"
    command = [sys.executable, "-c", CHILD, str(settings.data_dir), str(corpus), "sentences"]
    stop_at(
        marker,
        [*command, str(marker)],
        {**os.environ, "PYTHONPATH": str(REPO)},
        signal.SIGKILL,
        "the indexer ended before reaching the sentence pass",
    )
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


# `policybot add` in a child whose embedder pauses inside the indexing of the new file.
ADD_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import retrieval.service as service
    from retrieval.cli import main
    from tests.fakes import HashEmbedder

    path, marker = sys.argv[1:3]

    class Pausing(HashEmbedder):
        def __init__(self, *args, **kwargs):
            super().__init__()

        def embed(self, texts):
            if any("brand new rule" in t for t in texts):
                Path(marker).write_text("embedding")
                time.sleep(60)
            return super().embed(texts)

    service.OnnxEmbedder = Pausing
    main(["add", path])
    """
)


def test_sigterm_during_add_leaves_corpus_database_and_index_as_before(settings, corpus, tmp_path):
    service = Service(settings, embedder=HashEmbedder())
    service.reindex()
    before = (sorted(p.name for p in corpus.iterdir()), service.index_dir.current_id())
    new = tmp_path / "new-rule.md"
    new.write_text("# New\n\nA brand new rule about model audits.\n")
    marker = tmp_path / "reached"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "POLICYBOT_DATA_DIR": str(settings.data_dir),
        "POLICYBOT_CORPUS_DIRS": str(corpus),
        "POLICYBOT_EMBEDDING_MODEL": "hash-embedder",
    }
    status = stop_at(
        marker,
        [sys.executable, "-c", ADD_CHILD, str(new), str(marker)],
        env,
        signal.SIGTERM,
        "the add ended before it embedded the new file",
    )
    assert status == 128 + signal.SIGTERM
    service = Service(settings, embedder=HashEmbedder())
    assert (sorted(p.name for p in corpus.iterdir()), service.index_dir.current_id()) == before
    assert "new-rule" not in {d.doc_id for d in service.documents()}
    assert service.add_file(new, actor="cli:test").document.doc_id == "new-rule"  # adds again


def test_a_build_killed_while_publishing_leaves_nothing_after_the_next_build(service):
    service.reindex()
    stale = service.index_dir.builds / ".tmp-20260101T000000-abcdef"
    stale.mkdir()
    (stale / "vectors.faiss").write_bytes(b"half")
    service.reindex()  # up to date: nothing to publish, yet the leftovers go
    assert not stale.exists()
