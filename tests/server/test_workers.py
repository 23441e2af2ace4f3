"""Worker processes (server/workers.py): the supervisor starts N whole services over one
listening socket, a ticket names its worker's own socket so that joining connections
reach the application, a killed worker is started again, and SIGTERM ends them all."""
from __future__ import annotations

import os
import signal
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
