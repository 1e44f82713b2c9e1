"""The record's tests run on SQLite and on a real PostgreSQL server started for the session.

The server is Debian's PostgreSQL (``make test`` installs it where missing): initdb into a
temporary folder as the ``postgres`` user, a free port on loopback, trust authentication,
stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


@pytest.fixture(scope="session")
def postgres_url():
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL's server is not installed; `make test` installs Debian's postgresql")
    folder = Path(tempfile.mkdtemp(prefix="protocol-qa-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    subprocess.run(_as_postgres(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                                f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "stop"), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database of each kind: a SQLite file, or a new database on the session's server."""
    if request.param == "sqlite":
        return str(tmp_path / "data" / "record.sqlite3")
    import sqlalchemy as sa

    server = request.getfixturevalue("postgres_url")
    name = f"record_{os.getpid()}_{time.monotonic_ns()}"
    engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"
