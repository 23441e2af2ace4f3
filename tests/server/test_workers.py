"""Worker processes (server/workers.py): the supervisor starts N whole services over one
listening socket, a ticket names its worker's own socket so that joining connections
reach the application, a killed worker is started again, and SIGTERM ends them all."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from service_support import P11KIT_CLIENT, Service
from test_join import _join, _rw_session, _ticket
from test_service import Peer, _init_token

from strongroom.pkcs11.constants import CKR
from support import make_home

pytestmark = pytest.mark.skipif(not os.path.exists(P11KIT_CLIENT), reason="p11-kit-modules not installed")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


@pytest.fixture
def workers(tmp_path: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    make_home(home)
    svc = Service(home, tmp_path / "s.sock", workers=2)
    yield svc
    if svc.proc.poll() is None:
        svc.stop()


def test_two_workers_serve_and_a_ticket_names_its_worker(workers: Service) -> None:
    assert len(_children(workers.proc.pid)) == 2
    _init_token(workers)
    first = Peer(str(workers.socket), 0x81)
    first.initialize()
    h = _rw_session(first)
    ticket, path = _ticket(first)
    assert path.decode() in (f"{workers.socket}.w0", f"{workers.socket}.w1")
    joined = Peer(path.decode(), 0x81)
    assert _join(joined, ticket) == CKR.OK
    assert joined.session_info_rv(h) == CKR.OK


def test_a_killed_worker_is_started_again(workers: Service) -> None:
    before = _children(workers.proc.pid)
    os.kill(before[0], signal.SIGKILL)
    for _ in range(100):
        now = _children(workers.proc.pid)
        if len(now) == 2 and before[0] not in now:
            break
        time.sleep(0.1)
    assert len(now) == 2 and before[0] not in now
    _init_token(workers)                          # the service still answers
    for _ in range(4):
        peer = Peer(str(workers.socket))
        peer.initialize()
        assert peer.session_info_rv(peer.open_session()) == CKR.OK


def test_sigterm_stops_supervisor_and_workers(workers: Service) -> None:
    kids = _children(workers.proc.pid)
    assert workers.stop() == 0
    assert not workers.socket.exists()
    for pid in kids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def _admitted(path: str, held: list[socket.socket]) -> bool:
    """A connection to ``path`` that is answered (kept open in ``held``) or closed at once
    (refused)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    held.append(sock)
    try:
        sock.sendall(b"\x00")
        return sock.recv(1) == b"\x00"
    except ConnectionResetError:
        return False


def _worker_pid(supervisor: int, index: int) -> int:
    for pid in _children(supervisor):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if argv[argv.index(b"--worker-index") + 1] == str(index).encode():
            return pid
    raise AssertionError(f"no worker {index}")


def test_the_per_uid_limit_counts_the_connections_of_every_worker(tmp_path: Path) -> None:
    """Three connections to each worker's own socket with a limit of 4: four in all, not
    four per worker; a killed worker's connections stop counting once it is restarted."""
    home = tmp_path / "home"
    make_home(home)
    (home / "service.toml").write_text("max_connections_per_uid = 4\n")
    svc = Service(home, tmp_path / "s.sock", workers=2)
    held: list[socket.socket] = []
    try:
        w0, w1 = f"{svc.socket}.w0", f"{svc.socket}.w1"
        assert [_admitted(w0, held) for _ in range(3)] == [True] * 3
        assert [_admitted(w1, held) for _ in range(3)] == [True, False, False]
        assert not _admitted(str(svc.socket), held)
        dead = _worker_pid(svc.proc.pid, 0)
        os.kill(dead, signal.SIGKILL)
        for _ in range(100):                      # restarted: its three no longer count
            if dead not in _children(svc.proc.pid) and len(_children(svc.proc.pid)) == 2 \
                    and os.path.exists(w0):
                break
            time.sleep(0.1)
        time.sleep(0.3)
        assert [_admitted(w1, held) for _ in range(4)] == [True, True, True, False]
    finally:
        for sock in held:
            sock.close()
        svc.stop()
