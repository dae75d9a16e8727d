"""What the service refuses before it does any work: questions, filters, the data folder, and
the removal of a document it has not got or of the last one."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import (
    DocumentError,
    InvalidQuestion,
    PolicyBotError,
    UnknownDocument,
    printable,
)
from retrieval.types import Filters

if TYPE_CHECKING:
    from retrieval.snapshot import Snapshot
    from retrieval.store import Store
    from retrieval.tables import DocumentRow


def checked_question(question: str, limit: int) -> str:
    """The question with its whitespace collapsed; refused when empty, not text, or longer
    than ``limit`` characters."""
    question = " ".join((question or "").split())
    if not question:
        raise InvalidQuestion("Please ask a question: the text was empty.")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate: bytes that were not UTF-8
        raise InvalidQuestion(
            f"The question holds bytes that are not text (at character {err.start + 1}); "
            "type it again as plain text."
        ) from err
    if len(question) > limit:
        raise InvalidQuestion(
            f"Questions are limited to {limit} characters; this one has {len(question)}."
        )
    return question


def check_filters(filters: Filters, snapshot: Snapshot) -> None:
    """Filters that name a jurisdiction the corpus has and dates in order, or a clear refusal
    (a filter matching nothing would answer "no answer" without saying why)."""
    known = sorted({d.jurisdiction for d in snapshot.documents.values() if d.jurisdiction})
    if filters.jurisdiction and filters.jurisdiction.lower() not in {j.lower() for j in known}:
        raise InvalidQuestion(
            f"No document has the jurisdiction {printable(filters.jurisdiction)!r}; "
            f"choose one of: {', '.join(known) or 'none yet'}."
        )
    dates = {"since": filters.date_from, "until": filters.date_to}
    for name, value in dates.items():
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise InvalidQuestion(
                    f"--{name} must be a date written YYYY-MM-DD, not {printable(value)!r}."
                ) from None
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidQuestion(
            f"--since {filters.date_from} is after --until {filters.date_to}: no date is both."
        )


def ensure_folder(folder: Path) -> None:
    """The data folder, created if missing; a clear refusal when it cannot be."""
    if folder.exists() and not folder.is_dir():
        raise PolicyBotError(
            f"POLICYBOT_DATA_DIR is {printable(str(folder))}, a file: point it at a folder "
            "(it is created when missing)."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PolicyBotError(
            f"Cannot create the data folder {printable(str(folder))} ({err.strerror}): set "
            "POLICYBOT_DATA_DIR to a folder you can write."
        ) from err


def removable(store: Store, doc_id: str) -> DocumentRow:
    """The document to remove; refused when no document has that id, or it is the last one."""
    row = store.document(doc_id)
    if row is None:
        raise UnknownDocument(f"No document has the id {doc_id!r}; `policybot list` shows the ids.")
    if store.document_count() == 1:
        raise DocumentError("This is the last document; an index needs at least one.")
    return row
