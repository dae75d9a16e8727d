"""Whether the corpus answers a question at all, and which signal says it does not.

Three signals, in order: a name-like word the corpus lacks in every form ("TRAIGA", "Apulia");
passages that are about something else (low cosine); and weak support (cosine plus the share of
the question's IDF weight a passage holds), judged against a higher bar when a distinctive name
of the question occurs in none of the leading passages. A name is matched by its word, and an
acronym also by the words it abbreviates ("EO" by "Executive Order").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.params import Params
from retrieval.snapshot import Snapshot
from retrieval.spelling import name_like_tokens

_MONTHS_AND_DAYS = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)
_SMALL = r"(?:(?:of|and|the|for|on|in)\s+)?"
# A term in more than this share of passages names nothing in particular ("AI", "EU").
COMMON_TERM_SHARE = 0.1


@dataclass(frozen=True)
class Verdict:
    abstain: bool
    decided_by: str  # "answered", or the signal that said there is no answer
    support: float
    needed: float


def judge(
    question: str,
    snapshot: Snapshot,
    *,
    support: float,
    best_dense: float,
    leading_rows: list[int],
    leading_terms: set[int],
    missing: tuple[str, ...],
    params: Params,
    offset: float,
) -> Verdict:
    """The abstention decision; ``offset`` is the operator's POLICYBOT_MIN_SUPPORT."""
    unmatched = [
        name
        for name in distinctive_names(question, snapshot)
        if not _matched(name, snapshot, leading_rows, leading_terms)
    ]
    needed = (params.named_support if unmatched else params.min_support) + offset
    if missing:
        return Verdict(True, f"absent from the corpus: {', '.join(missing)}", support, needed)
    if best_dense < params.min_dense + offset:
        return Verdict(True, f"about something else: cosine {best_dense:.2f}", support, needed)
    if support < needed:
        why = f" (not in the leading passages: {', '.join(unmatched)})" if unmatched else ""
        return Verdict(True, f"weak support {support:.2f} < {needed:.2f}{why}", support, needed)
    return Verdict(False, "answered", support, needed)


def distinctive_names(question: str, snapshot: Snapshot) -> list[str]:
    """Name-like words of the question that single out what it is about: not months or days,
    and not words so common in the corpus that every passage is near them ("AI")."""
    names = []
    for token in name_like_tokens(question):
        ids = [t for t in snapshot.term_ids(token) if t >= 0]
        if token.lower() in _MONTHS_AND_DAYS or any(c.isdigit() for c in token):
            continue  # dates, counts and codes say when or how much, not what
        if ids and all(snapshot.analysis.passage_share(t) > COMMON_TERM_SHARE for t in ids):
            continue
        names.append(token)
    return names


def _matched(name: str, snapshot: Snapshot, rows: list[int], terms: set[int]) -> bool:
    ids = snapshot.term_ids(name)
    if ids and all(t in terms for t in ids):
        return True
    if not name.isupper() or len(name) < 2:
        return False
    long_form = snapshot.names.long_forms.get(name)
    initials = _SMALL.join(rf"{letter}[\w’'-]*\s+" for letter in name).removesuffix(r"\s+")
    pattern = re.compile(rf"\b{initials}\b")
    for row in rows:
        text = snapshot.passages[row].text
        if pattern.search(text) or (long_form and long_form.lower() in text.lower()):
            return True
    return False
