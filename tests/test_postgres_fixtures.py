"""The two-backend fixtures and the throwaway server work, so contract tests can rely on them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy
from sqlmodel import Field, Session, SQLModel, create_engine, select

from tests import postgres

REPO = Path(__file__).resolve().parents[1]


class _OwnTables(SQLModel):
    # Its own metadata: the store's SQLModel.metadata.create_all must not make this table.
    metadata = sqlalchemy.MetaData()


class Note(_OwnTables, table=True):
    id: int | None = Field(default=None, primary_key=True)
    text: str


def _tables(url: str) -> list[str]:
    engine = create_engine(url, poolclass=sqlalchemy.NullPool)
    try:
        return sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_row_round_trips_through_sqlmodel(database_url, request):
    assert database_url.startswith(request.node.callspec.id)
    engine = create_engine(database_url)
    _OwnTables.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Note(text="Bletchley"))
        session.commit()
    with Session(engine) as session:
        assert [note.text for note in session.exec(select(Note))] == ["Bletchley"]
    engine.dispose()


def test_postgresql_databases_are_distinct_empty_and_emptied_after(postgres_server, postgres_url):
    engine = create_engine(postgres_url, poolclass=sqlalchemy.NullPool)
    _OwnTables.metadata.create_all(engine)
    with postgres.database(postgres_server) as other:
        assert other != postgres_url
        assert _tables(other) == []
        assert _tables(postgres_url) == ["note"]
        _OwnTables.metadata.create_all(create_engine(other, poolclass=sqlalchemy.NullPool))
        idle = create_engine(other).connect()  # left open: emptying must not wait for it
    with pytest.raises(sqlalchemy.exc.OperationalError, match="terminating connection"):
        idle.exec_driver_sql("SELECT 1")
    idle.close()
    with postgres.database(postgres_server) as again:  # the next test takes it, empty
        assert again == other and _tables(again) == []
    postgres.drop_emptied(postgres_server)
    with pytest.raises(sqlalchemy.exc.OperationalError, match="does not exist"):
        _tables(other)
    engine.dispose()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie waiting for init to reap it does not count."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] not in "ZX"
    except FileNotFoundError:
        return False


def _cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tests.postgres", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_postgresql_start_and_stop_leave_no_process():
    if postgres.find_bindir() is None:
        pytest.skip("PostgreSQL server binaries not found (install Debian's postgresql package)")
    folder = Path(tempfile.mkdtemp(prefix="policybot-pg-"))
    try:
        started = _cli("start", str(folder))
        assert started.returncode == 0, started.stderr
        assert started.stdout.splitlines()[-1].startswith(
            "postgresql+psycopg://postgres@127.0.0.1:"
        )
        pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        assert postgres.is_running(folder) and _alive(pid)
        stopped = _cli("stop", str(folder))
        assert stopped.returncode == 0, stopped.stderr
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not postgres.is_running(folder) and not _alive(pid)
    finally:
        postgres.stop(folder)
        shutil.rmtree(folder)


def test_the_command_line_explains_a_wrong_call(capsys):
    assert postgres.main(["restart"]) == 2
    assert capsys.readouterr().err == "usage: python -m tests.postgres start|stop DIR\n"
