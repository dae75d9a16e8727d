"""What documents are called, and which documents a question names.

Names come from each document's own metadata and text, never from a list in code: the
identifiers in its title and file name ("Executive Order 14110" also answers to "EO 14110";
"Senate Bill No. 53" to "SB 53" and "SB53"), the short names its title gives in parentheses
("(Artificial Intelligence Act)", with the acronyms the text defines applied: "AI Act", and its
initials: "AIA"), and the ``aliases`` of its front matter (corpus/README.md). Acronyms a text
defines ("Artificial Intelligence Safety Institute (AISI)") are collected too, so a question
that uses one also matches its long form. A question that names a document by words of its
title instead is read in title_names.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.lexical import terms
from retrieval.spelling import MONTHS

# "Executive Order 14110" → "eo 14110"; "Senate Bill No. 53" → "sb 53": the short forms people
# type for an instrument's number, built from the long form the title spells out.
LONG_FORMS = {
    r"executive orders?": "eo",
    r"senate bill(?: no)?": "sb",
    r"assembly bill(?: no)?": "ab",
    r"house bill(?: no)?": "hb",
    r"house resolution": "hr",
    r"public law": "pl",
}
_NUMBERED = re.compile(rf"\b({'|'.join(LONG_FORMS)}) (\d[\d ]*)\b")
# A code as a title or file name writes it: capitals and a number ("CP 1019", "M-24-10",
# "AI 600-1", "A/RES/78/265"), or numbers joined by / or - ("2024/1689", "78/265").
_CODE = re.compile(
    r"\b[A-Z]{1,5}(?:/[A-Z]{1,5})*[ /-]?\d+(?:[-/.]\d+)*\b|\b\d+[/-]\d+(?:[/-]\d+)*\b"
)
# A publication series' code names its document by its number alone too: "600-1" of "AI 600-1"
# (a number of three digits or more with a part, not "1.0" of "RMF 1.0" nor "24-10" of "M-24-10").
_SERIES_NUMBER = re.compile(r"[A-Z]{1,5}[ /-]?(\d{3,}[-/.]\d+(?:[-/.]\d+)*)")
_DATE_IN_ID = re.compile(r"\b(?:19|20)\d\d(?:[-/ ]\d\d?){0,2}\b")
_PARENTHESES = re.compile(r"\(([^()]{2,60})\)")
_VERSION = re.compile(r"\s+\d+(?:\.\d+)+$|\s+v\d+$", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")
_DEFINED = re.compile(r"\(([A-Z][A-Za-z]{1,9})\)")
_SMALL_WORDS = {"of", "and", "the", "for", "on", "in", "to", "a", "an"}
MIN_ACRONYM = 2
MAX_NAME_WORDS = 8


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces, with dots of abbreviations dropped and
    letters split from digits, so "E.O. 14110", "EO14110" and "eo 14110" read the same."""
    text = re.sub(r"(?<=\b[A-Za-z])\.(?=[A-Za-z]\b|\s|$)", "", text)  # E.O. → EO, U.S. → US
    text = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text)
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def defined_acronyms(text: str) -> dict[str, str]:
    """Acronyms a text defines, "Long Form Words (LFW)", with their long form (the first one).

    A long form must start with a word that begins with the acronym's first letter, and the
    acronym's letters must appear, in order, as initials or inside the preceding words (the
    Schwartz-Hearst rule); at most twice as many words as letters, plus the small words.
    """
    found: dict[str, str] = {}
    for match in _DEFINED.finditer(text):
        acronym = match.group(1)
        if acronym in found or sum(c.isupper() for c in acronym) < MIN_ACRONYM:
            continue
        words = _WORD.findall(text[max(0, match.start() - 200) : match.start()])
        long_form = _long_form(acronym, words[-(2 * len(acronym) + 3) :])
        if long_form:
            found[acronym] = long_form
    return found


def _long_form(acronym: str, words: list[str]) -> str:
    """The shortest run of trailing ``words`` whose letters spell ``acronym`` (case-blind)."""
    letters = [c.lower() for c in acronym if c.isalpha()]
    for start in range(len(words) - 1, -1, -1):
        run = words[start:]
        if run[0][:1].lower() != letters[0]:
            continue
        if _spells(letters, [w.lower() for w in run]) and run[0].lower() not in _SMALL_WORDS:
            significant = [w for w in run if w.lower() not in _SMALL_WORDS]
            if len(significant) <= len(letters):
                return " ".join(run)
    return ""


def _spells(letters: list[str], words: list[str]) -> bool:
    """True when every significant word starts one of the letters, in order."""
    text = "".join(f" {w}" for w in words)
    position = 0
    for letter in letters:
        position = text.find(letter, position)
        if position < 0:
            return False
        position += 1
    initials = [w[0] for w in words if w not in _SMALL_WORDS]
    return all(initial in letters for initial in initials)


_ARTICLES = {"The", "A", "An"}
_CAPITALISED = r"(?:[A-Z][a-z]+|[A-Z]{2,}\b)"
_CAPITALISED_RUN = re.compile(
    rf"\b{_CAPITALISED}(?:[ -](?:(?:of|and|the|for|on|in)[ -])?{_CAPITALISED}){{1,6}}"
)


def initialisms(text: str) -> set[str]:
    """Lower-case initials of the capitalised names a text spells out ("United Nations General
    Assembly" → "unga", "Attorney General" → "ag"; an acronym counts whole: "UN General
    Assembly" → "unga"), and of each name's leading words."""
    found = set()
    for match in _CAPITALISED_RUN.finditer(text):
        words = [w for w in re.split(r"[ -]", match.group(0)) if w[:1].isupper()]
        words = words[1:] if words[0] in _ARTICLES else words  # "The Office of …" opens a sentence
        capitals = "".join(w if w.isupper() else w[0] for w in words)
        found |= {capitals[:n].lower() for n in range(2, len(capitals) + 1)}
    return found


def _numbered_forms(text: str) -> set[str]:
    """Short forms of "<long form> <number>" in normalized text: "eo 14110", "sb 53"."""
    forms = set()
    for match in _NUMBERED.finditer(text):
        long_form, number = match.group(1), match.group(2).strip()
        short = next(v for k, v in LONG_FORMS.items() if re.fullmatch(k, long_form))
        forms |= {f"{long_form} {number}", f"{short} {number}"}
    return forms


def _initials(phrase: str) -> str:
    words = [w for w in phrase.split() if w.lower() not in _SMALL_WORDS]
    return "".join(w[0] for w in words).lower() if len(words) >= MIN_ACRONYM + 1 else ""


def names_of(doc_id: str, title: str, aliases: Sequence[str], acronyms: dict[str, str]) -> set[str]:
    """The normalized phrases a document answers to."""
    names = {normalize(a) for a in aliases}
    id_words = _DATE_IN_ID.sub(" ", doc_id.replace("-", " "))
    id_words = re.sub(r"(?<=\d) (?=\d)", "-", id_words)  # "m 24 10" was "M-24-10"
    for source in (title, id_words.upper()):
        names |= _numbered_forms(normalize(source))
        codes = [m.group(0) for m in _CODE.finditer(source) if not _is_date(source, m)]
        names |= {normalize(code) for code in codes}
        names |= {normalize(m.group(1)) for c in codes if (m := _SERIES_NUMBER.fullmatch(c))}
    short_by_long = {long.lower(): short for short, long in acronyms.items()}
    for inner in _PARENTHESES.findall(title):
        short = _VERSION.sub("", inner.strip())
        words = short.split()
        if "," in short or len(words) > MAX_NAME_WORDS or (len(words) == 1 and len(short) < 4):
            continue  # a place, a list or a bare jurisdiction, not a name
        names.add(normalize(short))
        if not any(w[0].isdigit() for w in words):
            names.add(_initials(short))
            names |= {i for i in initialisms(short) if len(i) >= MIN_ACRONYM + 1}
        for long, acronym in short_by_long.items():  # "Artificial Intelligence Act" → "AI Act"
            if long in short.lower():
                names.add(normalize(short.lower().replace(long, acronym)))
    return {n for n in names if len(n) >= 2 and not n.isdigit()}


def _is_date(text: str, match: re.Match) -> bool:
    """A day range or a date ("1-2 November 2023", "2024-03-28"), not a code."""
    following = text[match.end() : match.end() + 12].strip().lower()
    return bool(_DATE_IN_ID.fullmatch(match.group(0))) or following.split(" ")[0] in MONTHS


@dataclass(frozen=True)
class DocumentNames:
    """Every document's names, and the acronyms the corpus defines."""

    names: dict[str, tuple[str, ...]]  # doc_id → normalized names
    initials: frozenset[str]  # acronyms the corpus defines or whose long form it spells out
    long_forms: dict[str, str]  # "AISI" → "AI Safety Institute", as the corpus defines them

    @classmethod
    def build(cls, documents: Iterable[tuple[str, str, Sequence[str], str]]) -> DocumentNames:
        """From (doc_id, title, aliases, text) of each document."""
        initials: set[str] = set()
        long_forms: dict[str, str] = {}
        names: dict[str, tuple[str, ...]] = {}
        for doc_id, title, aliases, text in documents:
            own = defined_acronyms(f"{title}\n{text}")
            initials |= {short.lower() for short in own} | initialisms(f"{title}\n{text}")
            for short, long in own.items():
                long_forms.setdefault(short, long)
            names[doc_id] = tuple(sorted(names_of(doc_id, title, aliases, own)))
        # A name several documents share names none of them.
        counts = Counter(n for doc_names in names.values() for n in set(doc_names))
        unique = {d: tuple(n for n in ns if counts[n] == 1) for d, ns in names.items()}
        return cls(unique, frozenset(initials), long_forms)

    @classmethod
    def from_json(cls, data: dict) -> DocumentNames:
        names = {doc_id: tuple(ns) for doc_id, ns in data["names"].items()}
        return cls(names, frozenset(data["initials"]), dict(data["long_forms"]))

    def to_json(self) -> dict:
        return {
            "names": self.names,
            "initials": sorted(self.initials),
            "long_forms": self.long_forms,
        }

    def named_in(self, question: str) -> list[str]:
        """The documents whose names occur in the question, as whole words, in corpus order."""
        text = f" {normalize(question)} "
        return [d for d, ns in self.names.items() if any(f" {n} " in text for n in ns)]

    def name_words(self, doc_ids: Iterable[str]) -> frozenset[str]:
        """The normalized words of these documents' names."""
        return frozenset(w for d in doc_ids for n in self.names.get(d, ()) for w in n.split())

    def name_terms(self, doc_ids: Iterable[str]) -> set[str]:
        """Stemmed terms of these documents' names (they count as present in its passages)."""
        return {t for d in doc_ids for n in self.names.get(d, ()) for t in terms(n)}
