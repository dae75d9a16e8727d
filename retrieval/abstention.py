"""Whether the corpus answers a question at all, and which signal says it does not.

Seven signals, in order: a name-like word or a lower-case owner the corpus lacks in every form
("TRAIGA", "Apulia", "illinois' law"); an owner the corpus writes as a name ("Australia's
standard", "china's rules") that none of the best passages' documents mentions; a month the
question names ("in February 2025") that no pooled passage mentions and no pooled passage's
document is dated, so the event it asks about is not in them; a question for an amount of money ("how much did it cost …?") or for how things
stand ("how many … so far?", "… yet?") that no leading passage states; passages that are about
something else (low cosine); and weak support (cosine plus the share of the question's IDF
weight a passage holds), judged against a higher bar when a distinctive name of the question
occurs in none of the leading passages nor their documents' titles. Weak support is overruled
when one passage stands far ahead of every other: a paraphrase shares few words with the
passage it asks about, and near-topic questions the corpus does not answer are near many. A name is matched by its
word, and an acronym also by the words it abbreviates ("EO" by "Executive Order", "UNGA" by
"UN General Assembly").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from retrieval.absent_names import name_like_tokens, owners
from retrieval.answer_types import ASKS_FOR_MONEY, MONEY
from retrieval.lexical import terms
from retrieval.names import initialisms
from retrieval.params import Params
from retrieval.snapshot import Snapshot
from retrieval.spelling import DAY, MONTHS, month_pattern, months_named

# A term in more than this share of passages names nothing in particular ("AI", "EU").
COMMON_TERM_SHARE = 0.1
# "How many … so far?", "… to date", "has anyone been fined yet?": the state of things when
# asked, which a passage states only where it says how things stand at its own date.
_ASKS_HOW_THINGS_STAND = re.compile(
    r"\bso far\b|\bto date\b|\bas of (?:now|today)\b|\byet\s*(?:[?.!,]|$)", re.I
)
_STANDING = re.compile(r"(?<!\bin )\bso far\b(?! as\b)|(?<!\bup )\bto date\b|\bthus far\b", re.I)
_STATED_FORMS = (
    (ASKS_FOR_MONEY, MONEY, "no amount of money in the leading passages"),
    (_ASKS_HOW_THINGS_STAND, _STANDING, "no leading passage says how things stand"),
)


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
    dense_lead: float,
    pooled_rows: list[int],
    context_terms: dict[int, frozenset[int]],
    missing: tuple[str, ...],
    params: Params,
    offset: float,
    status_named: bool = False,
) -> Verdict:
    """The abstention decision; ``offset`` is the operator's POLICYBOT_MIN_SUPPORT.
    ``status_named``: the question asks a named document's status, which its recorded status
    answers however weakly its passages match ("… still in force or did it get revoked?").
    ``dense_lead``: how far the nearest passage's cosine is ahead of the next one's.
    ``context_terms``: the term ids each pooled passage holds, its document's names included."""
    leading_rows = pooled_rows[: params.leading]
    leading_terms = set().union(*(context_terms[row] for row in leading_rows))
    unmatched = [
        name
        for name in distinctive_names(question, snapshot)
        if not _matched(name, snapshot, leading_rows, leading_terms)
    ]
    needed = (params.named_support if unmatched else params.min_support) + offset
    if missing:
        return Verdict(True, f"absent from the corpus: {', '.join(missing)}", support, needed)
    absent = unmentioned_owners(question, snapshot, pooled_rows[: params.owner_rows], context_terms)
    if absent:
        why = f"in none of the best passages' documents: {', '.join(absent)}"
        return Verdict(True, why, support, needed)
    months = unmatched_months(question, snapshot, pooled_rows)
    if months:
        return Verdict(True, f"in no pooled passage: {', '.join(months)}", support, needed)
    if status_named:
        return Verdict(False, "answered from the named document's status", support, needed)
    leading_texts = [snapshot.passages[row].text for row in pooled_rows[: params.stated_rows]]
    for asks, states, why in _STATED_FORMS:
        if asks.search(question) and not any(states.search(text) for text in leading_texts):
            return Verdict(True, why, support, needed)
    if best_dense < params.min_dense + offset:
        return Verdict(True, f"about something else: cosine {best_dense:.2f}", support, needed)
    if support < needed and not unmatched and dense_lead >= params.standout_lead:
        why = f"answered: one passage stands out (cosine lead {dense_lead:.2f})"
        return Verdict(False, why, support, needed)
    if support < needed:
        why = f" (not in the leading passages: {', '.join(unmatched)})" if unmatched else ""
        return Verdict(True, f"weak support {support:.2f} < {needed:.2f}{why}", support, needed)
    return Verdict(False, "answered", support, needed)


def unmatched_months(question: str, snapshot: Snapshot, rows: list[int]) -> list[str]:
    """The months the question names that none of ``rows`` mentions ("2 February 2025",
    "February 2025", "2025-02"), none of their documents is dated and none of their recorded
    statuses names ("in force since 2024-08-01")."""
    unmatched = []
    documents = {snapshot.documents[snapshot.passages[row].doc_id] for row in rows}
    for match, iso in months_named(question):
        year, month = match.group(2), month_pattern(MONTHS[int(iso[5:]) - 1])
        mention = re.compile(
            rf"\b{month}\s+(?:{DAY}\s+)?{year}\b|\b{DAY}\s+{month},?\s+{year}\b|\b{iso}\b",
            re.IGNORECASE,
        )
        if not any(mention.search(snapshot.passages[row].text) for row in rows) and not any(
            d.date.startswith(iso) or mention.search(d.status) for d in documents
        ):
            unmatched.append(match.group(0))
    return unmatched


# Passages read to see how the corpus writes a word: as a name ("China") or not ("labs").
CAPITALS_READ = 20


def unmentioned_owners(
    question: str, snapshot: Snapshot, rows: list[int], context_terms: dict[int, frozenset[int]]
) -> list[str]:
    """The question's named owners that neither these passages (their documents' names
    included) nor any other passage of their documents mentions."""
    owners_named = named_owners(question, snapshot)
    if not owners_named:  # most questions: nothing to read
        return []
    terms_held = set().union(*(context_terms[row] for row in rows))
    their_rows = snapshot.rows_of({snapshot.passages[row].doc_id for row in rows})
    return [
        owner
        for owner in owners_named
        if not _matched(owner, snapshot, rows, terms_held)
        and not np.intersect1d(snapshot.lexical.rows_with(terms(owner)[0]), their_rows).size
    ]


def named_owners(question: str, snapshot: Snapshot) -> list[str]:
    """The question's possessive owners that the corpus writes as names, mostly capitalised
    ("Australia's", "china's"; not "vets'", "lab's"), and not so common that they name
    nothing in particular."""
    found = []
    for owner, _ in owners(question):
        stems = terms(owner)
        ids = [t for t in snapshot.term_ids(owner) if t >= 0]
        if len(stems) != 1 or len(ids) != 1:
            continue
        if snapshot.analysis.passage_share(ids[0]) > COMMON_TERM_SHARE:
            continue
        spelled = re.compile(rf"\b{re.escape(owner)}s?\b", re.IGNORECASE)
        rows = snapshot.lexical.rows_with(stems[0])[:CAPITALS_READ].tolist()
        forms = [m.group(0) for r in rows for m in spelled.finditer(snapshot.passages[r].text)]
        if forms and sum(f[:1].isupper() for f in forms) > len(forms) / 2:
            found.append(owner)
    return found


def distinctive_names(question: str, snapshot: Snapshot) -> list[str]:
    """Name-like words of the question that single out what it is about, a model or a product
    code among them ("GPT-4", "H100"): not dates or counts, and not words so common in the
    corpus that every passage is near them ("AI")."""
    names = []
    for token in name_like_tokens(question):
        ids = [t for t in snapshot.term_ids(token) if t >= 0]
        if any(c.isdigit() for c in token) and not token[:1].isalpha():
            continue  # dates and counts ("2025", "10-year") say when or how much, not what
        if ids and all(snapshot.analysis.passage_share(t) > COMMON_TERM_SHARE for t in ids):
            continue
        names.append(token)
    return names


def _matched(name: str, snapshot: Snapshot, rows: list[int], terms: set[int]) -> bool:
    """True when the passages, or the titles or publishers of their documents, hold the name: a
    passage rarely repeats the name of its document ("EO" of "Executive Order 14110", "G7" of
    the Hiroshima code)."""
    documents = {snapshot.documents[snapshot.passages[row].doc_id] for row in rows}
    titles = {f"{d.title} {d.publisher}" for d in documents}
    ids = snapshot.term_ids(name)
    if ids and set(ids) <= terms | set(snapshot.term_ids(" ".join(titles))):
        return True
    if not name.isupper() or len(name) < 2:
        return False
    long_form = snapshot.names.long_forms.get(name)
    for text in [snapshot.passages[row].text for row in rows] + sorted(titles):
        if name.lower() in initialisms(text) or (long_form and long_form.lower() in text.lower()):
            return True
    return False
