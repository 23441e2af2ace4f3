"""Several connections serving one application (SR_ApplicationTicket / SR_JoinApplication,
server/tickets.py): sessions, handles and the login are the application's, whichever
connection carries the call; tickets are refused from strangers and after C_Finalize."""
from __future__ import annotations

import os
import shutil
import struct
import tempfile
from pathlib import Path

import pytest
from serve_support import Served, as_user, initialized_peer
from service_support import P11KIT_CLIENT, Service
from test_service import Peer, _init_token

from strongroom.pkcs11.constants import CKR, CKS, CKU
from strongroom.server.message import MessageWriter
from support import SO_PIN, make_home

pytestmark = pytest.mark.skipif(not os.path.exists(P11KIT_CLIENT), reason="p11-kit-modules not installed")


def _rv(body: bytes) -> int:
    """CKR_OK for a normal answer, else the error answer's CK_RV."""
    return int.from_bytes(body[-8:], "big") if body[:4] == bytes(4) else CKR.OK


def _ticket(peer: Peer) -> tuple[bytes, bytes]:
    body = peer.call(MessageWriter(136, "").body())
    assert body[:4] == struct.pack(">I", 136), body
    pos = 4 + 4 + 4 + 1                    # call id, signature "ayay"
    n = int.from_bytes(body[pos:pos + 4], "big")
    ticket = body[pos + 4:pos + 4 + n]
    path_len = int.from_bytes(body[pos + 4 + n + 1:pos + 4 + n + 5], "big")
    return ticket, body[pos + 4 + n + 5:pos + 4 + n + 5 + path_len]


def _join(peer: Peer, ticket: bytes) -> int:
    return _rv(peer.call(MessageWriter(137, "ay").byte_array(ticket).body()))


def _rw_session(peer: Peer) -> int:
    body = peer.call(MessageWriter(10, "uu").ulong(0).ulong(0x6).body())
    assert body[:4] == struct.pack(">I", 10), body
    return int.from_bytes(body[-8:], "big")


def _state(peer: Peer, h: int) -> int:
    body = peer.call(MessageWriter(13, "u").ulong(h).body())
    assert body[:4] == struct.pack(">I", 13), body
    return int.from_bytes(body[-24:-16], "big")


def test_a_joined_connection_serves_the_same_application(service: Service) -> None:
    _init_token(service)
    first = Peer(str(service.socket), 0x81)
    first.initialize()
    h = _rw_session(first)
    ticket, path = _ticket(first)
    assert len(ticket) == 32 and path == b""
    second = Peer(str(service.socket), 0x81)
    assert _join(second, ticket) == CKR.OK
    assert second.session_info_rv(h) == CKR.OK            # the first connection's session
    login = MessageWriter(18, "uuay").ulong(h).ulong(CKU.SO).byte_array(SO_PIN.encode()).body()
    assert _rv(second.call(login)) == CKR.OK              # logged in through the second ...
    assert _state(first, h) == CKS.RW_SO_FUNCTIONS        # ... the application is
    h2 = _rw_session(second)
    assert first.session_info_rv(h2) == CKR.OK
    first.sock.close()                                    # the application lives on
    assert second.session_info_rv(h) == CKR.OK
    stranger = Peer(str(service.socket), 0x81)
    stranger.initialize()
    assert stranger.session_info_rv(h) == CKR.SESSION_HANDLE_INVALID


def test_tickets_are_refused_when_wrong_late_or_finalised(service: Service) -> None:
    _init_token(service)
    first = Peer(str(service.socket), 0x81)
    first.initialize()
    ticket, _ = _ticket(first)
    assert _join(Peer(str(service.socket), 0x81), os.urandom(32)) == CKR.FUNCTION_REJECTED
    late = Peer(str(service.socket), 0x81)
    late.initialize()
    assert _join(late, ticket) == CKR.CRYPTOKI_ALREADY_INITIALIZED
    joined = Peer(str(service.socket), 0x81)
    assert _join(joined, ticket) == CKR.OK
    assert _rv(first.call(MessageWriter(2, "").body())) == CKR.OK        # C_Finalize on one
    assert _rv(joined.call(MessageWriter(3, "").body())) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert _join(Peer(str(service.socket), 0x81), ticket) == CKR.FUNCTION_REJECTED


def test_a_ticket_from_another_uid_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another uid")
    home = tmp_path / "home"
    make_home(home)
    run_dir = Path(tempfile.mkdtemp(prefix="sr-join-"))        # reachable by uid 65534
    run_dir.chmod(0o755)
    served = Served(home, "--socket", str(run_dir / "s.sock"))
    try:
        first = initialized_peer(served.socket, 0x81)
        ticket, _ = _ticket(first)

        def join_as_nobody() -> int:
            return _join(Peer(served.socket, 0x81), ticket)

        assert as_user(65534, 65534, join_as_nobody) == CKR.FUNCTION_REJECTED
        assert _join(Peer(served.socket, 0x81), ticket) == CKR.OK         # the same uid may
    finally:
        served.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
