"""Quality measures over a question file (format: ../shared/eval/README.md)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.errors import PolicyBotError
from retrieval.types import Answer, Passage

_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_SINGLE_QUOTES = re.compile(r"[\u2018\u2019\u201a\u201b\u2032]")
_DOUBLE_QUOTES = re.compile(r"[\u201c\u201d\u201e\u201f\u2033]")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list[list[str]]
    docs: list[str]
    answerable: bool
    kind: str = ""


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question file, naming the line of any malformed entry."""
    questions = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise PolicyBotError(f"Cannot read {path}: {err.strerror}.") from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            questions.append(
                Question(**{k: data[k] for k in Question.__dataclass_fields__ if k in data})
            )
        except (ValueError, TypeError) as err:
            raise PolicyBotError(f"{path}:{number} is not a valid question line ({err}).") from err
    if not questions:
        raise PolicyBotError(f"{path} holds no questions.")
    return questions


def fold(text: str) -> str:
    """Case, whitespace, dash and quote variants folded, as the eval format specifies."""
    text = _DOUBLE_QUOTES.sub('"', _SINGLE_QUOTES.sub("'", _DASHES.sub("-", text)))
    return " ".join(text.lower().split())


def matches(text: str, groups: list[list[str]]) -> bool:
    """True when, for every group, one of its alternatives occurs in ``text``."""
    folded = fold(text)
    return bool(groups) and all(any(fold(alt) in folded for alt in group) for group in groups)


def ranked_passages(answer: Answer) -> tuple[Passage, ...]:
    """The passages that count as the answer's sources: none when it says there is no answer
    (its closest passages are offered as such, not as an answer)."""
    return () if answer.abstained else answer.passages + answer.more


def shown_text(answer: Answer, passages: int) -> str:
    """The answer (at most three sentences) and the first passages, as a user sees them."""
    shown = ranked_passages(answer)[:passages]
    return "\n".join([answer.text] + [f"{p.heading}\n{p.text}" for p in shown])


def half_of(question_id: str) -> str:
    """ "tuning" or "confirming": a fixed split by a hash of the id, so it never moves."""
    digest = hashlib.sha256(question_id.encode("utf-8")).digest()
    return "tuning" if digest[0] % 2 == 0 else "confirming"


def measures(questions: list[Question], answers: list[Answer]) -> dict:
    """The measures of ../shared/eval/README.md over these questions."""
    pairs = list(zip(questions, answers, strict=True))
    answerable = [(q, a) for q, a in pairs if q.answerable]
    ranks = [gold_rank(q, a) for q, a in answerable]
    hits1 = [matches(shown_text(a, 1), q.answers) for q, a in answerable]
    hits5 = [matches(shown_text(a, 5), q.answers) for q, a in answerable]
    abstained = [q for q, a in pairs if a.abstained]
    unanswerable = [q for q in questions if not q.answerable]
    right_abstentions = sum(not q.answerable for q in abstained)
    latencies = [a.elapsed_ms for a in answers] or [0.0]
    n = len(answerable) or 1

    def share(count: float, total: int) -> float:
        return round(count / total, 3) if total else 0.0

    return {
        "n": len(questions),
        "doc_recall@1": share(sum(r == 1 for r in ranks), n),
        "doc_recall@5": share(sum(r is not None and r <= 5 for r in ranks), n),
        "mrr": share(sum(1 / r for r in ranks if r), n),
        "answer_hit@1": share(sum(hits1), n),
        "answer_hit@5": share(sum(hits5), n),
        "abstain_precision": share(right_abstentions, len(abstained)),
        "abstain_recall": share(right_abstentions, len(unanswerable)),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1),
    }


def gold_rank(question: Question, answer: Answer) -> int | None:
    """Rank (1-based) of the first passage from a gold document in the top 10, if any."""
    listed = ranked_passages(answer)[:10]
    return next((i for i, p in enumerate(listed, 1) if p.document.doc_id in question.docs), None)


def detail(question: Question, answer: Answer) -> dict:
    """One question's outcome and why: the gold document's rank, the chosen sentences with
    their scores, and for a "no answer" reply the signal that decided it."""
    reasons = answer.reasons
    row = {
        "id": question.id,
        "half": half_of(question.id),
        "kind": question.kind,
        "answerable": question.answerable,
        "abstained": answer.abstained,
        "decided_by": reasons.decided_by if reasons else "",
        "support": round(reasons.support, 3) if reasons else None,
        "needed": round(reasons.needed, 3) if reasons else None,
        "named": list(reasons.named) if reasons else [],
    }
    if question.answerable:
        row |= {
            "gold_rank": gold_rank(question, answer),
            "hit1": matches(shown_text(answer, 1), question.answers),
            "hit5": matches(shown_text(answer, 5), question.answers),
        }
    scores = reasons.sentence_scores if reasons else ()
    row["sentences"] = [
        {"source": s.source, "score": round(score, 3), "text": s.text[:160]}
        for s, score in zip(answer.sentences, scores, strict=False)
    ]
    return row
