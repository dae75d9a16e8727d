"""A throwaway PostgreSQL server for the tests: loopback only, no durability, gone on stop.

    python -m tests.postgres start DIR   # prints the server's SQLAlchemy URL as its last line
    python -m tests.postgres stop DIR

DIR must be reachable by the ``postgres`` user when running as root (the server refuses root).
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy

TIMEOUT_S = 30
# Durability off: the data is thrown away, and fsync is most of the cost of a test database.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "autovacuum": "off",
}


class PostgresError(RuntimeError):
    """Starting or stopping the server failed; the message is one line for a person."""


def find_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: pg_config's, else the newest Debian install."""
    candidates = []
    if pg_config := shutil.which("pg_config"):
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(found.stdout.strip()))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True
    )
    return next(
        (c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None
    )


def _run(folder: Path, program: str, *args: str) -> subprocess.CompletedProcess:
    """Run a server program, as the ``postgres`` user when we are root."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresError(
            "PostgreSQL server binaries not found (install Debian's postgresql package)"
        )
    command = [str(bindir / program), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    # cwd: the postgres user may not be allowed into ours.
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=TIMEOUT_S + 10
    )


def _pg_ctl(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return _run(folder, "pg_ctl", "-D", str(folder / "data"), *args)


def _last_line(result: subprocess.CompletedProcess) -> str:
    """The program's own last word on a failure: its error output, else its output."""
    lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(folder: Path) -> str:
    """Create a cluster in ``folder``/data, start it on a free loopback port, return its URL."""
    folder = Path(folder).resolve()
    data = folder / "data"
    if data.exists():
        raise PostgresError(f"{data} already exists: give start an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        if subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-w", str(folder)]
        ).returncode:
            raise PostgresError(
                f"the postgres user cannot write to {folder}: use a folder under /tmp"
            )
    options = ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"]
    result = _run(folder, "initdb", "-D", str(data), *options)
    if result.returncode:
        raise PostgresError(f"initdb failed: {_last_line(result)}")
    port = _free_port()
    settings = {**SETTINGS, "port": str(port), "unix_socket_directories": f"'{folder}'"}
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    log = folder / "server.log"
    result = _pg_ctl(folder, "-l", str(log), "-w", "-t", str(TIMEOUT_S), "start")
    if result.returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        reason = tail[0] if tail else _last_line(result)
        raise PostgresError(f"pg_ctl start failed: {reason} (see {log})")
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def is_running(folder: Path) -> bool:
    """Whether the server of ``folder`` is up (``pg_ctl status``)."""
    folder = Path(folder).resolve()
    return (folder / "data").is_dir() and _pg_ctl(folder, "status").returncode == 0


def stop(folder: Path) -> None:
    """Stop the server of ``folder``, waiting for it; nothing to do if it is not running."""
    folder = Path(folder).resolve()
    if not is_running(folder):
        return
    result = _pg_ctl(folder, "-m", "fast", "-w", "-t", str(TIMEOUT_S), "stop")
    if result.returncode:
        raise PostgresError(f"pg_ctl stop failed: {_last_line(result)}")


@functools.cache
def _admin(server_url: str) -> sqlalchemy.Engine:
    """One pooled engine per server: a new engine's first connection costs more than the database."""
    return sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")


# Databases emptied by tests that ended, by server, for the next test of this process to take:
# CREATE DATABASE costs about 0.2 s here, emptying one about 10 ms.
_emptied: dict[str, list[str]] = {}


@contextmanager
def database(server_url: str) -> Iterator[str]:
    """An empty database on the server, named for this test run. On exit its connections are cut
    and its schema emptied, and the next test takes it; ``drop_emptied`` drops them all."""
    free = _emptied.setdefault(server_url, [])
    if free:
        name = free.pop()
    else:
        name = f"test_{uuid.uuid4().hex[:16]}"
        with _admin(server_url).connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    url = sqlalchemy.make_url(server_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin(server_url).connect() as connection:
            connection.execute(
                sqlalchemy.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        emptying = sqlalchemy.create_engine(
            url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool
        )
        with emptying.connect() as connection:
            connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        free.append(name)


def drop_emptied(server_url: str) -> None:
    """Drop the databases kept for reuse (a server that outlives the tests keeps none)."""
    with _admin(server_url).connect() as connection:
        for name in _emptied.pop(server_url, []):
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.postgres start|stop DIR", file=sys.stderr)
        return 2
    try:
        if argv[0] == "start":
            print(start(Path(argv[1])))
        else:
            stop(Path(argv[1]))
    except (PostgresError, OSError, subprocess.TimeoutExpired) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
