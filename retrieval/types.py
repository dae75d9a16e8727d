"""Plain frozen values that cross layers (engine → CLI, bot, scripts, tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_NOT_CURRENT = re.compile(
    r"\b(revoked|superseded|replaced|rescinded|repealed|withdrawn|expired|draft|proposed|"
    r"not (?:yet )?(?:enacted|in force|adopted))\b",
    re.I,
)


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document and where it came from."""

    doc_id: str
    title: str
    publisher: str = ""
    jurisdiction: str = ""
    date: str = ""  # YYYY-MM-DD, or "" when unknown
    url: str = ""
    status: str = ""
    license: str = ""
    source: str = ""  # file path the text was read from
    chunks: int = 0
    added_by: str = ""
    added_at: datetime | None = None

    @property
    def warning(self) -> str:
        """The status when it says the document is not current (revoked, superseded, a draft,
        not enacted), else ''. Only its first clause counts: "voluntary guidance; (EO 14110 was
        revoked)" speaks of another text. A legal nature (voluntary, non-binding) is no warning."""
        status = self.status.strip()
        first_clause = re.split(r"[;(]", status, maxsplit=1)[0]
        return status if _NOT_CURRENT.search(first_clause) else ""


@dataclass(frozen=True)
class Passage:
    """A verbatim stretch of one document, with the sentence that answers highlighted."""

    chunk_id: str
    document: DocumentInfo
    heading: str  # "Article 5 › Prohibited AI practices", or ""
    text: str  # exactly document_text[start:end]
    start: int
    end: int
    score: float = 0.0
    highlights: tuple[tuple[int, int], ...] = ()  # offsets into ``text``
    link: str = ""  # the document's url, with a #:~:text= fragment where it is a web page


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of the answer, from passage number ``source`` (1-based).

    A quote (``kind`` "quote") is ``passage.text[start:end]``, shown as ``text``: the same words
    without Markdown or line breaks. A "status" sentence states the document's recorded status;
    a "part" sentence names the part of the text the quotes lie in, for "which article …?".
    """

    text: str
    source: int
    start: int = 0
    end: int = 0
    kind: str = "quote"


@dataclass(frozen=True)
class Filters:
    """Which documents a question may be answered from; an empty field does not filter."""

    jurisdiction: str | None = None
    doc_id: str | None = None
    date_from: str | None = None  # YYYY-MM-DD, inclusive
    date_to: str | None = None

    def __bool__(self) -> bool:
        return any((self.jurisdiction, self.doc_id, self.date_from, self.date_to))

    def admits(self, info: DocumentInfo) -> bool:
        return (
            (not self.jurisdiction or info.jurisdiction.lower() == self.jurisdiction.lower())
            and (not self.doc_id or info.doc_id == self.doc_id)
            and (not self.date_from or bool(info.date and info.date >= self.date_from))
            and (not self.date_to or bool(info.date and info.date <= self.date_to))
        )


@dataclass(frozen=True)
class Reasons:
    """Why an answer is what it is (``policybot eval --details`` prints these)."""

    support: float  # the best pooled passage's cosine plus its coverage of the question
    needed: float  # the bar support had to clear
    decided_by: str  # "answered", or the signal that made it say there is no answer
    sentence_scores: tuple[float, ...] = ()  # of the answer sentences, in order
    named: tuple[str, ...] = ()  # documents the question names


@dataclass(frozen=True)
class Answer:
    """What ``ask`` returns: answer sentences first, then the passages that support them."""

    question: str
    sentences: tuple[AnswerSentence, ...]
    passages: tuple[Passage, ...]  # shown with the answer, best first; sources [1], [2], …
    abstained: bool = False
    nearest: tuple[DocumentInfo, ...] = ()  # when abstaining: the closest documents
    elapsed_ms: float = 0.0
    more: tuple[Passage, ...] = ()  # "more sources"; after an abstention, the closest passages
    reasons: Reasons | None = None

    @property
    def text(self) -> str:
        """The answer sentences with citation markers, as one paragraph."""
        return " ".join(f"{s.text} [{s.source}]" for s in self.sentences)


@dataclass(frozen=True)
class AddResult:
    """A document that was added and indexed."""

    document: DocumentInfo
    passages: int
    seconds: float


@dataclass(frozen=True)
class IndexReport:
    """What a (re-)index did."""

    documents: int
    chunks: int
    embedded: int  # chunks whose embeddings were computed this run
    seconds: float
    rebuilt: bool  # False when the published index was already up to date
    skipped: tuple[str, ...] = ()  # "path: reason" for files that could not be indexed
    build_id: str = ""
    answerable_seconds: float = 0.0  # until the passages were published and could answer
    sentences_embedded: int = 0


@dataclass(frozen=True)
class Status:
    """The state of the corpus and its published index."""

    documents: int
    chunks: int
    model: str
    dimension: int
    chunker: str
    build_id: str
    built_at: datetime | None
    corpus_dirs: tuple[str, ...] = field(default_factory=tuple)
    database_documents: int = 0
    database: str = ""  # the database URL, password hidden
    problem: str = ""  # what is wrong and the command that fixes it; "" when healthy


@dataclass(frozen=True)
class AdminAction:
    """One recorded admin action."""

    actor: str
    action: str  # add, add_url, remove, reindex
    target: str
    outcome: str  # ok, or the error message
    at: datetime
