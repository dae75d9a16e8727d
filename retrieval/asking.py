"""One question against one published snapshot: filters, embedding, candidates, answer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from retrieval import answer as answering
from retrieval.absent_names import missing_names, missing_phrases
from retrieval.answer_types import asks_about_document, asks_status, question_form
from retrieval.embedding import Embedder
from retrieval.errors import UnknownDocument
from retrieval.fusion import candidate_rows
from retrieval.lexical import terms
from retrieval.params import Params
from retrieval.parts import cited_items
from retrieval.signatures import asks_signatories
from retrieval.snapshot import Snapshot
from retrieval.spelling import spelled_apart
from retrieval.types import Answer, Filters


def answer_question(
    snapshot: Snapshot,
    embedder: Embedder,
    question: str,
    *,
    top_k: int,
    filters: Filters,
    params: Params,
    min_support: float,
) -> Answer:
    """The answer to an already validated question; the question is the one text embedded."""
    allowed = allowed_rows(snapshot, filters)
    query_vector = embedder.embed([question])[0]
    form = question_form(snapshot.spelling.corrected(question))  # "definiton of" asks one too
    items = cited_items(question, snapshot.parts.opens_items)  # "practice 1.1", "GOVERN 1.2"
    if items:
        form = replace(form, cites=form.cites | items)
    apart = spelled_apart(form.topic, snapshot.spelling, snapshot.lexical)  # "deep fake"
    if apart:
        form = replace(form, topic=" ".join([form.topic, *apart]))
    named = tuple(snapshot.named_in(question))
    missing = missing_names(
        question, snapshot.spelling, snapshot.names.initials, snapshot.names.name_words(named)
    ) + missing_phrases(question, snapshot.spelling)
    missing += [
        p for p in snapshot.parts.absent_parts(form.cites, named) if p.split()[-1] not in missing
    ]
    focus = snapshot.rows_of(set(named)) if named else None
    if focus is not None and allowed is not None:
        focus = np.intersect1d(focus, allowed)
    cited, openings = snapshot.parts.rows_under(form.cites, named)
    about_document = not form.cites and _about_document(snapshot, question, form.topic, named)
    if about_document:
        cited, openings = snapshot.parts.overview_rows(named, params.overview_rows)
    # "Who signed the AI Act?": the named documents' signature blocks.
    signed = snapshot.parts.signatures(named) if named and asks_signatories(question) else {}
    if allowed is not None:
        cited = np.intersect1d(cited, allowed).tolist()
        signed = {row: signed[row] for row in np.intersect1d(list(signed), allowed).tolist()}
    candidates = candidate_rows(
        snapshot, form.topic, query_vector, allowed, params.depth, focus, [*cited, *signed]
    )
    return answering.compose(
        question,
        form,
        query_vector,
        snapshot,
        candidates,
        embedder,
        top_k=top_k,
        params=params,
        named=named,
        cited=frozenset(cited),
        openings=openings,
        about_document=about_document,
        signed=signed,
        missing=tuple(missing),
        min_support=min_support,
    )


def _about_document(snapshot: Snapshot, question: str, topic: str, named: tuple[str, ...]):
    """True for "what is the NIST AI RMF?": a question of nothing but the named documents' names
    (short names, title, publisher) and words that ask for a summary, and not of their status."""
    if not named or asks_status(question):
        return False
    documents = [snapshot.documents[d] for d in named]
    names = snapshot.names.name_terms(named)
    names |= {t for info in documents for t in terms(f"{info.title} {info.publisher}")}
    return asks_about_document(topic, names)


def allowed_rows(snapshot: Snapshot, filters: Filters) -> np.ndarray | None:
    """The rows a question may use (None: all of them)."""
    if not filters:
        return None
    if filters.doc_id and filters.doc_id not in snapshot.documents:
        raise UnknownDocument(
            f"No document has the id {filters.doc_id!r}; `policybot list` shows the ids."
        )
    return snapshot.rows_of({d for d, info in snapshot.documents.items() if filters.admits(info)})
