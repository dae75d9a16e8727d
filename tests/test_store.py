"""The database layer on SQLite and on PostgreSQL: one transaction per change, and databases
made by earlier versions."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from retrieval.store import Store
from retrieval.tables import UPLOADED, BuildRow, Change, ChunkRow, DocumentRow, OriginalRow


def document(doc_id: str, source: str = "", origin: str = UPLOADED) -> DocumentRow:
    return DocumentRow(
        doc_id=doc_id, title=doc_id, content_hash=doc_id, text="Some text.", source=source,
        origin=origin,
    )  # fmt: skip


def build(build_id: str) -> BuildRow:
    return BuildRow(
        build_id=build_id, corpus_checksum="c", model="m", dimension=4, chunker="3",
        chunk_tokens=160, documents=1, chunks=1,
    )  # fmt: skip


def chunk(doc_id: str) -> ChunkRow:
    return ChunkRow(doc_id=doc_id, ordinal=0, start=0, end=10, text_hash=f"{doc_id}-0")


def test_documents_and_the_current_build_change_together(database_url):
    store = Store(database_url)
    first = Change(documents=[(document("a"), [chunk("a")])])
    first.originals = [OriginalRow(doc_id="a", filename="a.md", data=b"Some text.")]
    store.commit(first, build("b1"))
    assert store.current_build().build_id == "b1"
    with pytest.raises(IntegrityError):  # a build id used twice: the whole change is undone
        store.commit(Change(documents=[(document("x"), [chunk("x")])]), build("b1"))
    assert set(store.document_rows()) == {"a"} and store.current_build().build_id == "b1"
    store.commit(Change(deleted={"a"}, documents=[(document("b"), [chunk("b")])]), build("b2"))
    current, rows, chunks = store.consistent_read()
    assert current.build_id == "b2" and set(rows) == {"b"}
    assert [c.doc_id for c in chunks] == ["b"] and store.original("a") is None


def test_re_chunking_keeps_who_added_a_document_and_its_bytes(database_url):
    store = Store(database_url)
    row = document("a")
    row.added_by = "discord:1:alice"
    change = Change(documents=[(row, [chunk("a")])])
    change.originals = [OriginalRow(doc_id="a", filename="a.md", data=b"bytes")]
    store.commit(change, build("b1"))
    store.commit(Change(documents=[(document("a"), [chunk("a")])]), build("b2"))
    assert store.document("a").added_by == "discord:1:alice"
    assert store.original("a").data == b"bytes"


def test_a_database_from_before_origins_gets_them_from_its_files(database_url, tmp_path):
    store = Store(database_url)
    folder = tmp_path / "corpus"
    store.commit(Change(documents=[(document("a", str(folder / "a.md")), [])]), build("b1"))
    with store.engine.begin() as connection:  # as an earlier version left it
        connection.execute(text("DROP INDEX ix_document_origin"))
        connection.execute(text("ALTER TABLE document DROP COLUMN origin"))
    store.engine.dispose()
    again = Store(database_url)
    assert again.document("a").origin == str(folder.resolve())
    assert again.origins() == {str(folder.resolve())}


def test_the_pointer_reads_what_the_store_wrote_and_creates_nothing(database_url, tmp_path):
    """The question path's read (standard library on SQLite, the Store's engine elsewhere)."""
    from retrieval.pointer import BuildPointer

    missing = tmp_path / "none.db"
    assert BuildPointer(f"sqlite:///{missing}", None).current() is None
    assert not missing.exists()  # reading never creates a database
    store = Store(database_url)
    pointer = BuildPointer(database_url, lambda: store)
    assert pointer.current() is None and pointer.origins() == set()
    folder = tmp_path / "corpus"
    store.commit(Change(documents=[(document("a", origin=str(folder)), [])]), build("b1"))
    current = pointer.current()
    assert (current.build_id, current.chunk_tokens, current.documents) == ("b1", 160, 1)
    assert current.built_at.year >= 2026 and pointer.origins() == {str(folder)}
    store.commit(Change(), build("b2"))
    assert pointer.current().build_id == "b2"  # a kept connection still sees new commits
