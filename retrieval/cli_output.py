"""What `policybot ask` prints: the answer, then each source once, quotes as readable text."""

from __future__ import annotations

import typer

from retrieval.quotes import marked_runs, short_heading
from retrieval.types import Answer, AnswerSentence, DocumentInfo


def render_answer(answer: Answer) -> str:
    """The answer, then each passage with its citation; highlights in bold on a terminal."""
    if answer.abstained:
        return _abstention(answer)
    lines = [typer.style("Answer", bold=True), _answer_text(answer.sentences), ""]
    lines.append(typer.style("Sources", bold=True))
    first_number: dict[str, int] = {}
    for number, passage in enumerate(answer.passages, 1):
        d = passage.document
        if d.doc_id in first_number:  # a document's long title once per answer
            lines.append(f"[{number}] (the same document as [{first_number[d.doc_id]}])")
        else:
            first_number[d.doc_id] = number
            lines.append(f"[{number}] {d.title}")
            lines += [f"    {line}" for line in _document_lines(d)]
        if passage.heading:
            lines.append(f"    § {short_heading(passage.heading)}")
        quote = "".join(
            typer.style(text, bold=True) if marked else text
            for text, marked in marked_runs(passage.text, passage.highlights)
        )
        lines.append(f"    {quote}")
        if passage.link:
            lines.append(f"    {passage.link}")
        lines.append("")
    return "\n".join(lines).rstrip()


_LABELS = {"status": "Status: ", "part": "In "}  # a status, or the part the quotes are from


def _answer_text(sentences: tuple[AnswerSentence, ...]) -> str:
    return " ".join(f"{_LABELS.get(s.kind, '')}{s.text} [{s.source}]" for s in sentences)


def _document_lines(d: DocumentInfo) -> list[str]:
    lines = [f"{d.publisher or '-'}, {d.date or 'undated'}"]
    if d.warning:
        lines.append(f"⚠ {d.warning}")
    elif d.status:  # the legal nature (voluntary, non-binding) is shown, but is no warning
        lines.append(f"Status: {d.status}")
    return lines


def _abstention(answer: Answer) -> str:
    lines = ["The corpus does not hold an answer to that question."]
    if answer.nearest:
        lines.append("The nearest documents are:")
        lines += [
            f"  - {d.title} ({d.publisher or d.jurisdiction}, {d.date or 'undated'})"
            for d in answer.nearest
        ]
    if answer.more:
        lines.append("Closest passages (they do not answer it): policybot ask … --json lists them.")
    return "\n".join(lines)
