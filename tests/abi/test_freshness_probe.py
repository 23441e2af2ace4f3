"""The C freshness probe (shim.c: WAL-index header of the library's own SQLite connection).

Through the real libstrongroom.so: the store uses the probe instead of its own
``PRAGMA data_version``; a commit by any other connection (another process, or the
store's own write connection) moves the value, reads do not; C_Finalize drops it and a
forked child that calls C_Initialize again gets a probe of its own.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from strongroom.token.inprocess import APPLICATION


def _commit_elsewhere(path: str) -> None:
    """Real commits in a test-only table (the fresh store holds no token yet, and an
    UPDATE that matches nothing commits nothing and moves no data_version)."""
    code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('PRAGMA busy_timeout = 10000'); "
            "c.execute('CREATE TABLE IF NOT EXISTS probe_test (x)'); "
            "c.execute('INSERT INTO probe_test VALUES (1)')")
    subprocess.run([sys.executable, "-c", code, path], check=True, timeout=60)


def test_probe_is_used_and_sees_other_commits(ck) -> None:
    store = APPLICATION.core.store
    assert store._probe is not None
    v0 = store.data_version()
    assert v0 >= 0 and not store._probe_failed
    assert store.data_version() == v0                 # reads do not move it
    _commit_elsewhere(store.path)                     # another process commits
    v1 = store.data_version()
    assert v1 != v0
    assert store.data_version() == v1
    # our own write connection is "another connection" for the probe
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE probe_own (x)")
        v2 = store.data_version()
        conn.execute("INSERT INTO probe_own VALUES (2)")
    finally:
        conn.close()
    assert v2 != v1 and store.data_version() != v2
    assert not store._probe_failed


def test_finalize_drops_probe(ck) -> None:
    store = APPLICATION.core.store
    assert store._probe is not None
    ck.finalize()
    assert store._probe is None
    ck.initialize()
    assert APPLICATION.core.store._probe is not None and APPLICATION.core.store.data_version() >= 0


def test_forked_child_gets_its_own_probe(ck) -> None:
    parent = APPLICATION.core.store
    v0 = parent.data_version()
    pid = os.fork()
    if pid == 0:    # pragma: no cover - child
        code = 1
        try:
            ck.initialize()
            store = APPLICATION.core.store
            ok = store is not parent and store._probe is not None and store.data_version() >= 0
            _commit_elsewhere(store.path)
            ck.finalize()
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert parent.data_version() != v0                # the child's commit is seen here
    assert not parent._probe_failed
