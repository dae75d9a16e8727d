"""Where the parts of each document lie: its numbered parts ("Article 5", "Sec. 4.2", a code
section a paragraph opens) and the passages that say what the document is about. Read from a
snapshot's passages per document, on the first question that needs them, then kept."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from retrieval.lexical import terms
from retrieval.parts import Part, heading_parts, innermost_part, opened_items, opened_sections
from retrieval.signatures import signature_spans
from retrieval.snapshot import gathered

if TYPE_CHECKING:
    from retrieval.snapshot import Snapshot

# A section that says what its document is about.
_OVERVIEW = re.compile(
    r"\b(?:purpose|summary|overview|introduction|foreword|abstract|background|policy)\b", re.I
)
HEADING_LINE_WORDS = 12  # an opening line this short is the part's own title ("4.5. Reducing …")


class PartIndex:
    """The parts of one snapshot's documents (the snapshot is immutable, so is this)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._by_document: dict[str, dict[Part, tuple[int, list[int]]]] = {}
        self._item_kinds: dict[str, bool] = {}
        self._signatures: dict[str, dict[int, tuple[int, int]]] = {}

    def _parts_of(self, doc_id: str) -> dict[Part, tuple[int, list[int]]]:
        """The document's parts -> where in its first row each opens, and the rows under it in
        order. A code section that a paragraph opens ("22757.12. (a) …") goes on in the next
        passages under the same heading until another one opens. Read on the first question
        that cites a part of the document (10 µs a passage), then kept."""
        if doc_id in self._by_document:
            return self._by_document[doc_id]
        index: dict[Part, tuple[int, list[int]]] = {}
        carried: list[Part] = []
        previous = None
        for row in self._snapshot.rows_of({doc_id}).tolist():
            passage = self._snapshot.passages[row]
            if passage.heading != previous:
                carried, previous = [], passage.heading
            opened = sorted(
                opened_sections(passage.text) + opened_items(passage.text), key=lambda p: p[1]
            )
            under = {part: 0 for part in heading_parts(passage.heading) | set(carried)}
            under.update(opened)
            for part, offset in under.items():
                index.setdefault(part, (offset, []))[1].append(row)
            carried = [part for part, _ in opened[-1:]] or carried
        self._by_document[doc_id] = index
        return index

    def opens_items(self, kind: str) -> bool:
        """True when lines of the corpus open labelled items of this kind ("practice" of
        "Practice 1.1: …"); read from the passages that hold the word, then kept."""
        if kind not in self._item_kinds:
            stems = terms(kind)
            rows = self._snapshot.lexical.rows_with(stems[0]).tolist() if stems else []
            self._item_kinds[kind] = any(
                opened == kind
                for row in rows
                for (opened, _), _ in opened_items(self._snapshot.passages[row].text)
            )
        return self._item_kinds[kind]

    def _having(
        self, parts: frozenset[Part], doc_ids: tuple[str, ...]
    ) -> list[tuple[int, list[int]]]:
        """Each of these parts in each of these documents that has it."""
        return [
            of[part] for d in doc_ids for of in [self._parts_of(d)] for part in parts if part in of
        ]

    def rows_under(
        self, parts: frozenset[Part], doc_ids: tuple[str, ...]
    ) -> tuple[list[int], dict[int, int]]:
        """The rows under any of these parts, and where in its first row each part opens: in
        these documents when they have such parts (a question citing "Article 5 of the AI
        Act"), else in every document that has them."""
        if not parts:
            return [], {}
        found = self._having(parts, doc_ids) or self._having(parts, tuple(self._snapshot.documents))
        openings = {rows[0]: offset for offset, rows in found}
        return sorted({r for _, rows in found for r in rows}), openings

    def overview_rows(
        self, doc_ids: tuple[str, ...], first: int
    ) -> tuple[list[int], dict[int, int]]:
        """The passages that say what these documents are: the ``first`` that say more than
        their labels, and the first of each section headed as an overview ("Section 1.
        Purpose", "Executive Summary"), whose first sentences are openings."""
        snapshot = self._snapshot
        rows, openings = [], {}
        for doc_id in doc_ids:
            own = [
                r for r in snapshot.rows_of({doc_id}).tolist() if snapshot.analysis.informative[r]
            ]
            headed = [
                r
                for i, r in enumerate(own)
                if _OVERVIEW.search(snapshot.passages[r].heading.split(" › ")[-1])
                and (i == 0 or not snapshot.same_section(own[i - 1], r))
            ]
            rows += own[:first] + headed
            openings.update({r: 0 for r in headed})
        return sorted(set(rows)), openings

    def signatures(self, doc_ids: tuple[str, ...]) -> dict[int, tuple[int, int]]:
        """Row -> where its passage holds these documents' signature blocks; read per document
        on the first question about its signatories, then kept."""
        snapshot = self._snapshot
        for doc_id in doc_ids:
            if doc_id not in self._signatures:
                self._signatures[doc_id] = signature_spans(
                    snapshot.rows_of({doc_id}).tolist(), lambda row: snapshot.passages[row].text
                )
        return {row: span for d in doc_ids for row, span in self._signatures[d].items()}

    def part_at(self, row: int, offset: int) -> str:
        """The numbered part that this position of a passage lies in: the last section opened
        before it under the same heading, by its title line ("4.5. Reducing the Risks …") or its
        number ("Section 22757.15"), else its heading's innermost part ("Article 85 › Right to
        lodge a complaint …"), else ""."""
        snapshot = self._snapshot
        heading = snapshot.passages[row].heading
        at, limit = row, offset  # in the passages before ``row``, all of the text counts
        while at >= 0 and snapshot.same_section(at, row):
            text = snapshot.passages[at].text
            opened = [(part, start) for part, start in opened_sections(text) if start <= limit]
            if opened and opened[-1][0] not in heading_parts(heading):
                (_, number), start = opened[-1]
                line = text[start:].split("\n", 1)[0].strip().rstrip(".")
                return line if len(line.split()) <= HEADING_LINE_WORDS else f"Section {number}"
            if opened:
                break
            at -= 1
            limit = len(snapshot.passages[at].text) if at >= 0 else 0
        return innermost_part(heading)

    def absent_parts(self, parts: frozenset[Part], doc_ids: tuple[str, ...]) -> list[str]:
        """The cited parts these documents (every document, when none is named) neither have
        nor mention ("Annex XIV" of an act whose annexes stop at XIII): what the question asks
        about is not in the corpus."""
        if not parts:
            return []
        snapshot = self._snapshot
        held = None  # the term ids of the named documents' passages, read once
        if doc_ids:
            terms_of = snapshot.analysis.passage_terms
            positions, _ = gathered(terms_of.offsets, snapshot.rows_of(set(doc_ids)))
            held = set(terms_of.ids[positions].tolist())
        absent = []
        for kind, label in sorted(parts):
            if self._having(frozenset({(kind, label)}), doc_ids or tuple(snapshot.documents)):
                continue
            if not terms(label):  # "Appendix A": a letter is no term, so no mention is seen
                continue
            ids = [t for t in snapshot.term_ids(label) if t >= 0]
            if held is not None:
                ids = [t for t in ids if t in held]
            if not ids:
                absent.append(f"{kind.capitalize()} {label.upper() if label.isalpha() else label}")
        return absent
