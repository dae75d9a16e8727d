"""Which names of a question the corpus lacks: then the corpus does not answer it.

A name-like word that no form of the corpus's words holds ("TRAIGA", "Apulia", "illinois' law")
is a key term the corpus lacks, and the answer step says so instead of quoting near-topic text.
So is a name of known words that the corpus never puts near each other ("the AI Liability
Directive").
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

from retrieval.lexical import words
from retrieval.spelling import MONTHS, Spelling

# A question token that names something: capitalised after the first word, all capitals, or
# with a digit ("TRAIGA", "Apulia", "H100s", "1047").
_TOKEN = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9'’-]*(?:\.[0-9]+)*"
)  # "22757.12" is one token, as in lexical.py
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# A possessive: "illinois' law", "Australia's standard".
_POSSESSIVE = re.compile(r"(?<![\w'’-])([A-Za-z][A-Za-z.-]*[A-Za-z])(?:['’]s|(?<=s)['’])(?![\w'’])")
# An owner after one of these is a common noun ("my landlord's", "the lab's"); a name has none
# ("illinois' law", "matt clifford's plan").
_DETERMINERS = frozenset({
    "a", "an", "the", "my", "our", "your", "their", "his", "her", "its", "this", "that", "some",
    "any", "each", "every",
})  # fmt: skip
# Month and day names and the months' abbreviations ("Nov", "Sept"): they date, never name.
_CALENDAR = frozenset(MONTHS + _DAYS + [m[:3] for m in MONTHS] + ["sept"])


@lru_cache(maxsize=256)
def name_like_tokens(question: str) -> tuple[str, ...]:
    """Tokens that look like names: capitalised (not first), all caps, or holding a digit; not
    months or days. Kept per question: the spelling and the abstention steps both read them."""
    tokens = []
    for match in _TOKEN.finditer(question):
        token = match.group(0)
        if len(token) < 2 or token.lower() in _CALENDAR:  # an initial ("E." of "E.O.") alone
            continue
        capitalised = token[:1].isupper() and match.start() > 0 and not _after_stop(question, match)
        upper = len(token) > 1 and token.replace("'s", "").replace("’s", "").isupper()
        if capitalised or upper or any(c.isdigit() for c in token):
            tokens.append(token)
    return tuple(tokens)


def _after_stop(text: str, match: re.Match) -> bool:
    """True for a word that opens a sentence, which is capitalised whatever it is."""
    before = text[: match.start()].rstrip()
    return not before or before[-1] in ".?!:"


def missing_names(
    question: str, spelling: Spelling, initials: frozenset[str], name_words: frozenset[str]
) -> list[str]:
    """Name-like words of the question, and lower-case owners ("illinois' law"), that the
    corpus holds in no form: not as a word, not as the initials of a name it spells out ("UNGA",
    "AG"), not as part of a document's name ("SB53"), and not as a typo of a word it holds (nor,
    for an owner, a shortening of one: "govt's")."""
    missing = []
    for token in name_like_tokens(question):
        if not words(token):  # "US", "The": a stopword names nothing
            continue
        if not all(
            _known(part, spelling, initials, name_words) for part in re.split(r"[-/]", token)
        ):
            missing.append(token)
    for owner, written in owners(question):  # "colorado's", "illinois'": an owner's name
        if (
            owner.islower()  # capitalised ones are name-like tokens already
            and words(owner)
            and not _known(owner, spelling, initials, name_words)
            and not _abbreviates(owner, spelling)
        ):
            missing.append(written)
    return missing


def owners(question: str) -> list[tuple[str, str]]:
    """(owner, as written) for each possessive of the question that may name its owner
    ("illinois' law", "Australia's standard"), not one after a determiner ("the lab's")."""
    found = []
    for match in _POSSESSIVE.finditer(question):
        before = question[: match.start()].split()[-1:]
        if not (before and before[0].lower() in _DETERMINERS):
            found.append((match.group(1), match.group(0)))
    return found


def _abbreviates(token: str, spelling: Spelling) -> bool:
    """True when ``token`` shortens a word of the corpus by dropping letters ("dept" of
    "department", "ppl" of "people"), as casual writing does."""
    pattern = re.compile(".*?".join(map(re.escape, token)))  # from the same first letter
    return any(len(w) > len(token) and pattern.match(w) for w in spelling.words)


# A number with a magnitude's letter: "200M", "1.5bn", "10k".
_AMOUNT = re.compile(r"(\d+)(?:[.,]\d+)?(?:k|m|mn|b|bn|t|tn)")


def _known(token: str, spelling: Spelling, initials: frozenset[str], name_words: frozenset[str]):
    """True when the corpus holds ``token`` as a word, an initialism, a part of a document's
    name, a typo of a word it holds, an amount ("200M") whose number it holds, or (a code like
    "FY2025") as letters and digits it holds."""
    lower = token.lower().replace("’", "'").strip("'\".,;:!?()")
    forms = {lower, lower.removesuffix("'s"), lower.removesuffix("s")}
    if not lower or not words(lower):
        return True
    if any(f in spelling.known or f in initials or f in name_words for f in forms):
        return True
    amount = _AMOUNT.fullmatch(lower)  # "200m" is the corpus's "200 million"
    if amount and amount.group(1) in spelling.known:
        return True
    pieces = re.findall(r"[a-z]+|\d+", lower)
    if len(pieces) > 1 and all(
        (p in spelling.known and (p.isdigit() or len(p) > 1)) or p in initials or p in name_words
        for p in pieces
    ):
        return True
    return spelling.correction(lower) is not None


# A capitalised word, not an acronym: acronyms stand next to any name ("EU AI", "UK AISIs").
_CAPITALISED = re.compile(r"[A-Z][a-z]+")
# A question with more of its words capitalised than this is in title case throughout, where
# capitals mark no names.
TITLE_CASE_SHARE = 0.6


def missing_phrases(question: str, spelling: Spelling) -> list[str]:
    """Two capitalised words in a row that name something ("Liability Directive", "Security
    Institute") and that the corpus holds, but never near each other (in any plural form): what
    the question names is not in the corpus, though each of its words is. A pair whose second
    word opens a name the corpus knows is a qualifier and that name ("British Prime Minister")."""
    tokens = list(_TOKEN.finditer(question))
    capitalised = [t for t in tokens if t.group(0)[:1].isupper()]
    if not tokens or len(capitalised) / len(tokens) > TITLE_CASE_SHARE:
        return []
    missing = []
    for i, (first, second) in enumerate(pairwise(tokens)):
        a, b = first.group(0), second.group(0)
        if question[first.end() : second.start()] != " " or _after_stop(question, first):
            continue
        if not (_CAPITALISED.fullmatch(a) and _CAPITALISED.fullmatch(b)):
            continue
        if not (words(a) and words(b)) or {a.lower(), b.lower()} & _CALENDAR:
            continue
        if not (_forms(a) & spelling.known and _forms(b) & spelling.known):
            continue  # a word the corpus lacks: missing_names reports it
        following = tokens[i + 2] if i + 2 < len(tokens) else None
        if (
            following
            and following.group(0)[:1].isupper()
            and question[second.end() : following.start()] == " "
            and _near(b, following.group(0), spelling)
        ):
            continue
        if not _near(a, b, spelling):
            missing.append(f"{a} {b}")
    return missing


def _near(a: str, b: str, spelling: Spelling) -> bool:
    return any(spelling.near(x, y) for x in _forms(a) for y in _forms(b))


def _forms(word: str) -> set[str]:
    """The lower-case word and its plural or singular: "Principle" names what "Principles"
    does."""
    word = word.lower().removesuffix("'s").removesuffix("’s")
    return {word, word + "s", word + "es", word.removesuffix("s"), word.removesuffix("es")}
