"""Which build is current and which folders the database has seen: the reads every question
and every start makes.

The same two SQL statements run everywhere. On SQLite they run through the standard library,
so a CLI question on an existing index does not import sqlalchemy and the tables (about 0.5 s,
a quarter of its cold start); on another database, through the Store's engine.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.store import Store

ORIGINS_SQL = "SELECT DISTINCT origin FROM document"


def folder_origin(folder: Path) -> str:
    """The origin a folder's documents carry: its absolute path."""
    return str(Path(folder).resolve())


@dataclass(frozen=True)
class CurrentBuild:
    """The build every process should serve, as its row says. It repeats the fields of
    tables.BuildRow on purpose: a question reads it without importing the ORM."""

    build_id: str
    corpus_checksum: str
    model: str
    dimension: int
    chunker: str
    chunk_tokens: int
    documents: int
    chunks: int
    sentences_missing: int
    built_at: datetime

    @classmethod
    def from_row(cls, row) -> CurrentBuild:
        *values, built_at = row
        if isinstance(built_at, str):  # SQLite keeps datetimes as ISO text
            built_at = datetime.fromisoformat(built_at)
        return cls(*values, built_at)


# The build row's columns that CurrentBuild carries, named once: by its fields.
CURRENT_BUILD_SQL = (
    f"SELECT {', '.join(f'b.{item.name}' for item in fields(CurrentBuild))} "
    "FROM current_build c JOIN build b ON b.build_id = c.build_id"
)


class BuildPointer:
    """Reads the current build and the origins, by the cheapest way the database allows."""

    def __init__(self, database_url: str, store: Callable[[], Store]):
        self.sqlite_file = sqlite_file(database_url)  # None: not a SQLite file
        self._store = store  # opened only where the standard library cannot read
        self._local = threading.local()  # one SQLite connection per thread, kept

    def current(self) -> CurrentBuild | None:
        rows = self._rows(CURRENT_BUILD_SQL)
        return CurrentBuild.from_row(rows[0]) if rows else None

    def origins(self) -> set[str]:
        return {origin for (origin,) in self._rows(ORIGINS_SQL)}

    def _rows(self, sql: str) -> list[tuple]:
        if self.sqlite_file is None:
            return self._store().rows(sql)
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if not self.sqlite_file.exists():
                return []  # no database yet: nothing is built
            connection = self._local.connection = sqlite3.connect(self.sqlite_file, timeout=10)
        try:  # no transaction is left open: each read sees the latest commit
            return connection.execute(sql).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):  # made by a version without builds
                return []
            raise


def sqlite_file(database_url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL; None for any other database (or in memory)."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or database_url[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(database_url[len(prefix) :])
