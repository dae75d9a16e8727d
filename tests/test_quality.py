"""End to end with the real model: answers that users rely on."""

from __future__ import annotations

import shutil

import pytest

from retrieval.config import Settings
from retrieval.service import Service
from tests.conftest import REPO, SHARED_CORPUS, needs_shared


def test_flagship_question_over_the_shipped_corpus(tmp_path, real_embedder):
    settings = Settings(data_dir=tmp_path / "data", corpus_dirs=[REPO / "corpus"])
    service = Service(settings, embedder=real_embedder)
    service.ensure_index()
    answer = service.ask("Who signed the US–UK AI MOU?")
    assert not answer.abstained
    assert "Raimondo" in answer.text and "Donelan" in answer.text
    first = answer.passages[answer.sentences[0].source - 1]
    assert first.document.doc_id == "techradar-us-uk-ai-safety-mou"
    assert first.document.publisher == "TechRadar Pro" and first.document.date == "2024-04-02"
    start, end = first.highlights[0]
    assert "Raimondo" in first.text[start:end]


@needs_shared
def test_revoked_status_is_answerable_and_warned(tmp_path, real_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in (
        "us-eo-14110-safe-secure-trustworthy-ai.md",
        "us-eo-14179-removing-barriers-ai.md",
    ):
        shutil.copy(SHARED_CORPUS / name, corpus / name)
    service = Service(
        Settings(data_dir=tmp_path / "data", corpus_dirs=[corpus]), embedder=real_embedder
    )
    service.ensure_index()
    answer = service.ask("Is EO 14110 still in force?")
    assert not answer.abstained
    eo = [p for p in answer.passages if p.document.doc_id.startswith("us-eo-14110")]
    assert eo and eo[0].document.warning.startswith("revoked 2025-01-20 by Executive Order 14148")


@pytest.mark.parametrize(
    "question", ["What is the capital of Peru?", "How do I bake sourdough bread?"]
)
def test_unrelated_questions_abstain_and_name_nearest(tmp_path, real_embedder, question):
    settings = Settings(data_dir=tmp_path / "data", corpus_dirs=[REPO / "corpus"])
    service = Service(settings, embedder=real_embedder)
    service.ensure_index()
    answer = service.ask(question)
    assert answer.abstained and not answer.passages
    assert answer.nearest[0].doc_id == "techradar-us-uk-ai-safety-mou"


@needs_shared
def test_a_definition_question_is_answered_with_the_defining_sentence(tmp_path, real_embedder):
    """The defining sentence says "refers to", not "define", and ranks low on both retrievers."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SHARED_CORPUS / "nist-ai-rmf-1-0-ai-100-1.md", corpus)
    service = Service(
        Settings(data_dir=tmp_path / "data", corpus_dirs=[corpus]), embedder=real_embedder
    )
    service.ensure_index()
    answer = service.ask("What is the AI RMF's definition of risk?")
    assert "risk refers to the composite measure" in answer.sentences[0].text
