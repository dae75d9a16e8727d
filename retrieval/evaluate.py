"""Quality measures over a question file (format: ../shared/eval/README.md)."""

from __future__ import annotations

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


def score(questions: list[Question], answers: list[Answer]) -> tuple[dict, list[dict]]:
    """The measures over all questions, and one detail row per question."""
    answerable = [(q, a) for q, a in zip(questions, answers, strict=True) if q.answerable]
    details = []
    recall1 = recall5 = reciprocal = hit1 = hit5 = 0.0
    for q, a in answerable:
        listed = ranked_passages(a)[:10]
        ranks = [i for i, p in enumerate(listed, 1) if p.document.doc_id in q.docs]
        first = ranks[0] if ranks else None
        recall1 += first == 1
        recall5 += first is not None and first <= 5
        reciprocal += 1 / first if first else 0.0
        h1, h5 = matches(shown_text(a, 1), q.answers), matches(shown_text(a, 5), q.answers)
        hit1 += h1
        hit5 += h5
        details.append(
            {"id": q.id, "gold_rank": first, "hit1": h1, "hit5": h5, "abstained": a.abstained}
        )
    abstained = [q for q, a in zip(questions, answers, strict=True) if a.abstained]
    unanswerable = [q for q in questions if not q.answerable]
    correct_abstentions = sum(not q.answerable for q in abstained)
    details += [
        {"id": q.id, "abstained": a.abstained}
        for q, a in zip(questions, answers, strict=True)
        if not q.answerable
    ]
    latencies = [a.elapsed_ms for a in answers]
    n = len(answerable) or 1
    measures = {
        "n": len(questions),
        "doc_recall@1": round(recall1 / n, 3),
        "doc_recall@5": round(recall5 / n, 3),
        "mrr": round(reciprocal / n, 3),
        "answer_hit@1": round(hit1 / n, 3),
        "answer_hit@5": round(hit5 / n, 3),
        "abstain_precision": round(correct_abstentions / len(abstained), 3) if abstained else 0.0,
        "abstain_recall": round(correct_abstentions / len(unanswerable), 3)
        if unanswerable
        else 0.0,
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1),
    }
    return measures, details
