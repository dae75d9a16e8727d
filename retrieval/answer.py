"""From candidate passages to an answer: rerank passages, quote their best sentences, or abstain.

Scoring and picking the sentences is in answer_sentences.py; a row becomes a Passage in passages.py.
"""

from __future__ import annotations

import heapq
from itertools import islice

import numpy as np

from retrieval.abstention import judge
from retrieval.answer_sentences import (
    ScoredSentence,
    coverage,
    list_intro,
    list_items,
    opening_first,
    part_first,
    pick_sentences,
    score_sentences,
    status_first,
    weighted_terms,
)
from retrieval.answer_types import QuestionForm, asks_status, names_a_part
from retrieval.embedding import Embedder
from retrieval.fusion import Candidates
from retrieval.params import Params
from retrieval.passages import to_passage
from retrieval.quotes import readable
from retrieval.snapshot import Snapshot
from retrieval.types import Answer, AnswerSentence, Reasons


def compose(
    question: str,
    form: QuestionForm,
    query_vector: np.ndarray,
    snapshot: Snapshot,
    candidates: Candidates,
    embedder: Embedder,
    *,
    top_k: int,
    params: Params,
    named: tuple[str, ...] = (),
    cited: frozenset[int] = frozenset(),
    openings: dict[int, int] | None = None,
    about_document: bool = False,
    signed: dict[int, tuple[int, int]] | None = None,
    missing: tuple[str, ...] = (),
    min_support: float = 0.0,
) -> Answer:
    """Pick answer sentences from the best passages, or abstain and name the nearest documents.

    ``named`` are the documents the question names: their passages join the pool, count the
    document's names as words they hold (a passage rarely repeats its act's name), and score
    ``params.named_weight`` higher; ``cited`` passages, under a part the question cites ("Article
    5"), join it too and score ``params.cited_weight`` higher, and the part's opening sentence
    (``openings``: row -> where in it a part opens) ``params.opening_weight`` higher; a question
    ``about_document`` ("what is SB 53?") passes its overview rows so, and quotes only the
    documents it names. ``signed`` (row -> span) are the named documents' signature blocks,
    for "who signed …?": they are shown and quoted first. ``missing`` are name-like words of
    the question that the corpus lacks: then there is no answer.
    """
    rows = [row for row in candidates.rows if snapshot.analysis.informative[row]]
    shape = form.shape
    pool = _pool(rows, candidates, params)
    of_named = [row for row in rows if snapshot.passages[row].doc_id in named]
    pool += [row for row in _pool(of_named, candidates, params) if row not in pool]
    of_cited = [row for row in rows if row in cited]
    pool += [row for row in _pool(of_cited, candidates, params) if row not in pool]
    # Leading rows that hold the kind of answer asked for (a date, the term's definition).
    holding = (r for r in rows if shape and shape.search(snapshot.passages[r].text))
    shaped = list(islice(holding, params.each_best))  # the search stops at the first few
    pool += [row for row in shaped if row not in pool]
    if not pool:
        return Answer(question, (), (), abstained=True)
    weights = weighted_terms(form.topic, snapshot)
    name_ids = {
        d: frozenset(snapshot.term_ids(" ".join(snapshot.names.names.get(d, ())))) for d in named
    }
    # A passage under a cited part holds its number as the label it lies under, as a passage
    # of a named document holds that document's names: neither is repeated in the text.
    part_ids = frozenset(snapshot.term_ids(" ".join(f"{k} {n}" for k, n in form.cites)))
    context_terms = {
        row: snapshot.context_terms(row)
        | name_ids.get(snapshot.passages[row].doc_id, frozenset())
        | (part_ids if row in cited else frozenset())
        for row in pool
    }
    covered = {row: coverage(weights, context_terms[row]) for row in pool}
    retrieval_score = {
        row: params.dense_weight * candidates.dense[row]
        + params.lexical_weight * covered[row]
        + params.bm25_weight * candidates.lexical[row]
        + params.named_weight * (snapshot.passages[row].doc_id in named)
        + params.part_weight
        * (form.wants_part and names_a_part(snapshot.passages[row].heading, form.part_kind))
        + params.cited_weight * (row in cited)
        for row in pool
    }
    by_retrieval = sorted(pool, key=retrieval_score.__getitem__, reverse=True)
    shortlist = by_retrieval[: params.shortlist]  # only these have their sentences embedded
    shortlist += [row for row in shaped if row not in shortlist]
    labelled = (cited, part_ids) if cited else None
    sentences = score_sentences(
        shape, snapshot, shortlist, weights, query_vector, embedder, params, labelled
    )
    sentences = opening_first(sentences, openings or {}, params)
    best_in_row: dict[int, ScoredSentence] = {}
    for sentence in sentences:
        if sentence.row not in best_in_row or sentence.score > best_in_row[sentence.row].score:
            best_in_row[sentence.row] = sentence
    scores = {
        row: retrieval_score[row] + (best_in_row[row].score if row in best_in_row else 0.0)
        for row in shortlist
    }
    ranked = _diversify(
        sorted(shortlist, key=scores.__getitem__, reverse=True), scores, snapshot, params
    )
    in_pool = set(pool)
    ranked += [row for row in by_retrieval if row not in scores]
    ranked += [row for row in rows if row not in in_pool]
    if signed:
        ranked = [*signed, *(row for row in ranked if row not in signed)]
    intro = list_intro(ranked[0], best_in_row, sentences, snapshot, params)
    continuation = _list_continuation(ranked[0], snapshot, params) if intro else []
    ranked = [ranked[0], *continuation] + [r for r in ranked[1:] if r not in continuation]
    status_of = named[0] if named and asks_status(question) else None
    # "Both EO 14110 and SB 53 …", "what is SB 53?": each is shown and quoted, and no other.
    compared = named if len(named) > 1 or about_document else ()
    must_show = compared or (named if status_of else ())
    ranked = _each_named_shown(ranked, must_show, top_k, snapshot)[: 2 * top_k]
    # Support is judged on retrieval alone, so reranking choices do not move the abstentions.
    support = max(candidates.dense[row] + covered[row] for row in pool)
    nearest = heapq.nlargest(2, candidates.dense.values())
    verdict = judge(
        question,
        snapshot,
        support=support,
        best_dense=nearest[0],
        dense_lead=nearest[0] - nearest[-1],
        pooled_rows=pool,
        context_terms=context_terms,
        missing=missing,
        params=params,
        offset=min_support,
        status_named=status_of is not None,
    )
    if verdict.abstain:
        reasons = Reasons(verdict.support, verdict.needed, verdict.decided_by, named=named)
        nearest = []
        for row in ranked:
            info = snapshot.documents[snapshot.passages[row].doc_id]
            if info not in nearest:
                nearest.append(info)
        closest = tuple(to_passage(snapshot, row, candidates.fused.get(row, 0.0)) for row in ranked)
        return Answer(
            question,
            (),
            (),
            abstained=True,
            nearest=tuple(nearest[:3]),
            more=closest[:top_k],
            reasons=reasons,
        )

    # A sentence that announces a list ("… the following:") says nothing alone: its items
    # answer (dev2 tuning half answer_hit@1 +1 over doing so only for "what are the …", the
    # rest the same; 32 list questions @1 0.13 -> 0.22). A question that names documents
    # together is answered from each of them instead.
    items = list_items(intro, continuation, snapshot, params, shape) if intro else []
    if items and not compared:
        chosen = items
    else:
        doc_of = {row: snapshot.passages[row].doc_id for row in ranked[:top_k]}
        chosen = pick_sentences(sentences, best_in_row, ranked[:top_k], params, doc_of, compared)
    chosen = [s for s in chosen if s.row in ranked[:top_k]] or chosen[:1]
    position = {row: i for i, row in enumerate(ranked)}
    answer_sentences = tuple(
        AnswerSentence(
            readable(snapshot.passages[s.row].text[s.start : s.end]),
            position[s.row] + 1,
            s.start,
            s.end,
        )
        for s in chosen
    )
    if signed:  # the signatures answer: other quotes would only talk about signing
        answer_sentences = tuple(
            AnswerSentence(readable(snapshot.passages[row].text[s:e]), position[row] + 1, s, e)
            for row, (s, e) in signed.items()
        )[: params.max_answer_sentences]
    if status_of:
        answer_sentences = status_first(answer_sentences, status_of, ranked, snapshot, params)
    elif form.wants_part:
        answer_sentences = part_first(answer_sentences, snapshot, ranked, params, form.part_kind)
    highlights: dict[int, list[tuple[int, int]]] = {
        row: [span] for row, span in (signed or {}).items()
    }
    for s in chosen or [best_in_row[r] for r in ranked if r in best_in_row]:
        highlights.setdefault(s.row, []).append((s.start, s.end))
    for row in ranked:
        if row not in highlights and row in best_in_row:
            highlights[row] = [(best_in_row[row].start, best_in_row[row].end)]
    passages = tuple(
        to_passage(
            snapshot, row, candidates.fused.get(row, 0.0), tuple(sorted(highlights.get(row, ())))
        )
        for row in ranked
    )
    scores_of_chosen = tuple(s.score for s in chosen)
    reasons = Reasons(verdict.support, verdict.needed, verdict.decided_by, scores_of_chosen, named)
    return Answer(
        question, answer_sentences, passages[:top_k], more=passages[top_k:], reasons=reasons
    )


def _each_named_shown(
    ranked: list[int], named: tuple[str, ...], top_k: int, snapshot: Snapshot
) -> list[int]:
    """The best passage of each of these documents (all that a question names, when it names
    several: "both EO 14110 and SB 53") is among those shown, in place of the lowest shown
    passages of other documents."""
    shown = ranked[:top_k]
    for doc_id in named:
        if any(snapshot.passages[r].doc_id == doc_id for r in shown):
            continue
        best = next((r for r in ranked[top_k:] if snapshot.passages[r].doc_id == doc_id), None)
        shown_docs = [snapshot.passages[r].doc_id for r in shown]
        others = [i for i, d in enumerate(shown_docs) if d not in named]
        # Else the last passage of the document shown most often makes room.
        crowded = max(set(shown_docs), key=shown_docs.count) if shown_docs else None
        spare = others or [i for i, d in enumerate(shown_docs) if d == crowded][1:]
        if best is not None and spare:
            shown[spare[-1]] = best
    return shown + [r for r in ranked if r not in shown]


def _pool(rows: list[int], candidates: Candidates, params: Params) -> list[int]:
    """The leading fused rows, plus each retriever's own best: fusion can bury a row that only
    one of them finds (a paraphrase the words miss, a rare term the vectors miss)."""
    pool = rows[: params.pool]
    for scores in (candidates.dense, candidates.lexical):
        best = sorted(rows, key=scores.__getitem__, reverse=True)[: params.each_best]
        pool += [row for row in best if row not in pool]
    return pool


def _list_continuation(top: int, snapshot: Snapshot, params: Params) -> list[int]:
    """The passages under the heading of one that announces a list, which carry the list on:
    they are shown right after it."""
    continuation, row = [], top
    while len(continuation) < params.list_continuation and snapshot.next_row(row) is not None:
        row = snapshot.next_row(row)
        if not snapshot.same_section(top, row):
            break
        continuation.append(row)
    return continuation


def _diversify(
    rows: list[int], score: dict[int, float], snapshot: Snapshot, params: Params
) -> list[int]:
    """Best first, but a document already shown ``params.per_document`` times yields to another
    document's passage unless it scores clearly higher (a question about one act stays there)."""
    shown: dict[str, int] = {}
    remaining, ordered = list(rows), []
    while remaining:
        pick = remaining[0]
        if shown.get(snapshot.passages[pick].doc_id, 0) >= params.per_document:
            fresh = next(
                (
                    r
                    for r in remaining
                    if shown.get(snapshot.passages[r].doc_id, 0) < params.per_document
                ),
                None,
            )
            if fresh is not None and score[pick] - score[fresh] <= params.diversity_margin:
                pick = fresh
        remaining.remove(pick)
        ordered.append(pick)
        doc_id = snapshot.passages[pick].doc_id
        shown[doc_id] = shown.get(doc_id, 0) + 1
    return ordered
