"""Which document a question names by words of its title and publisher ("the Hiroshima
code", "the biden EO"), when it gives none of the document's names (names.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import takewhile

from retrieval.lexical import terms
from retrieval.names import LONG_FORMS, normalize
from retrieval.spelling import MONTHS, months_named

# A title word that more than 1 in 50 sentences hold ("AI", "model", "risk", "national") names
# no document, though two of them may both be in one title only ("AI companies"). Sentences,
# not passages: a passage's terms include its title, so in a small corpus, or for a long
# document, every title word would be common. On dev.jsonl, dev2 and four helper sets (446
# questions) the bar 0.01 names 61 documents the question's gold documents hold and 14 they do
# not; 0.02 names 85 and 22; 0.05 names 95 and 33; no bar 106 and 41.
COMMON_TITLE_WORD_SHARE = 0.02
# Names do not run across these: "the G7 code and the UN resolution" names two things.
_NAME_BREAK = re.compile(r"[,;:?!()\"“”]|\b(?:and|or|vs|versus)\b", re.I)
_MONTH_TERMS = frozenset(terms(" ".join(MONTHS)))
# "dec 2025", "Sept." as titles spell them out ("December 11, 2025"); "may" is a stopword.
_MONTH_ABBREVIATION = re.compile(r"\b(jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b")
_MONTH_OF = {m[:3]: m for m in MONTHS} | {"sept": "september"}


def title_terms(text: str) -> list[str]:
    """The stemmed terms of a title or question, with "Artificial Intelligence" as "AI" and
    "Executive Order" as "EO", as people shorten them, and months spelt out."""
    text = normalize(re.sub(r"artificial intelligence", "AI", text, flags=re.I))
    for long_form, short in LONG_FORMS.items():
        text = re.sub(rf"\b{long_form}\b", short, text)
    return terms(_MONTH_ABBREVIATION.sub(lambda m: _MONTH_OF[m.group(1)], text))


@dataclass(frozen=True)
class TitleNames:
    """Which document a question names with words of its title and publisher: "the Hiroshima
    code", "the G7 guiding principles", "trump's 2026 AI legislative framework", "the biden EO".

    A run of consecutive title or publisher words in the question (stopwords aside) names the
    one document whose title and publisher hold the run's longest ending of at least two words,
    so "the G7 Hiroshima code" is the code ("Hiroshima … Code of Conduct"), not the G7 statement
    on Hiroshima. One of those words must be distinctive: not common in passages, not a
    publisher's word ("White House" names a publisher, not one of its texts), not a month or a
    number.
    """

    holding: dict[str, frozenset[str]]  # title or publisher term → the documents holding it
    distinctive: frozenset[str]
    dated: dict[str, frozenset[str]]  # "2025-04" → the documents dated in that month

    @classmethod
    def build(
        cls, titles: dict[str, str], publishers: dict[str, str], dates: dict[str, str], common
    ) -> TitleNames:
        """``publishers``: each document's publisher, whose words count with its title's ("the
        biden EO": the one executive order the publisher "(President Joseph R. Biden Jr.)" holds).
        ``dates``: each document's date (YYYY-MM-DD). ``common(term)`` says whether a term is
        too common in passages to name anything."""
        holding: dict[str, set[str]] = {}
        for doc_id, title in titles.items():
            for term in title_terms(f"{title} {publishers.get(doc_id, '')}"):
                holding.setdefault(term, set()).add(doc_id)
        published = {t for publisher in publishers.values() for t in title_terms(publisher)}
        distinctive = {
            t
            for t in holding.keys() - published - _MONTH_TERMS
            if not t[0].isdigit() and not common(t)
        }
        dated: dict[str, set[str]] = {}
        for doc_id, date in dates.items():
            dated.setdefault(date[:7], set()).add(doc_id)
        return cls(
            {t: frozenset(ds) for t, ds in holding.items()},
            frozenset(distinctive),
            {month: frozenset(ds) for month, ds in dated.items()},
        )

    def named_in(self, question: str) -> list[str]:
        """The documents the question names by their titles, in the order it names them."""
        named = []
        for run in self._runs(question):
            doc_id = self._named_by(run)
            if doc_id and doc_id not in named:
                named.append(doc_id)
        for month, kind in self._dated_kinds(question):
            # "the april 2025 fact sheet" is not another month's fact sheet
            named = [d for d in named if d not in self.holding[kind] or d in self.dated[month]]
            named += sorted(self.dated[month] & self.holding[kind] - set(named))
        return named

    def _dated_kinds(self, question: str) -> list[tuple[str, str]]:
        """("2025-04", "fact") for each month the question names before title words, one of
        them in the title of a document dated in that month: "the april 2025 (OMB) fact
        sheet", "the dec 2025 EO"."""
        found = []
        for match, month in months_named(question):
            following = title_terms(_NAME_BREAK.split(question[match.end() :])[0])
            run = list(takewhile(self.holding.__contains__, following))
            kind = next((t for t in run if self.dated.get(month, set()) & self.holding[t]), None)
            if kind:
                found.append((month, kind))
        return found

    def _runs(self, question: str):
        for clause in _NAME_BREAK.split(question):
            run: list[str] = []
            for term in [*title_terms(clause), ""]:
                if term in self.holding:
                    run.append(term)
                elif run:
                    yield run
                    run = []

    def _named_by(self, run: list[str]) -> str | None:
        """The one document whose title holds the run's longest ending that any title holds."""
        holders, start = self.holding[run[-1]], len(run) - 1
        while start > 0 and holders & self.holding[run[start - 1]]:
            start -= 1
            holders = holders & self.holding[run[start]]
        ending = run[start:]
        if len(holders) == 1 and len(ending) >= 2 and self.distinctive.intersection(ending):
            return next(iter(holders))
        return None
