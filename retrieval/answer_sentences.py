"""The sentences an answer is made of: each scored against the question, the best picked, a
list's items, and a named document's status put first."""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from retrieval.answer_types import names_a_part
from retrieval.lexical import terms
from retrieval.params import Params
from retrieval.sentences import marker_kind
from retrieval.snapshot import Snapshot, gathered
from retrieval.types import AnswerSentence


class ScoredSentence(NamedTuple):
    """A sentence of a shortlisted passage, with its score against the question (a named tuple:
    a question makes a few hundred of them)."""

    row: int
    start: int
    end: int
    score: float
    opens_list: bool  # the sentence announces a list ("… the following:")
    coverage: float = 0.0  # share of the question's IDF weight it holds, with its heading


def weighted_terms(question: str, snapshot: Snapshot) -> dict[int, float]:
    """The question's term ids with their IDF (a term no passage holds weighs 0)."""
    return {
        snapshot.vocabulary.get(t, -1): snapshot.lexical.idf(t)
        for t in sorted(set(terms(question)))
    }


def coverage(weights: dict[int, float], present: frozenset[int]) -> float:
    """Share of the question's IDF weight whose terms are among ``present``."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if t in present) / total


def score_sentences(
    shape, snapshot, rows, weights, query_vector, embedder, params: Params, labelled=None
) -> list[ScoredSentence]:
    """Each choosable sentence of ``rows``: cosine to the question, term coverage with its
    heading, and the bonus for holding the kind of answer asked for. ``labelled``: (rows,
    term ids) that those rows' sentences hold as their label (the number of the part they lie
    under) whether or not they repeat it."""
    table = snapshot.analysis.sentences
    of_rows = np.asarray(rows, dtype=np.int64)
    indices, owner = gathered(table.first, of_rows)
    scored = table.scored[indices]
    owners, indices = of_rows[owner][scored], indices[scored]
    if not len(indices):
        return []
    vectors = np.array(snapshot.sentence_vectors[indices])
    pending = np.flatnonzero(~snapshot.sentence_ready[indices])
    if len(pending):  # the build's sentence pass has not reached these yet
        texts = [_text(snapshot, int(owners[k]), int(indices[k])) for k in pending]
        vectors[pending] = embedder.embed(texts)
    total = sum(weights.values())
    covered = table.terms.weight_held(indices, weights) / total if total else np.zeros(len(indices))
    if labelled and total:
        under, label = labelled
        unlabelled = {t: w for t, w in weights.items() if t not in label}
        as_labelled = (
            table.terms.weight_held(indices, unlabelled) + total - sum(unlabelled.values())
        )
        covered = np.where(np.isin(owners, list(under)), as_labelled / total, covered)
    scores = vectors @ query_vector + params.lexical_weight * covered
    if shape:
        held = [
            bool(shape.search(_text(snapshot, r, i))) for r, i in zip(owners, indices, strict=True)
        ]
        scores = scores + params.shape_weight * np.array(held)
    return [
        ScoredSentence(*fields)
        for fields in zip(
            owners.tolist(),
            table.start[indices].tolist(),
            table.end[indices].tolist(),
            scores.tolist(),
            table.opens_list[indices].tolist(),
            covered.tolist(),
            strict=True,
        )
    ]


def opening_first(
    sentences: list[ScoredSentence], openings: dict[int, int], params: Params
) -> list[ScoredSentence]:
    """The opening sentence of each part a question cites (``openings``: row -> where in it
    the part opens) scores ``params.opening_weight`` higher: it says what the part is about."""
    first: dict[int, ScoredSentence] = {}
    for s in sentences:
        opens_at = openings.get(s.row)
        if (
            opens_at is not None
            and s.start >= opens_at
            and (s.row not in first or s.start < first[s.row].start)
        ):
            first[s.row] = s
    lifted = set(first.values())
    return [
        s._replace(score=s.score + params.opening_weight) if s in lifted else s for s in sentences
    ]


def _text(snapshot: Snapshot, row: int, sentence: int) -> str:
    table = snapshot.analysis.sentences
    return snapshot.passages[row].text[table.start[sentence] : table.end[sentence]]


def pick_sentences(
    sentences: list[ScoredSentence],
    best_in_row: dict[int, ScoredSentence],
    shown: list[int],
    params: Params,
    doc_of: dict[int, str],
    compared: tuple[str, ...] = (),
) -> list[ScoredSentence]:
    """The best sentence of each shown passage, while close to the overall best. One from
    another document than the best sentence's joins only when it too holds the question's key
    terms. A sentence that announces a list ("… as follows:") brings the next sentence along.
    ``compared``: the documents a question names together ("do EO 14110 and SB 53 both …"):
    the answer opens with the best sentence of each and quotes no other document.
    """
    ranked = sorted(
        (best_in_row[row] for row in shown if row in best_in_row),
        key=lambda s: s.score,
        reverse=True,
    )
    ranked = [s for s in ranked if doc_of[s.row] in compared] or ranked
    if not ranked:
        return []
    each = [next((s for s in ranked if doc_of[s.row] == d), None) for d in compared]
    chosen = sorted((s for s in each if s), key=lambda s: s.score, reverse=True)
    chosen = chosen[: params.max_answer_sentences]
    for s in ranked:
        if s in chosen:
            continue
        if (
            s.score < ranked[0].score - params.sentence_margin
            or len(chosen) >= params.max_answer_sentences
        ):
            break
        other_document = doc_of[s.row] != doc_of[ranked[0].row]
        if other_document and not compared and s.coverage < params.other_document_coverage:
            continue
        chosen.append(s)
        following = [t for t in sentences if t.row == s.row and t.start >= s.end]
        if s.opens_list and following and len(chosen) < params.max_answer_sentences:
            chosen.append(min(following, key=lambda t: t.start))
    order = {row: i for i, row in enumerate(shown)}
    return sorted(chosen, key=lambda s: (order[s.row], s.start))


def list_intro(
    top: int,
    best_in_row: dict[int, ScoredSentence],
    sentences: list[ScoredSentence],
    snapshot: Snapshot,
    params: Params,
) -> ScoredSentence | None:
    """The sentence of the best passage that announces a list the answer is made of: its best
    sentence, or a later one within ``params.sentence_margin`` of it that no list item comes
    before ("The quality of AI red-teaming outputs is related to … Various types of AI
    red-teaming may be appropriate …:"); None when neither announces one. An item in between
    is another list's: a statute's definitions before the next section's duties."""
    best = best_in_row.get(top)
    if best is None or best.opens_list:
        return best
    table = snapshot.analysis.sentences
    scored = {s.start: s for s in sentences if s.row == top}
    for i in table.of(top):
        if table.start[i] < best.end:
            continue
        s = scored.get(int(table.start[i]))
        if s and s.opens_list and s.score >= best.score - params.sentence_margin:
            return s
        if table.item[i]:
            return None
    return None


def list_items(
    intro: ScoredSentence,
    continuation: list[int],
    snapshot: Snapshot,
    params: Params,
    shape: re.Pattern[str] | None = None,
) -> list[ScoredSentence]:
    """The items of the list ``intro`` announces ("… including any use in:"), from its passage
    and the passages that carry it on. Items that follow one another are quoted as one ("(A)
    sentencing; (B) parole, …"), up to ``params.list_quote_chars``, so that a long list fits
    the answer's few quotes; an item that goes on in prose ends its quote. The announcing
    sentence leads them when it holds the ``shape`` asked for ("“Catastrophic risk” means …
    any of the following:")."""
    top = intro.row
    announcing = snapshot.passages[top].text[intro.start : intro.end]
    runs = _item_runs(top, continuation, intro.end, marker_kind(announcing), snapshot, params)
    items = [ScoredSentence(row, start, end, intro.score, False) for row, start, end in runs]
    if items and shape and shape.search(announcing):
        items.insert(0, intro)
    return items[: params.max_answer_sentences]


def _item_runs(
    top: int,
    continuation: list[int],
    after: int,
    own_kind: str | None,
    snapshot: Snapshot,
    params: Params,
) -> list[list[int]]:
    """[row, start, end] of each run of list items after offset ``after`` of ``top``. The list
    ends at the next item of the announcing sentence's own marker kind ("(ii)" after "(i) …
    including any use in:"), its sibling."""
    table = snapshot.analysis.sentences
    runs: list[list[int]] = []
    for row in (top, *continuation):
        text, joinable = snapshot.passages[row].text, False
        for i in table.of(row):
            start, end = int(table.start[i]), int(table.end[i])
            if row == top and start < after:
                continue
            if table.item[i] and own_kind and marker_kind(text[start:end]) == own_kind:
                return runs
            if not table.item[i]:
                joinable = False
            elif joinable and end - runs[-1][1] <= params.list_quote_chars:
                runs[-1][2] = end
            else:
                runs.append([row, start, end])
                joinable = True
    return runs


def part_first(
    sentences: tuple[AnswerSentence, ...],
    snapshot: Snapshot,
    ranked: list[int],
    params: Params,
    kind: str = "",
) -> tuple[AnswerSentence, ...]:
    """For "which article …?", the part the first quote lies in, named before the quotes: the
    part is the answer, the quote its evidence. For "which appendix …?" (``kind``), the part of
    the first quote that lies in an appendix, when one does."""
    parts = [
        (s, snapshot.parts.part_at(ranked[s.source - 1], s.start))
        for s in sentences
        if s.kind == "quote"
    ]
    of_kind = [(s, part) for s, part in parts if kind and names_a_part(part, kind)]
    quote, part = (of_kind or parts or [(None, "")])[0]
    if not part:
        return sentences
    named = AnswerSentence(part.rstrip(":"), quote.source, kind="part")
    return (named, *sentences[: params.max_answer_sentences - 1])


def status_first(
    sentences: tuple[AnswerSentence, ...],
    doc_id: str,
    ranked: list[int],
    snapshot: Snapshot,
    params: Params,
) -> tuple[AnswerSentence, ...]:
    """The named document's recorded status, in words, before the quotes."""
    document = snapshot.documents[doc_id]
    source = next((i for i, r in enumerate(ranked) if snapshot.passages[r].doc_id == doc_id), None)
    if not document.status or source is None:
        return sentences
    status = AnswerSentence(f"{document.title}: {document.status}.", source + 1, kind="status")
    return (status, *sentences[: params.max_answer_sentences - 1])
