"""`policybot`: the command line over the same service the bot uses."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from retrieval import cli_reports
from retrieval.cli_progress import progress_bars
from retrieval.errors import PolicyBotError, printable
from retrieval.types import Filters

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="PolicyBot: answers questions about AI-policy documents with cited, verbatim passages.",
)

CorpusOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--corpus",
        help="Folder of documents to import instead of the configured ones (repeatable).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _service(corpus: list[Path] | None = None, params=None):
    from retrieval.config import Settings
    from retrieval.service import Service

    settings = Settings()
    if corpus:
        settings = settings.model_copy(update={"corpus_dirs": list(corpus)})
    return Service(settings, params=params)


def _print_json(value) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


@app.command()
def ask(
    question: Annotated[
        list[str], typer.Argument(help="The question (quotes are optional).", show_default=False)
    ],
    top_k: Annotated[
        int | None, typer.Option("--top-k", min=1, max=20, help="Passages to show.")
    ] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option(help="Only documents of this jurisdiction (US, UK, EU, International)."),
    ] = None,
    document: Annotated[
        str | None, typer.Option("--document", help="Only this document id.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only documents dated on or after YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only documents dated on or before YYYY-MM-DD.")
    ] = None,
    corpus: CorpusOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question from the corpus, citing the passages that support it.

    Example: policybot ask "Who signed the US-UK AI MOU?"
    """
    service = _service(corpus)
    service.ensure_index(progress=progress_bars())
    filters = Filters(jurisdiction=jurisdiction, doc_id=document, date_from=since, date_to=until)
    answer = service.ask(" ".join(question), top_k=top_k, filters=filters)
    if as_json:
        _print_json({**asdict(answer), "text": answer.text})
        return
    from retrieval.cli_output import render_answer

    typer.echo(render_answer(answer))


@app.command()
def index(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-chunk everything and publish a fresh build.")
    ] = False,
    corpus: CorpusOption = None,
) -> None:
    """Import the corpus folders into the database and publish a build of every document.

    A folder's new or changed files are embedded, and its documents whose files are gone are
    dropped; uploads and other folders' documents stay. Example: policybot index --corpus ../shared/corpus
    """
    report = _service(corpus).reindex(rebuild=rebuild, progress=progress_bars())
    cli_reports.print_index_report(report)


def _meta_option(what: str):
    return Annotated[str | None, typer.Option(help=f"The document's {what}, over the file's own.")]


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="Markdown, text, PDF or HTML files.")],
    title: _meta_option("title") = None,
    publisher: _meta_option("publisher") = None,
    jurisdiction: _meta_option("jurisdiction (US, UK, EU, International, …)") = None,
    date: _meta_option("date, YYYY-MM-DD") = None,
    url: _meta_option("address") = None,
    status: _meta_option("status (in force, revoked … by …, draft, …)") = None,
    corpus: CorpusOption = None,
) -> None:
    """Store documents in the database (text, metadata and the file's bytes) and index them.

    Example: policybot add report.pdf --title "AI Safety Report" --date 2025-01-29
    """
    metadata = {
        "title": title,
        "publisher": publisher,
        "jurisdiction": jurisdiction,
        "date": date,
        "url": url,
        "status": status,
    }
    service = _service(corpus)
    failed = 0
    for path in paths:
        try:
            result = service.add_file(
                path,
                actor=f"cli:{os.environ.get('USER', 'unknown')}",
                metadata=metadata,
                progress=progress_bars(),
            )
        except PolicyBotError as err:
            typer.echo(f"Error: {printable(str(path))}: {err}", err=True)
            failed += 1
            continue
        typer.echo(
            f"added {result.document.doc_id}: {printable(result.document.title)} "
            f"({result.passages} passages, {result.seconds:.1f} s)"
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def remove(
    doc_id: Annotated[str, typer.Argument(help="The document id, as `policybot list` shows it.")],
    corpus: CorpusOption = None,
) -> None:
    """Remove a document from the corpus and the index (its file is kept under the data folder).

    Example: policybot remove techradar-us-uk-ai-safety-mou
    """
    info = _service(corpus).remove(doc_id, actor=f"cli:{os.environ.get('USER', 'unknown')}")
    typer.echo(f"removed {info.doc_id}: {printable(info.title)} ({info.chunks} passages)")


@app.command("list")
def list_documents(as_json: JsonOption = False) -> None:
    """List the indexed documents with their ids, dates and status.

    Example: policybot list --json
    """
    documents = _service().documents()
    if as_json:
        _print_json([asdict(d) for d in documents])
        return
    cli_reports.print_documents(documents)


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Show the documents, chunks, model and build time of the index now serving.

    Example: policybot status
    """
    state = _service().status()
    if as_json:
        _print_json(asdict(state))
        return
    cli_reports.print_status(state)
    if state.problem:
        typer.echo(f"Error: {state.problem}", err=True)
        raise typer.Exit(1)


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="A JSONL file of questions with gold answers.")],
    corpus: CorpusOption = None,
    as_json: JsonOption = False,
    details: Annotated[
        bool, typer.Option(help="Also print, per question, why it was answered or refused.")
    ] = False,
    halves: Annotated[
        bool, typer.Option(help="Also measure the tuning and the confirming half apart.")
    ] = False,
    params: Annotated[
        Path | None, typer.Option(help="A JSON file of ranking parameters to use instead.")
    ] = None,
) -> None:
    """Measure retrieval and answer quality on a question file (../shared/eval format).

    Example: policybot eval ../shared/eval/dev2.jsonl --corpus ../shared/corpus --halves
    """
    from retrieval.evaluate import load_questions
    from retrieval.params import Params

    items = load_questions(questions)
    service = _service(corpus, Params.from_file(params) if params else None)
    service.ensure_index(progress=progress_bars())
    service.ask("warm up")  # latency is measured with the model and index loaded
    answers = [service.ask(q.question) for q in items]
    cli_reports.print_evaluation(items, answers, details=details, halves=halves, as_json=as_json)


def _add_commands_of_other_packages() -> None:
    """Commands that installed packages register as ``policybot.commands`` entry points (the
    bot package adds `policybot bot`): the engine never imports them itself."""
    from importlib.metadata import entry_points

    present = {c.name for c in app.registered_commands}
    for entry in entry_points(group="policybot.commands"):
        if entry.name in present:
            continue
        try:
            app.command(entry.name)(entry.load())
        except ImportError as err:  # a broken plug-in must not take the engine's commands down
            logging.getLogger(__name__).warning("cannot load `policybot %s`: %s", entry.name, err)


def _stop(signum: int, _frame) -> None:
    """SIGTERM (what timeout, systemd and docker send) unwinds like an error: a half-done
    `add` or `index` is undone by the same code that undoes a failure."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error is one line on stderr, with a non-zero exit status."""
    signal.signal(signal.SIGTERM, _stop)
    from pydantic import ValidationError

    from retrieval.config import Settings, invalid_settings, process_defaults

    process_defaults()
    warnings.simplefilter("ignore")  # library warnings are not the user's business
    try:
        level = Settings().cli_log_level
    except ValidationError as err:
        typer.echo(f"Error: {invalid_settings(err)}", err=True)
        sys.exit(2)
    logging.basicConfig(level=level, stream=sys.stderr)
    # The handler filters too: bm25s and faiss set their own loggers when they are imported.
    logging.getLogger().handlers[0].setLevel(max(logging.getLevelName(level), logging.WARNING))
    _add_commands_of_other_packages()
    try:
        code = app(args=argv, standalone_mode=False)  # returns typer.Exit's code in this mode
    except PolicyBotError as err:
        typer.echo(f"Error: {err}", err=True)
        sys.exit(1)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(130)
    except typer.TyperException as err:  # a usage error: what was wrong, and where
        typer.echo(f"Error: {printable(_usage(err))}", err=True)
        sys.exit(getattr(err, "exit_code", 2))
    except OSError as err:  # a folder or file the user can fix
        where = printable(str(err.filename)) if err.filename else "a file"
        typer.echo(f"Error: {err.strerror or err} ({where}): check its permissions.", err=True)
        sys.exit(1)
    except Exception as err:  # the user gets one line; details go to the log at DEBUG
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        typer.echo(f"Error: unexpected {type(err).__name__}: {printable(str(err))}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _usage(err: Exception) -> str:
    """The usage error, with the command's help hint."""
    message = err.format_message() if hasattr(err, "format_message") else str(err)
    context = getattr(err, "ctx", None)
    command = context.command_path if context is not None else "policybot"
    return f"{message} (see `{command} --help`)"


if __name__ == "__main__":
    main()
