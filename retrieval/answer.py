"""From candidate passages to an answer: score sentences, rerank passages, or abstain."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np

from retrieval.answer_types import QuestionForm
from retrieval.embedding import Embedder
from retrieval.fusion import Candidates
from retrieval.lexical import terms
from retrieval.snapshot import Snapshot
from retrieval.types import Answer, AnswerSentence, Passage

POOL = 10  # leading fused candidates that are reranked
EACH_BEST = 7  # with the best of each retriever, wherever fusion put them
SHORTLIST = 10  # of those, the best by retrieval scores have their sentences scored
MAX_ANSWER_SENTENCES = 3
SENTENCE_MARGIN = 0.1  # further sentences must score within this of the best
LIST_CONTINUATION = 2  # passages shown after one that introduces a list
DIVERSITY_MARGIN = 0.2  # how much better a third passage of one document must score
PER_DOCUMENT = 2  # passages from one document before others get a turn
LEXICAL_WEIGHT = 0.35
SHAPE_WEIGHT = 0.1  # for a sentence holding the kind of answer asked for (a date for "when")
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 0.4
# Support = the best pooled passage's cosine to the question plus the share of the question's
# IDF weight it covers. Abstain below MIN_SUPPORT, or below NAMED_SUPPORT when a name in the question
# (a capitalised word) appears in none of the leading passages. Chosen on ../shared/eval/dev.jsonl.
MIN_SUPPORT = 0.8
NAMED_SUPPORT = 1.1
MIN_DENSE = 0.25  # below this the top passage is about something else, whatever words it shares
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w-]*)")


@dataclass(frozen=True)
class _Sentence:
    row: int
    start: int
    end: int
    score: float
    opens_list: bool  # the sentence announces a list ("… the following:")


def _weighted_terms(question: str, snapshot: Snapshot) -> dict[int, float]:
    """The question's term ids with their IDF (a term no passage holds weighs 0)."""
    return {snapshot.vocabulary.get(t, -1): snapshot.lexical.idf(t) for t in set(terms(question))}


def coverage(weights: dict[int, float], present: frozenset[int]) -> float:
    """Share of the question's IDF weight whose terms are among ``present``."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if t in present) / total


def compose(
    question: str,
    form: QuestionForm,
    query_vector: np.ndarray,
    snapshot: Snapshot,
    candidates: Candidates,
    embedder: Embedder,
    *,
    top_k: int,
    min_support: float = 0.0,
) -> Answer:
    """Pick answer sentences from the best passages, or abstain and name the nearest documents."""
    rows = [row for row in candidates.rows if snapshot.analysis.informative[row]]
    shape = form.shape
    pool = _pool(rows, candidates)
    # Leading rows that hold the kind of answer asked for (a date, the term's definition).
    shaped = [r for r in rows if shape and shape.search(snapshot.passages[r].text)][:EACH_BEST]
    pool += [row for row in shaped if row not in pool]
    if not pool:
        return Answer(question, (), (), abstained=True)
    weights = _weighted_terms(form.topic, snapshot)
    context_terms = {row: snapshot.analysis.passage_terms.of(row) for row in pool}
    covered = {row: coverage(weights, context_terms[row]) for row in pool}
    retrieval_score = {
        row: DENSE_WEIGHT * candidates.dense[row]
        + LEXICAL_WEIGHT * covered[row]
        + BM25_WEIGHT * candidates.lexical[row]
        for row in pool
    }
    by_retrieval = sorted(pool, key=retrieval_score.__getitem__, reverse=True)
    shortlist = by_retrieval[:SHORTLIST]  # only these have their sentences embedded
    shortlist += [row for row in shaped if row not in shortlist]
    sentences = _score_sentences(shape, snapshot, shortlist, weights, query_vector, embedder)
    best_in_row: dict[int, _Sentence] = {}
    for sentence in sentences:
        if sentence.row not in best_in_row or sentence.score > best_in_row[sentence.row].score:
            best_in_row[sentence.row] = sentence
    scores = {
        row: retrieval_score[row] + (best_in_row[row].score if row in best_in_row else 0.0)
        for row in shortlist
    }
    ranked = _diversify(sorted(shortlist, key=scores.__getitem__, reverse=True), scores, snapshot)
    in_pool = set(pool)
    ranked += [row for row in by_retrieval if row not in scores]
    ranked += [row for row in rows if row not in in_pool]
    continuation = _list_continuation(ranked[0], best_in_row, snapshot)
    ranked = [ranked[0], *continuation] + [r for r in ranked[1:] if r not in continuation]
    ranked = ranked[: 2 * top_k]
    # Support is judged on retrieval alone, so reranking choices do not move the abstentions.
    support = max(candidates.dense[row] + covered[row] for row in pool)
    leading = set().union(*(context_terms[row] for row in pool[:3]))
    unmatched_name = any(
        term not in leading for name in _NAME.findall(question) for term in snapshot.term_ids(name)
    )
    needed = (NAMED_SUPPORT if unmatched_name else MIN_SUPPORT) + min_support
    if support < needed or max(candidates.dense.values()) < MIN_DENSE + min_support:
        nearest = []
        for row in ranked:
            info = snapshot.documents[snapshot.passages[row].doc_id]
            if info not in nearest:
                nearest.append(info)
        closest = tuple(to_passage(snapshot, row, candidates.fused.get(row, 0.0)) for row in ranked)
        return Answer(
            question, (), (), abstained=True, nearest=tuple(nearest[:3]), more=closest[:top_k]
        )

    items = _list_items(ranked[0], continuation, best_in_row, snapshot)
    if form.wants_list and len(items) > 1:
        chosen = items
    else:
        chosen = _answer_sentences(sentences, best_in_row, ranked[:top_k])
    position = {row: i for i, row in enumerate(ranked)}
    answer_sentences = tuple(
        AnswerSentence(snapshot.passages[s.row].text[s.start : s.end], position[s.row] + 1)
        for s in chosen
    )
    highlights: dict[int, list[tuple[int, int]]] = {}
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
    return Answer(question, answer_sentences, passages[:top_k], more=passages[top_k:])


def _pool(rows: list[int], candidates: Candidates) -> list[int]:
    """The leading fused rows, plus each retriever's own best: fusion can bury a row that only
    one of them finds (a paraphrase the words miss, a rare term the vectors miss)."""
    pool = rows[:POOL]
    for scores in (candidates.dense, candidates.lexical):
        best = sorted(rows, key=scores.__getitem__, reverse=True)[:EACH_BEST]
        pool += [row for row in best if row not in pool]
    return pool


def _score_sentences(shape, snapshot, rows, weights, query_vector, embedder) -> list[_Sentence]:
    """Each choosable sentence of ``rows``: cosine to the question, term coverage with its
    heading, and the bonus for holding the kind of answer asked for."""
    table = snapshot.analysis.sentences
    chosen = [(row, i) for row in rows for i in table.of(row) if table.scored[i]]
    if not chosen:
        return []
    indices = np.array([i for _, i in chosen])
    texts = [snapshot.passages[row].text[table.start[i] : table.end[i]] for row, i in chosen]
    vectors = np.array(snapshot.sentence_vectors[indices])
    pending = np.flatnonzero(~snapshot.sentence_ready[indices])
    if len(pending):  # the build's sentence pass has not reached these yet
        vectors[pending] = embedder.embed([texts[k] for k in pending])
    cosines = vectors @ query_vector
    return [
        _Sentence(
            row,
            int(table.start[i]),
            int(table.end[i]),
            float(cos)
            + LEXICAL_WEIGHT * coverage(weights, table.terms.of(i))
            + SHAPE_WEIGHT * bool(shape and shape.search(text)),
            bool(table.opens_list[i]),
        )
        for (row, i), text, cos in zip(chosen, texts, cosines, strict=True)
    ]


def _answer_sentences(
    sentences: list[_Sentence], best_in_row: dict[int, _Sentence], shown: list[int]
) -> list[_Sentence]:
    """The best sentence of each shown passage, while close to the overall best.

    A sentence that announces a list ("… as follows:") brings the next sentence along.
    """
    ranked = sorted(
        (best_in_row[row] for row in shown if row in best_in_row),
        key=lambda s: s.score,
        reverse=True,
    )
    if not ranked:
        return []
    chosen: list[_Sentence] = []
    for s in ranked:
        if s.score < ranked[0].score - SENTENCE_MARGIN or len(chosen) >= MAX_ANSWER_SENTENCES:
            break
        chosen.append(s)
        following = [t for t in sentences if t.row == s.row and t.start >= s.end]
        if s.opens_list and following and len(chosen) < MAX_ANSWER_SENTENCES:
            chosen.append(min(following, key=lambda t: t.start))
    order = {row: i for i, row in enumerate(shown)}
    return sorted(chosen, key=lambda s: (order[s.row], s.start))


def _list_continuation(
    top: int, best_in_row: dict[int, _Sentence], snapshot: Snapshot
) -> list[int]:
    """When the best passage announces a list, the passages under its heading that carry the
    list on: they are shown right after it."""
    if top not in best_in_row or not best_in_row[top].opens_list:
        return []
    continuation, row = [], top
    while len(continuation) < LIST_CONTINUATION and snapshot.next_row(row) is not None:
        row = snapshot.next_row(row)
        if snapshot.passages[row].heading != snapshot.passages[top].heading:
            break
        continuation.append(row)
    return continuation


def _list_items(
    top: int, continuation: list[int], best_in_row: dict[int, _Sentence], snapshot: Snapshot
) -> list[_Sentence]:
    """The opening sentences of the items of the list the best passage announces."""
    if not continuation:
        return []
    intro = best_in_row[top]
    table = snapshot.analysis.sentences
    items = [
        _Sentence(row, int(table.start[i]), int(table.end[i]), intro.score, opens_list=False)
        for row in (top, *continuation)
        for i in table.of(row)
        if table.item[i] and (row != top or table.start[i] >= intro.end)
    ]
    return items[:MAX_ANSWER_SENTENCES]


def _diversify(rows: list[int], score: dict[int, float], snapshot: Snapshot) -> list[int]:
    """Best first, but a document already shown ``PER_DOCUMENT`` times yields to another
    document's passage unless it scores clearly higher (a question about one act stays there)."""
    shown: dict[str, int] = {}
    remaining, ordered = list(rows), []
    while remaining:
        pick = remaining[0]
        if shown.get(snapshot.passages[pick].doc_id, 0) >= PER_DOCUMENT:
            fresh = next(
                (r for r in remaining if shown.get(snapshot.passages[r].doc_id, 0) < PER_DOCUMENT),
                None,
            )
            if fresh is not None and score[pick] - score[fresh] <= DIVERSITY_MARGIN:
                pick = fresh
        remaining.remove(pick)
        ordered.append(pick)
        doc_id = snapshot.passages[pick].doc_id
        shown[doc_id] = shown.get(doc_id, 0) + 1
    return ordered


def to_passage(
    snapshot: Snapshot, row: int, score: float = 0.0, highlights: tuple[tuple[int, int], ...] = ()
) -> Passage:
    stored = snapshot.passages[row]
    document = snapshot.documents[stored.doc_id]
    quote_span = highlights[0] if highlights else None
    link = text_fragment_link(document.url, stored.text[slice(*quote_span)] if quote_span else "")
    return Passage(
        chunk_id=stored.chunk_id,
        document=document,
        heading=stored.heading,
        text=stored.text,
        start=stored.start,
        end=stored.end,
        score=score,
        highlights=highlights,
        link=link,
    )


def text_fragment_link(url: str, sentence: str) -> str:
    """The URL with a ``#:~:text=start,end`` fragment that scrolls to the quoted sentence."""
    words = sentence.split()
    if (
        not url.startswith(("http://", "https://"))
        or url.lower().endswith(".pdf")
        or len(words) < 3
    ):
        return url

    def encode(part: list[str]) -> str:
        return quote(" ".join(part), safe="").replace("-", "%2D")

    base = re.sub(r"#.*$", "", url)
    if len(words) <= 8:
        return f"{base}#:~:text={encode(words)}"
    return f"{base}#:~:text={encode(words[:4])},{encode(words[-4:])}"
