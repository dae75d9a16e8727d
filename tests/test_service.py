"""The service on a real database (SQLite, then PostgreSQL) with real FAISS/BM25 indexes and
the fake embedder."""

from __future__ import annotations

import shutil

import pytest

from retrieval import indexer
from retrieval.errors import (
    DocumentError,
    DuplicateDocument,
    IndexUnavailable,
    InvalidQuestion,
    UnknownDocument,
)
from retrieval.service import Service
from retrieval.types import Filters
from tests.conftest import SEED
from tests.fakes import HashEmbedder

THIRD_DOC = """---
title: "Compute reporting rule"
publisher: "Example Agency"
jurisdiction: "US"
date: 2025-02-01
---

Developers must report training runs above the compute threshold to the agency.
"""


@pytest.fixture
def settings(settings, database_url):
    """Every service test runs on SQLite and on PostgreSQL."""
    return settings.model_copy(update={"database_url": database_url})


def snapshot_of(service: Service, corpus):
    """What must not change after a refused operation."""
    return (
        sorted(p.name for p in corpus.iterdir()),
        [(d.doc_id, d.chunks) for d in service.documents()],
        service.index_dir.current_id(),
    )


def test_index_then_reindex_unchanged_embeds_nothing(service, embedder):
    first = service.reindex()
    assert first.rebuilt and first.documents == 2
    assert first.embedded == first.chunks and first.sentences_embedded > first.chunks
    assert first.embedded + first.sentences_embedded == embedder.embedded
    second = service.reindex()
    assert not second.rebuilt and second.embedded == second.sentences_embedded == 0
    assert second.build_id == first.build_id


def test_a_failed_run_keeps_the_batches_it_embedded(service, embedder, monkeypatch):
    """Texts are embedded in batches bounded by their length and saved as each batch ends:
    the run after a failure embeds only what the failed run had not finished."""
    monkeypatch.setattr(indexer, "EMBED_BATCH_CHARS", 1_000)
    batches = []
    embed = embedder.embed

    def failing_fifth(texts):
        if len(batches) == 4:  # the passages' batches and the first of the sentences' are done
            raise RuntimeError("the model stopped")
        batches.append(list(texts))
        return embed(texts)

    monkeypatch.setattr(embedder, "embed", failing_fifth)
    with pytest.raises(RuntimeError):
        service.reindex()
    assert all(len(b) == 1 or sum(map(len, b)) <= 1_000 for b in batches)
    assert max(map(len, batches)) > 2  # short texts share a batch
    finished = {t for b in batches for t in b}
    monkeypatch.setattr(embedder, "embed", embed)
    embedder.texts.clear()
    report = service.reindex()
    assert report.sentences_embedded == len(embedder.texts) > 0
    assert not finished & set(embedder.texts)
    assert service.current().manifest.sentences_missing == 0


def test_changing_one_document_embeds_only_its_chunks(service, embedder, corpus):
    service.reindex()
    before = embedder.embedded
    path = corpus / "uk-model-evaluation-guidance.md"
    path.write_text(path.read_text() + "\nA new closing paragraph about audits.\n")
    report = service.reindex()
    changed = [d for d in service.documents() if d.doc_id == "uk-model-evaluation-guidance"][0]
    assert report.rebuilt
    assert 0 < report.embedded <= changed.chunks
    assert report.sentences_embedded == 1  # only the new paragraph is a new sentence
    assert embedder.texts[before:][-1] == "A new closing paragraph about audits."
    assert embedder.embedded - before == report.embedded + report.sentences_embedded


def test_add_embeds_only_the_new_document(service, embedder, tmp_path):
    service.reindex()
    before = embedder.embedded
    new = tmp_path / "compute-rule.md"
    new.write_text(THIRD_DOC)
    result = service.add_file(new, actor="cli:test")
    assert result.document.doc_id == "compute-rule"
    assert result.passages == 1 and embedder.embedded - before == 2  # its passage and sentence
    assert all("training runs" in text for text in embedder.texts[before:])
    assert result.document.added_by == "cli:test"
    answer = service.ask("who must report training runs above the compute threshold?")
    assert any(p.document.doc_id == "compute-rule" for p in answer.passages)


def test_remove_keeps_the_file_aside_and_drops_it_from_answers(service, settings, corpus):
    service.reindex()
    info = service.remove("uk-model-evaluation-guidance", actor="cli:test")
    assert info.title == "Guidance on model evaluations"
    assert not (corpus / "uk-model-evaluation-guidance.md").exists()
    assert [p.name for p in (settings.data_dir / "removed").iterdir()][0].endswith(
        "uk-model-evaluation-guidance.md"
    )
    answer = service.ask("What should evaluators test frontier models for?")
    assert all(p.document.doc_id != "uk-model-evaluation-guidance" for p in answer.passages)
    assert service.current().manifest.documents == 1


def test_new_index_is_served_without_restart(settings, corpus, tmp_path):
    reader = Service(settings, embedder=HashEmbedder())
    reader.reindex()
    old_build = reader.current().manifest.build_id
    writer = Service(settings, embedder=HashEmbedder())  # another process, say the CLI
    new = tmp_path / "compute-rule.md"
    new.write_text(THIRD_DOC)
    writer.add_file(new)
    assert reader.current().manifest.build_id != old_build
    assert "compute-rule" in reader.current().documents


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("notes.md", b"\x89PNG\r\n\x1a\n\x00\x00binary", "not text"),
        ("notes.md", b"caf\xe9 au lait", "UTF-8"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj <<", "PDF"),
        ("sheet.docx", b"PK\x03\x04", "supported"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_changes(service, corpus, name, data, message):
    service.reindex()
    before = snapshot_of(service, corpus)
    with pytest.raises(DocumentError, match=message):
        service.add_bytes(data, name, actor="discord:1:x")
    assert snapshot_of(service, corpus) == before
    assert service.admin_actions(1)[0].outcome.startswith("refused")


def test_duplicate_content_is_reported_not_indexed_twice(service, corpus):
    service.reindex()
    before = snapshot_of(service, corpus)
    with pytest.raises(DuplicateDocument, match="techradar-us-uk-ai-safety-mou"):
        service.add_bytes(SEED.read_bytes(), "copy-of-seed.md", actor="cli")
    assert snapshot_of(service, corpus) == before


def test_a_duplicate_file_in_the_corpus_is_skipped_with_a_reason(service, corpus):
    service.reindex()
    shutil.copy(SEED, corpus / "a-seed-again.md")  # sorts first, yet the indexed id is kept
    report = service.reindex()
    assert report.documents == 2
    assert any("a-seed-again.md" in line and "same content" in line for line in report.skipped)
    assert "techradar-us-uk-ai-safety-mou" in {d.doc_id for d in service.documents()}


def test_unknown_document_and_bad_questions(service):
    service.reindex()
    with pytest.raises(UnknownDocument, match="policybot list"):
        service.remove("no-such-doc")
    with pytest.raises(InvalidQuestion, match="empty"):
        service.ask("   \n ")
    with pytest.raises(InvalidQuestion, match="1000 characters"):
        service.ask("why " * 300)


def test_filters_restrict_passages(service):
    service.reindex()
    answer = service.ask("who signed the MOU on AI safety?", filters=Filters(jurisdiction="uk"))
    assert {p.document.jurisdiction for p in answer.passages + answer.more} == {"UK"}

    def documents(filters: Filters) -> set[str]:
        answer = service.ask("frontier model evaluations", filters=filters)
        return {p.document.doc_id for p in answer.passages + answer.more}

    assert documents(Filters(date_from="2024-04-15")) == {"uk-model-evaluation-guidance"}
    assert documents(Filters(date_to="2024-04-15")) == {SEED.stem}
    assert documents(Filters(doc_id=SEED.stem)) == {SEED.stem}
    with pytest.raises(UnknownDocument):
        service.ask("anything", filters=Filters(doc_id="missing"))


def test_status_warning_is_stored_and_shown(service):
    service.reindex()
    answer = service.ask("How soon are evaluation results shared with the regulator?")
    guidance = [p for p in answer.passages if p.document.doc_id == "uk-model-evaluation-guidance"]
    assert guidance and guidance[0].document.warning == "superseded by the 2025 guidance"
    assert [d.status for d in service.documents() if d.doc_id.startswith("uk-")] == [
        "superseded by the 2025 guidance"
    ]


def test_index_built_with_another_model_is_refused_with_the_command(settings, corpus):
    Service(settings, embedder=HashEmbedder()).reindex()
    other = settings.model_copy(update={"embedding_model": "another-model"})
    with pytest.raises(IndexUnavailable, match="policybot index --rebuild"):
        Service(other, embedder=HashEmbedder()).current()


def test_corrupt_index_is_refused_and_rebuild_repairs_it(service):
    service.reindex()
    build = service.index_dir.builds / service.index_dir.current_id()
    (build / "vectors.faiss").write_bytes(b"garbage")
    service.serving._snapshot = None
    with pytest.raises(IndexUnavailable, match="damaged"):
        service.current()
    assert service.reindex().rebuilt
    assert service.ask("who signed the MOU?").passages


def test_feedback_second_vote_replaces_the_first(service):
    service.reindex()
    service.record_feedback(question="Who signed?", chunk_ids=["a#0"], user_id="42", vote=1)
    service.record_feedback(
        question="who signed? ", chunk_ids=["a#0", "b#1"], user_id="42", vote=-1
    )
    service.record_feedback(question="Who signed?", chunk_ids=["a#0"], user_id="7", vote=1)
    rows = service.store.feedback()
    assert sorted(r.vote for r in rows) == [-1, 1]
    assert all("42" not in r.user_hash for r in rows) and len({r.user_hash for r in rows}) == 2


def test_full_passage_and_audit_log(service):
    service.reindex(actor="cli:alice")
    answer = service.ask("who signed the MOU?")
    passage = service.passage(answer.passages[0].chunk_id)
    assert passage.text == answer.passages[0].text
    with pytest.raises(UnknownDocument):
        service.passage("gone#99")
    action = service.admin_actions(1)[0]
    assert (action.actor, action.action, action.outcome) == ("cli:alice", "reindex", "ok")
