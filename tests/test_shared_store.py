"""Many PolicyBot processes on one database, each with its own data folder: every case runs on
SQLite (a shared file) and on PostgreSQL (a real server)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from retrieval.config import Settings
from retrieval.errors import PolicyBotError
from retrieval.service import Service
from tests.conftest import REPO, SECOND_DOC, SEED
from tests.fakes import HashEmbedder

AUDIT_RULE = "# Audit rule\n\nProviders must commission an independent audit every year.\n"
AUDIT_QUESTION = "how often must providers commission an independent audit?"


def make_service(root: Path, url: str, *documents: tuple[str, str]) -> Service:
    """A service with its own data folder and corpus folder (holding ``documents``)."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    for name, body in documents:
        (corpus / name).write_text(body, encoding="utf-8")
    settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        corpus_dirs=[corpus],
        database_url=url,
        embedding_model="hash-embedder",
    )
    return Service(settings, embedder=HashEmbedder())


@pytest.fixture
def pair(tmp_path, database_url):
    """Two services on one database: A with the seed article, B with the UK guidance."""
    a = make_service(tmp_path / "a", database_url, (SEED.name, SEED.read_text("utf-8")))
    b = make_service(tmp_path / "b", database_url, ("uk-guidance.md", SECOND_DOC))
    a.ensure_index()
    b.ensure_index()
    return a, b


def cited(service: Service, question: str) -> set[str]:
    return {p.document.doc_id for p in service.ask(question).passages}


def test_each_serves_what_the_other_added_and_stops_citing_what_it_removed(pair, tmp_path):
    a, b = pair
    assert {d.doc_id for d in a.documents()} == {d.doc_id for d in b.documents()}
    assert "uk-guidance" in cited(a, "what should evaluators test frontier models for?")
    upload = tmp_path / "audit-rule.md"
    upload.write_text(AUDIT_RULE)
    a.add_file(upload, actor="cli:a")
    assert "audit-rule" in cited(b, AUDIT_QUESTION)  # no manual step on B
    b.remove("audit-rule", actor="cli:b")
    assert "audit-rule" not in cited(a, AUDIT_QUESTION)
    assert a.current().manifest.build_id == b.current().manifest.build_id


def test_importing_a_folder_never_removes_what_others_brought(pair):
    a, b = pair
    before = {d.doc_id for d in a.documents()}
    assert len(before) == 2
    b.reindex()
    a.reindex(rebuild=True)
    assert {d.doc_id for d in b.documents()} == before
    (b.settings.corpus_dirs[0] / "uk-guidance.md").unlink()
    b.reindex()  # the file is gone from B's folder: only that document goes
    assert {d.doc_id for d in a.documents()} == {"techradar-us-uk-ai-safety-mou"}
    assert a.ask("who signed the MOU?").passages


def test_status_on_a_new_folder_reports_the_shared_build(pair, tmp_path, database_url):
    a, _ = pair
    fresh = make_service(tmp_path / "c", database_url)
    status = fresh.status()
    assert status.documents == 2 and status.database_documents == 2 and not status.problem
    assert status.build_id == a.status().build_id
    assert fresh.ask("who signed the MOU?").passages  # made here from the database


def test_a_removed_upload_keeps_its_bytes(pair, tmp_path):
    a, b = pair
    upload = tmp_path / "audit-rule.md"
    upload.write_text(AUDIT_RULE)
    a.add_file(upload)
    b.remove("audit-rule")
    kept = list((b.settings.data_dir / "removed").iterdir())
    assert [p.read_text() for p in kept] == [AUDIT_RULE]


def test_a_folder_file_with_an_uploaded_id_is_skipped_with_the_reason(pair, tmp_path):
    a, b = pair
    upload = tmp_path / "audit-rule.md"
    upload.write_text(AUDIT_RULE)
    a.add_file(upload)
    (b.settings.corpus_dirs[0] / "audit-rule.md").write_text(AUDIT_RULE.replace("year", "month"))
    report = b.reindex()
    assert any("already used by an uploaded document" in s for s in report.skipped)
    assert "every year" in b.ask(AUDIT_QUESTION).passages[0].text


def test_the_write_lock_is_one_writer_at_a_time(pair):
    a, b = pair
    busy = pytest.raises(PolicyBotError, match="Another indexing run")
    with a.store.write_lock(), busy, b.store.write_lock(timeout_s=0.3):
        pass
    with b.store.write_lock(timeout_s=1):  # released: the next writer gets it at once
        pass


def test_a_vote_or_a_vector_saved_twice_is_one_row(pair):
    a, b = pair
    for service, vote in ((a, 1), (b, -1)):
        service.record_feedback(question="Who signed?", chunk_ids=["x#0"], user_id="7", vote=vote)
    assert [row.vote for row in a.store.feedback()] == [-1]
    vector = HashEmbedder().embed(["same text"])
    for service in (a, b):
        service.store.save_embeddings("m", ["h"], vector)
    assert len(a.store.embeddings_found("m", ["h"])) == 1


# Started in several processes at once, each with its own data folder, on one database.
START = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from retrieval.config import Settings
    from retrieval.service import Service
    from tests.fakes import HashEmbedder

    url, data, corpus = sys.argv[1:4]
    settings = Settings(_env_file=None, data_dir=Path(data), corpus_dirs=[Path(corpus)],
                        database_url=url, embedding_model="hash-embedder")
    service = Service(settings, embedder=HashEmbedder())
    service.ensure_index()
    assert service.ask("who signed the MOU?").passages
    """
)


def start_all(
    url: str, tmp_path: Path, count: int, corpus: Path
) -> list[subprocess.CompletedProcess]:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", START, url, str(tmp_path / f"data-{i}"), str(corpus)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(count)
    ]
    return [
        subprocess.CompletedProcess(c.args, c.wait(timeout=120), *c.communicate()) for c in children
    ]


# A serving process (its own data folder, empty corpus setting) that asks until the answer
# cites the document another process adds.
WATCH = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from retrieval.config import Settings
    from retrieval.service import Service
    from tests.fakes import HashEmbedder

    url, data, question, doc_id = sys.argv[1:5]
    settings = Settings(_env_file=None, data_dir=Path(data), corpus_dirs=[], database_url=url,
                        embedding_model="hash-embedder")
    service = Service(settings, embedder=HashEmbedder())
    assert doc_id not in {p.document.doc_id for p in service.ask(question).passages}
    print("serving", flush=True)
    started = time.monotonic()
    while time.monotonic() - started < 60:
        if doc_id in {p.document.doc_id for p in service.ask(question).passages}:
            sys.exit(0)
        time.sleep(0.05)
    sys.exit(1)
    """
)


def test_a_serving_process_cites_what_another_process_added(pair, tmp_path, database_url):
    a, _ = pair
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCH, database_url, str(tmp_path / "w"), AUDIT_QUESTION,
         "audit-rule"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert watcher.stdout.readline().strip() == "serving", watcher.stderr.read()
        upload = tmp_path / "audit-rule.md"
        upload.write_text(AUDIT_RULE)
        a.add_file(upload)
        assert watcher.wait(timeout=90) == 0, watcher.stderr.read()
    finally:
        watcher.kill()
        watcher.wait()


# More processes than this machine's two cores, so that they truly overlap; each costs a second
# of imports and indexing.
RACING_PROCESSES = 3


def test_several_processes_start_at_once_on_an_empty_database(tmp_path, database_url, corpus):
    """Each creates the schema if missing and imports the same folder: one wins, the others
    find its build; no duplicate key, no crash."""
    results = start_all(database_url, tmp_path, RACING_PROCESSES, corpus)
    assert [r.returncode for r in results] == [0] * RACING_PROCESSES, [
        r.stderr[-2000:] for r in results
    ]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        documents = connection.execute(text("SELECT count(*) FROM document")).scalar()
        builds = connection.execute(text("SELECT count(*) FROM build")).scalar()
    engine.dispose()
    assert documents == 2
    assert builds <= 2  # the passages, then the sentences: built once, not once per process


def test_postgresql_restart_costs_no_failed_question(tmp_path, postgres_url):
    """Connections cut by the server (as a restart does) are replaced before the next query;
    status names the database without its password."""
    with_password = postgres_url.replace("postgres@", "postgres:s3cret@")  # trust: accepted
    service = make_service(tmp_path / "a", with_password, (SEED.name, SEED.read_text("utf-8")))
    service.ensure_index()
    assert service.ask("who signed the MOU?").passages
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        cut = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    admin.dispose()
    assert cut >= 1
    assert service.ask("who signed the MOU?").passages
    status = service.status()
    assert status.database_documents == 1
    assert "s3cret" not in status.database and status.database.startswith("postgresql+psycopg://")
