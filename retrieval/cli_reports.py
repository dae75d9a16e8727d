"""What `policybot index`, `list`, `status` and `eval` print (`ask` prints through cli_output)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from retrieval.errors import printable

if TYPE_CHECKING:
    from retrieval.evaluate import Question
    from retrieval.types import Answer, DocumentInfo, IndexReport, Status


def print_index_report(report: IndexReport) -> None:
    """The files skipped (on stderr), then what the build holds and whether one was published."""
    for line in report.skipped:
        typer.echo(f"skipped {printable(line)}", err=True)
    state = f"published build {report.build_id}" if report.rebuilt else "index already up to date"
    typer.echo(
        f"{report.documents} documents, {report.chunks} chunks, {report.embedded} embedded; "
        f"{state} in {report.seconds:.1f} s"
    )


def print_documents(documents: list[DocumentInfo]) -> None:
    """Each document's id, jurisdiction, date, chunks and who added it, then its title."""
    if not documents:
        typer.echo("No documents yet: run `policybot index`.")
    for d in documents:
        warning = f"  ⚠ {d.warning}" if d.warning else ""
        added = f"  (added by {d.added_by})" if d.added_by else ""
        typer.echo(
            f"{d.doc_id}  [{d.jurisdiction or '-'}, {d.date or 'undated'}, {d.chunks} chunks]{added}"
        )
        typer.echo(f"    {printable(d.title)}{warning}")


def print_status(state: Status) -> None:
    """The build now serving: documents, chunks, model, chunker, build id and time, folders,
    and the database (without its password)."""
    built = state.built_at.isoformat() if state.built_at else "never (run `policybot index`)"
    typer.echo(
        f"documents: {state.documents} indexed, {state.database_documents} in the database\n"
        f"chunks: {state.chunks}\nmodel: {state.model} ({state.dimension} dimensions)\n"
        f"chunker: {state.chunker}\nbuild: {state.build_id or '-'}\nbuilt at: {built}\n"
        f"corpus: {', '.join(state.corpus_dirs) or '-'}\ndatabase: {state.database}"
    )


def print_evaluation(
    items: list[Question], answers: list[Answer], *, details: bool, halves: bool, as_json: bool
) -> None:
    """The measures over all questions (and each half), as a table or JSON; ``details``: also
    each question's reasons, one JSON line each on stderr."""
    from retrieval.evaluate import detail, half_of, measures

    if details:
        for question, answer in zip(items, answers, strict=True):
            typer.echo(json.dumps(detail(question, answer), ensure_ascii=False), err=True)
    results = {"all": measures(items, answers)}
    if halves:
        for half in ("tuning", "confirming"):
            chosen = [(q, a) for q, a in zip(items, answers, strict=True) if half_of(q.id) == half]
            results[half] = measures([q for q, _ in chosen], [a for _, a in chosen])
    if as_json:
        typer.echo(json.dumps(results if halves else results["all"]))
        return
    names = list(results["all"])
    typer.echo(f"{'':18}" + "".join(f"{label:>12}" for label in results))
    for name in names:
        typer.echo(f"{name:18}" + "".join(f"{r[name]:>12}" for r in results.values()))
