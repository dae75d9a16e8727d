"""One published build in memory, and what is computed for it at index time.

Everything the answer step needs per passage or per sentence (term sets, sentence spans and
their vectors, whether a passage says more than its labels) is computed when the build is made,
so a question costs one embedding and some array lookups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from retrieval.lexical import LexicalIndex, terms
from retrieval.names import DocumentNames
from retrieval.sentences import (
    cites_a_work,
    introduces_list,
    lists_contents,
    sentence_spans,
    starts_list_item,
)
from retrieval.spelling import Spelling
from retrieval.title_names import COMMON_TITLE_WORD_SHARE, TitleNames
from retrieval.types import DocumentInfo
from retrieval.vectors import nearest

if TYPE_CHECKING:
    from retrieval.part_index import PartIndex

MIN_SENTENCE_WORDS = 3  # shorter spans ("(a)", "Article 5") are never chosen as an answer


@dataclass(frozen=True)
class StoredPassage:
    """A chunk as the snapshot keeps it: enough to quote and cite without the database."""

    chunk_id: str
    doc_id: str
    heading: str
    start: int
    end: int
    text: str


def gathered(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``offsets[r]:offsets[r + 1]`` of each of ``rows``, concatenated in order,
    and for each position the index into ``rows`` it belongs to (no Python loop over rows)."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    positions = np.arange(int(lengths.sum())) + np.repeat(
        starts - np.cumsum(lengths) + lengths, lengths
    )
    return positions, np.repeat(np.arange(len(rows)), lengths)


@dataclass(frozen=True)
class TermSets:
    """Stemmed term ids per row: row r holds ``ids[offsets[r]:offsets[r + 1]]``."""

    offsets: np.ndarray
    ids: np.ndarray

    def of(self, row: int) -> frozenset[int]:
        return frozenset(self.ids[self.offsets[row] : self.offsets[row + 1]].tolist())

    def weight_held(self, rows: np.ndarray, weights: dict[int, float]) -> np.ndarray:
        """For each of ``rows``, the summed weight of the terms it holds: one pass over their
        ids per weighted term instead of a set per row (the answer step scores a few hundred
        sentences)."""
        positions, owner = gathered(self.offsets, rows)
        held = self.ids[positions]
        found = np.zeros(len(held))
        for term, weight in weights.items():
            found[held == term] = weight
        return np.bincount(owner, found, minlength=len(rows))

    @classmethod
    def build(cls, rows: Sequence[Sequence[int]]) -> TermSets:
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(r) for r in rows])
        ids = np.fromiter((t for r in rows for t in r), dtype=np.int32, count=int(offsets[-1]))
        return cls(offsets, ids)


@dataclass(frozen=True)
class SentenceTable:
    """Every sentence span of every passage, in passage order.

    Passage r's sentences are ``first[r]:first[r + 1]``; offsets are into the passage text.
    A scored sentence (at least ``MIN_SENTENCE_WORDS`` words, more than its title and heading say
    ("Policy and Principles.", a title line), no citation of a publication and no contents entry)
    is one the answer can choose.
    """

    first: np.ndarray
    start: np.ndarray
    end: np.ndarray
    scored: np.ndarray
    opens_list: np.ndarray
    item: np.ndarray
    terms: TermSets  # of "heading\nsentence"

    def of(self, row: int) -> range:
        return range(int(self.first[row]), int(self.first[row + 1]))

    def __len__(self) -> int:
        return len(self.start)


@dataclass(frozen=True)
class Analysis:
    """What is computed from the passages' text when a build is made."""

    vocabulary: list[str]
    passage_terms: TermSets  # of "title\nheading\ntext"
    informative: np.ndarray  # False where a passage only repeats its title or heading
    sentences: SentenceTable

    @cached_property
    def _passage_counts(self) -> np.ndarray:
        return np.bincount(self.passage_terms.ids, minlength=len(self.vocabulary))

    def passage_share(self, term_id: int) -> float:
        """The share of passages that hold the term."""
        return float(self._passage_counts[term_id]) / max(1, len(self.informative))

    @cached_property
    def _sentence_counts(self) -> np.ndarray:
        return np.bincount(self.sentences.terms.ids, minlength=len(self.vocabulary))

    def sentence_share(self, term_id: int) -> float:
        """The share of sentences that hold the term: unlike a passage's, a sentence's terms
        leave out its document's title."""
        return float(self._sentence_counts[term_id]) / max(1, len(self.sentences))

    def sentence_texts(self, passages: Sequence[StoredPassage]) -> list[str]:
        table = self.sentences
        rows = np.repeat(np.arange(len(passages)), np.diff(table.first))
        return [passages[r].text[s:e] for r, s, e in zip(rows, table.start, table.end, strict=True)]


def analyse(passages: Sequence[StoredPassage], titles: dict[str, str]) -> Analysis:
    """Term sets, sentence spans and labels of every passage."""
    vocabulary: dict[str, int] = {}

    def ids(text: str) -> list[int]:
        return sorted({vocabulary.setdefault(t, len(vocabulary)) for t in terms(text)})

    passage_rows, informative, sentence_rows = [], [], []
    first, starts, ends, scored, opens, items = [0], [], [], [], [], []
    for passage in passages:
        title = titles[passage.doc_id]
        passage_rows.append(ids(f"{title}\n{passage.heading}\n{passage.text}"))
        labels = set(terms(f"{title}\n{passage.heading}"))
        informative.append(not set(terms(passage.text)) <= labels)
        for s, e in sentence_spans(passage.text):
            text = passage.text[s:e]
            starts.append(s)
            ends.append(e)
            scored.append(
                len(text.split()) >= MIN_SENTENCE_WORDS
                and not set(terms(text)) <= labels
                and not cites_a_work(text)
                and not lists_contents(text)
            )
            opens.append(introduces_list(text))
            items.append(starts_list_item(text))
            sentence_rows.append(ids(f"{passage.heading}\n{text}"))
        first.append(len(starts))
    table = SentenceTable(
        first=np.array(first, dtype=np.int64),
        start=np.array(starts, dtype=np.int32),
        end=np.array(ends, dtype=np.int32),
        scored=np.array(scored, dtype=bool),
        opens_list=np.array(opens, dtype=bool),
        item=np.array(items, dtype=bool),
        terms=TermSets.build(sentence_rows),
    )
    return Analysis(
        list(vocabulary), TermSets.build(passage_rows), np.array(informative, dtype=bool), table
    )


@dataclass
class Snapshot:
    """One published build, loaded: immutable while questions run against it."""

    manifest: object  # manifest.Manifest
    passages: list[StoredPassage]
    documents: dict[str, DocumentInfo]
    search_index: object  # a faiss.Index over the passage vectors
    passage_vectors: np.ndarray  # (passages, dimension), memory-mapped
    lexical: LexicalIndex
    analysis: Analysis
    sentence_vectors: np.ndarray  # (sentences, dimension), memory-mapped
    sentence_ready: np.ndarray  # False where a sentence's vector is not computed yet
    names: DocumentNames
    spelling: Spelling  # the corpus's words, for typos and for terms it lacks
    vocabulary: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.vocabulary = {term: i for i, term in enumerate(self.analysis.vocabulary)}

    @cached_property
    def rows_by_chunk(self) -> dict[str, int]:
        return {p.chunk_id: row for row, p in enumerate(self.passages)}

    @cached_property
    def _rows_by_document(self) -> dict[str, np.ndarray]:
        rows: dict[str, list[int]] = {}
        for row, passage in enumerate(self.passages):
            rows.setdefault(passage.doc_id, []).append(row)
        arrays = {doc_id: np.array(of_doc, dtype=np.int64) for doc_id, of_doc in rows.items()}
        for array in arrays.values():
            array.flags.writeable = False  # rows_of hands them out as they are
        return arrays

    def rows_of(self, doc_ids: set[str]) -> np.ndarray:
        """The rows of these documents' passages, in order."""
        by_document = self._rows_by_document
        found = [by_document[d] for d in doc_ids if d in by_document]
        if len(found) < 2:  # one document's rows are already in order
            return found[0] if found else np.empty(0, dtype=np.int64)
        return np.sort(np.concatenate(found))

    @cached_property
    def parts(self) -> PartIndex:
        """Where each document's numbered parts and overview sections lie."""
        from retrieval.part_index import PartIndex  # it reads a Snapshot: imported once built

        return PartIndex(self)

    def next_row(self, row: int) -> int | None:
        """The passage that follows ``row`` in its document (passages are stored in order)."""
        following = row + 1
        same = following < len(self.passages) and (
            self.passages[following].doc_id == self.passages[row].doc_id
        )
        return following if same else None

    @cached_property
    def _title_names(self) -> TitleNames:
        def common(term: str) -> bool:
            at = self.vocabulary.get(term)  # None: no passage holds it ("EO" of a title)
            return at is not None and self.analysis.sentence_share(at) > COMMON_TITLE_WORD_SHARE

        titles = {d: info.title for d, info in self.documents.items()}
        publishers = {d: info.publisher for d, info in self.documents.items()}
        dates = {d: info.date for d, info in self.documents.items()}
        return TitleNames.build(titles, publishers, dates, common)

    def named_in(self, question: str) -> list[str]:
        """The documents a question names: by a name (a number, a short title, an alias), then
        by words of a title that no other title holds."""
        named = self.names.named_in(question)
        return named + [d for d in self._title_names.named_in(question) if d not in named]

    def context_terms(self, row: int) -> frozenset[int]:
        """The passage's terms, with those of the passage before it under the same heading: a
        chunk that goes on from the previous one ("More details … at ai.gov/input") rarely
        repeats what it is about. dev2: answer_hit@1 +2 questions on the tuning half and +1 on
        the confirming half; taking the next passage too gains nothing and loses one."""
        own = self.analysis.passage_terms.of(row)
        if row == 0 or not self.same_section(row - 1, row):
            return own
        return own | self.analysis.passage_terms.of(row - 1)

    def same_section(self, row: int, other: int) -> bool:
        """True when both passages are of one document and under one heading."""
        first, second = self.passages[row], self.passages[other]
        return (first.doc_id, first.heading) == (second.doc_id, second.heading)

    def term_ids(self, text: str) -> list[int]:
        """The vocabulary ids of the text's terms; -1 for a term no passage holds."""
        return [self.vocabulary.get(t, -1) for t in terms(text)]

    def dense_scores(self, query_vector: np.ndarray, k: int, allowed: np.ndarray | None):
        """(rows, cosine scores) of the k nearest passages, restricted to ``allowed`` rows."""
        return nearest(self.search_index, self.passage_vectors, query_vector, k, allowed)
