"""Sentence boundaries as character offsets, so quotes stay verbatim and locatable."""

from __future__ import annotations

import re

# Abbreviations common in policy texts that end with a dot but do not end a sentence.
_ABBREVIATIONS = {
    "art", "arts", "sec", "secs", "no", "nos", "para", "paras", "e.g", "i.e", "etc", "mr", "mrs",
    "ms", "dr", "st", "u.s", "u.k", "u.n", "e.u", "v", "vs", "cf", "fig", "figs", "p", "pp",
    "op", "cit", "ibid", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "inc", "ltd", "co", "corp", "gen", "gov", "rep", "sen", "hon", "approx", "vol",
    "ch", "subsec", "pub", "l", "stat", "reg", "oj", "al",
}  # fmt: skip

# A single initial or dotted initials ("U.S.C", "C.F.R"): a citation goes on after them.
_INITIALISM = re.compile(r"(?:[a-z]\.)*[a-z]")
# A candidate boundary: end punctuation, optional closing quotes/brackets, then whitespace.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
# A line break is a boundary when the next line starts a list item or the line ended a clause.
_LINE_BREAK = re.compile(r"\n+")
# A list item's marker: a bullet (an arrow bullet "➢" converts to Markdown's ">"), "(a)",
# "iv)", "(12)", "(A)", "(IV)", "3.", "4.2 ".
_LIST_START = re.compile(
    r"\s*(?:([•\-*–·▪●◦➢►▶>])|\(?([a-z0-9]{1,4}|[A-Z]|[IVX]{1,4})\)|(\d+)(?:\.\d+)*\.?\s)"
)


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the dot at ``dot`` ends a known abbreviation or a single initial."""
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower()
    return word in _ABBREVIATIONS or _INITIALISM.fullmatch(word) is not None


def page_break(before: str, after: str) -> bool:
    """True for a blank line inside a sentence, where a PDF's page ended ("… of two proxies:
    compute (i.e. the" / "amount of compute used …"): the text before it stops on a word or a
    comma and the text after it goes on in lower case."""
    last = before.rstrip()[-1:]
    return (last.islower() or last == ",") and after.lstrip()[:1].islower()


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Offsets of the sentences in ``text[start:end]``, trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    cuts: set[int] = set()
    segment = text[start:end]
    for match in _END.finditer(segment):
        dot = match.start()
        if segment[dot] == "." and match.end() - dot == 1 and _is_abbreviation(segment, dot):
            continue
        following = segment[match.end() :].lstrip()
        if following[:1].islower():
            continue
        cuts.add(start + match.end())
    for match in _LINE_BREAK.finditer(segment):
        before = segment[: match.start()].rstrip()
        after = segment[match.end() :]
        blank_line = len(match.group()) > 1 and not page_break(before, after)
        if blank_line or before[-1:] in ".:;!?" or _LIST_START.match(after):
            cuts.add(start + match.start())
    spans = []
    position = start
    for cut in sorted(cuts | {end}):
        if cut <= position:
            continue
        left, right = position, cut
        while left < right and text[left].isspace():
            left += 1
        while right > left and text[right - 1].isspace():
            right -= 1
        if right > left:
            spans.append((left, right))
        position = cut
    return spans


# A sentence that stops on a word which announces examples ("… should include, for example;"):
# its items follow, however it is punctuated.
_ANNOUNCING_END = re.compile(
    r"\b(?:includ(?:e|es|ing)|for (?:example|instance)|such as|as follows|namely)[\s,;:–—-]*$",
    re.IGNORECASE,
)


def introduces_list(sentence: str) -> bool:
    """True for a sentence that announces what follows ("… shall be prohibited:")."""
    sentence = sentence.rstrip()
    return (
        sentence.endswith(":")
        or "the following" in sentence.lower()
        or bool(_ANNOUNCING_END.search(sentence))
    )


def marker_kind(sentence: str) -> str | None:
    """The kind of list marker a sentence opens with ("(ii)": "roman", "(B)": "upper", "3.":
    "number", "•": "bullet"), or None: an item of its list's kind is a sibling, one of another
    kind a sub-item."""
    match = _LIST_START.match(sentence)
    if not match:
        return None
    bullet, label, number = match.groups()
    if bullet or number:
        return "bullet" if bullet else "number"
    if label.isdigit():
        return "number"
    if re.fullmatch(r"[ivx]+|[IVX]{2,}", label):
        return "roman"
    return "upper" if label.isupper() else "lower"


def starts_list_item(sentence: str) -> bool:
    """True for a sentence that opens a list item ("(b) Second, …", "2. …", "• …")."""
    return bool(_LIST_START.match(sentence))


# A bibliographic reference, never an answer: "Shumailov, I. et al. (2023) The curse of …",
# "114 Emerging Processes for Frontier AI Safety, Department for Science, …, 2023."
_REFERENCE = re.compile(
    r"^\W*\d{0,3}\s*[A-Z][\w'’-]+,\s+(?:[A-Z]\.\s*){1,3}(?:,|\(|et al|and\b|&|[A-Z])"
    r"|\bet al\.,?\s*\(?(?:[A-Z][a-z]+\.?\s+)?(?:19|20)\d\d"
    r"|^\d{1,3}\s+[A-Z][^.]{5,400},\s*(?:19|20)\d\d\.?$"
)


# Dot leaders: a table of contents ("KEY CHALLENGES ......... 5"); prose elides with three.
_DOT_LEADERS = re.compile(r"(?:\.\s?){5,}|…{2,}")


# A contents line without leaders: a title, then its page ("Part 2: Core and Profiles 20").
_TITLE_AND_PAGE = re.compile(r"(?:\S+\s+){2,}\d{1,3}")


def contents_entry(line: str) -> bool:
    """True for a line that is a title in title case followed by its page number."""
    line = line.strip()
    if not _TITLE_AND_PAGE.fullmatch(line):
        return False
    title = [w for w in line.split()[:-1] if w[:1].isalpha()]
    return sum(w[0].isupper() for w in title) >= len(title) / 2


def lists_contents(sentence: str) -> bool:
    """True for table-of-contents entries: their titles match a question about the part they
    list better than the part's own text does, and they answer nothing."""
    lines = sentence.strip().splitlines()
    return bool(_DOT_LEADERS.search(sentence)) or all(map(contents_entry, lines))


# A link written out, not one behind Markdown's "[text](…)": reference lists print theirs.
_BARE_LINK = re.compile(r"(?<!\]\()https?://|(?<![/.])www\.")


def cites_a_work(sentence: str) -> bool:
    """True for a reference-list entry or footnote that cites a publication, or a run of
    references (two links written out): its title words often match a question better than
    the text that answers it."""
    return bool(_REFERENCE.search(sentence.strip())) or len(_BARE_LINK.findall(sentence)) >= 2
