"""What kind of answer a question asks for, and whether a sentence holds one.

A "when" question is answered by a sentence with a date, a definition question by the sentence
that defines the term asked about; the embedding model alone often prefers a sentence that
merely repeats the question's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from retrieval.lexical import terms
from retrieval.parts import Part, cited_parts, heading_parts
from retrieval.spelling import MONTHS

_MONTH = rf"(?:{'|'.join(m.capitalize() for m in MONTHS)})"

_WHEN = re.compile(
    r"^\s*(?:and\s+)?when\b|\b(?:what|which|by what|from what)\s+(?:date|day|year|month)\b"
    r"|\bdeadline\b|\bhow (?:long|soon)\b|\buntil when\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\b|\b{_MONTH}\s+\d{{1,2}}\b|\b(?:19|20)\d\d\b"
    r"|\b\d+\s+(?:calendar\s+|working\s+)?(?:days?|weeks?|months?|years?|hours?)\b"
)

# "How many days …", "how much compute …", "what percentage …": a number answers (a money
# question too, which abstention.py also checks for an amount of money).
_QUANTITY_QUESTION = re.compile(
    r"\bhow (?:many|much)\b|\bwhat (?:percentage|percent|share|proportion|fraction|number)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty"
    r"|fifty|hundred|thousand|million|billion|trillion"
)
# A figure, a number word, a currency or percent sign; not a list marker ("(2)", "(ii)").
_QUANTITY = re.compile(
    rf"(?<![(\w.§])\d[\d,]*(?:\.\d+)?(?![)\w.]\w)|\b(?:{_NUMBER_WORDS})\b|[$£€%]", re.IGNORECASE
)

# "How much money …", "how much did it cost", "how big was the fine", "the max civil penalty":
# an amount of money answers.
ASKS_FOR_MONEY = re.compile(
    r"\bhow much\b(?=[^?]*\b(?:money|funding|funds?|costs?|invest\w*|spen[dt]\w*|pa(?:y|id)|"
    r"pledg\w*|appropriat\w*|allocat\w*|budget\w*|fine[ds]?)\b)"
    r"|\bhow (?:big|large|high) (?:is|was|are|were|can|could|would)\b[^?]*\b(?:fines?|penalt\w*)"
    r"|\b(?:max(?:imum)?|highest|biggest|largest|top)\s+(?:\w+\s+)?(?:fines?|penalt\w*)"
    r"|\bwhat (?:is|was) the (?:cost|price|budget)\b",
    re.IGNORECASE,
)
MONEY = re.compile(
    r"[$£€]\s?\d|\b(?:EUR|USD|GBP)\s?\d|\b\d[\d,.]*\s*(?:thousand|million|billion|trillion)\b"
    r"|\b(?:dollars|euros?|pounds)\b",
    re.IGNORECASE,
)
# "Where do I send comments …", "where could people comment …": an address answers.
_WHERE_TO_QUESTION = re.compile(
    r"\bwhere\b(?=[^?]*\b(?:send|submit|comment|apply|report|file|register|contact|download|read)"
    r"\w*)",
    re.IGNORECASE,
)
# An email address, or a web address ("ai.gov/input", "www.nist.gov").
_ADDRESS = re.compile(
    r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b(?:https?://)?(?:[\w-]+\.)+(?:gov|org|com|net|eu|int|uk|edu)\b"
)

# "How does the AI RMF define risk?", "What is the definition of X in …?", "What does X mean?",
# "what did the UK mean by 'frontier AI'?"
_DEFINITION_QUESTION = re.compile(
    r"\bdefines?\s+(?P<a>.+?)\s*(?:[?,;]|$|\s(?:the same|differently|in|under|as|for)\s)"
    r"|\bdefinition of\s+(?P<b>.+?)\s*(?:\?|$|\s(?:in|under|according|by)\s)"
    r"|\bhow (?:is|are)\s+(?P<c>.+?)\s+defined\b"
    r"|\bwhat (?:does|do)\s+(?P<d>.+?)\s+mean\b"
    r"|\bmean(?:s|t)? by\s+(?:['‘“\"](?P<f>[^'’”\"]+)['’”\"]"
    r"|(?P<g>.+?)\s*(?:\?|$|\s(?:in|under|when|for|at|during)\s))"
    r"|\b(?:what is meant by|meaning of)\s+(?P<e>.+?)\s*(?:\?|$|\s(?:in|under)\s)",
    re.IGNORECASE,
)
_DEFINES = r"\W{0,3}\s*(?:\([^)]{0,40}\)\s*)?(?:means|refers to|is defined as|shall mean)\b"
_ANY_DEFINITION = re.compile(
    r"\bmeans\b(?!\s+of\b)|\brefers? to\b|\b(?:is|are) defined\b|\bdefined as\b|\bshall mean\b",
    re.IGNORECASE,
)


# "Which article of the AI Act …?", "which code section …", "where in the AI Act does it say …"
# (not "what does section 4 say"): the answer is the part of the text the quote lies in.
_PART_QUESTION = re.compile(
    r"\b(?:which|what)\s+(?:(?!(?:is|are|was|were|do|does|did)\s)[a-z]+\s+)?"
    r"(article|section|annex|chapter|part|paragraph|provision|clause|subsection|appendix)s?\b"
    r"|\bwhere in\b|\bin which (article|section|annex|part|chapter|appendix)\b",
    re.IGNORECASE,
)
# Kinds of part that a heading names in words ("Appendix B", "Article 53"): a question for one
# of them ("which appendix …?") is answered by a passage under a part of that kind.
SPELLED_KINDS = ("article", "annex", "appendix", "chapter")
_PART_LABEL = r"\s+(?:[0-9IVXLC]+|[A-Z](?![a-z]))\b"  # 53, III, or the letter of "Appendix B"
# A heading that names a numbered part: "Article 53", "ANNEX III", "Sec. 4", "7.1. Strengthening …".
_NUMBERED_PART = re.compile(
    rf"\b(?:Article|Section|Sec\.|Annex|ANNEX|Chapter|CHAPTER|Part|PART|Appendix|APPENDIX){_PART_LABEL}"
    r"|(?:^|› )(?:\d+(?:\.\d+)+\.?|\d+\.)\s"
)


@lru_cache(maxsize=4096)
def names_a_part(heading: str, kind: str = "") -> bool:
    """True for a heading under a numbered article, section, annex or chapter, or under one of
    ``kind`` when given (passages share their headings, so each is read once)."""
    if kind:
        return any(part_kind == kind for part_kind, _ in heading_parts(heading))
    return bool(_NUMBERED_PART.search(heading))


# "Is EO 14110 still in force?", "is the RMF mandatory?", "Is SB 53 law yet?": answered first
# from the named document's recorded status.
_STATUS_QUESTION = re.compile(
    r"^\s*(?:is|are|was|were|has|have|does|do|did)\b.*\b(?:in(?:to)? force|in(?:to)? effect|revoked|"
    r"rescinded|repealed|superseded|replaced|withdrawn|binding|mandatory|voluntary|"
    r"enforceable|final|law|enacted|draft|current|valid|active|status)\b",
    re.IGNORECASE,
)


# Words that ask about a whole document ("summarize …", "what's … about?", "gist of … pls"): a
# question of these and the document's names alone is answered from its opening and overview.
_ABOUT_DOCUMENT = frozenset(
    terms(
        "summarize summarise summary overview gist explain describe cover purpose point main key"
        " basically tldr pls please whats brief quick mean say document doc intro"
    )
)


def asks_about_document(question: str, document_terms: set[str]) -> bool:
    """True when the question holds no term but the named documents' and ``_ABOUT_DOCUMENT``'s
    ("what is the NIST AI RMF?", "summarize the bletchley declaration")."""
    return not set(terms(question)) - document_terms - _ABOUT_DOCUMENT


def asks_status(question: str) -> bool:
    """True for a yes/no question about whether a text is in force, binding, final or law."""
    return bool(_STATUS_QUESTION.search(question))


@dataclass(frozen=True)
class QuestionForm:
    """What the question's form says about its answer."""

    shape: re.Pattern[str] | None  # a sentence holding the answer matches it (a date, …)
    topic: (
        str  # the question without words that only ask for a form ("define": answers say "means")
    )
    wants_part: bool = False  # "Which article …?": a passage under a numbered heading answers
    part_kind: str = ""  # the kind asked for where headings spell it: "which appendix …?"
    cites: frozenset[Part] = frozenset()  # "What does Article 5 say?": the passages under it


def question_form(question: str) -> QuestionForm:
    """Read the answer's form from the question: a numbered part for "which article", a date
    for "when", a number for "how many", an address for "where do I send …", the term's
    definition for "how does X define Y"."""
    form = _shaped_form(question)
    asked = _PART_QUESTION.search(question)
    kind = next((g.lower() for g in asked.groups() if g), "") if asked else ""
    return replace(
        form,
        wants_part=bool(asked),
        part_kind=kind if kind in SPELLED_KINDS else "",
        cites=cited_parts(question),
    )


def _shaped_form(question: str) -> QuestionForm:
    when = _WHEN.search(question)
    if when:
        return QuestionForm(_DATE, question)
    if ASKS_FOR_MONEY.search(question):
        return QuestionForm(MONEY, question)
    if _QUANTITY_QUESTION.search(question):
        return QuestionForm(_QUANTITY, question)
    if _WHERE_TO_QUESTION.search(question):
        return QuestionForm(_ADDRESS, question)
    definition = _DEFINITION_QUESTION.search(question)
    if definition is None:
        return QuestionForm(None, question)
    phrase = next(group for group in definition.groups() if group)
    topic = _without(question, definition.start(), definition.end(), keep=phrase)
    term = _bare_term(phrase)
    if not term:
        return QuestionForm(_ANY_DEFINITION, topic)
    # "deepfake" is defined as "‘deep fake’ means …": a space or hyphen may split the term.
    spelled = r"[\s-]?".join(re.escape(part) for part in term.replace(" ", ""))
    # "X means …", "we defined X as …", a glossary's "X: …".
    defining = rf"{spelled}{_DEFINES}|\bdefined\s+\W?{spelled}\W?\s+as\b|^\W{{0,3}}{spelled}\s*:\s"
    return QuestionForm(re.compile(defining, re.IGNORECASE), topic)


def _without(question: str, start: int, end: int, keep: str = "") -> str:
    return " ".join(f"{question[:start]} {keep} {question[end:]}".split())


def _bare_term(phrase: str) -> str:
    """The term itself: without articles, quotes, or "the term"; a quoted term is the quote
    ("'risk' the same way")."""
    phrase = re.sub(r"^(?:as\s+)?(?:the term|the|an?)?\s*", "", phrase.strip(), flags=re.IGNORECASE)
    quoted = re.match(r"['‘\"“]([^'’\"”]+)['’\"”]", phrase)
    return quoted.group(1) if quoted else phrase.strip(" '\"‘’“”")
