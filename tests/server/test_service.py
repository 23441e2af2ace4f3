"""The token service through real clients: Debian's p11-kit-client.so driven by
pkcs11-tool, and raw protocol peers (one application per connection, garbage, kills)."""
from __future__ import annotations

import os
import random
import socket
import struct
import time

import pytest
from service_support import P11KIT_CLIENT, Service, p11kit_tool

from strongroom.pkcs11.constants import CKR
from strongroom.server.calls_general import HANDSHAKE
from strongroom.server.message import MessageWriter
from strongroom.server.wire import FrameReader, encode_frame
from support import SO_PIN, USER_PIN

pytestmark = pytest.mark.skipif(not os.path.exists(P11KIT_CLIENT), reason="p11-kit-modules not installed")


_tool = p11kit_tool


def test_p11_kit_client_initialises_lists_and_logs_in(service: Service) -> None:
    _tool(service, "--init-token", "--slot-index", "0", "--label", "svc", "--so-pin", SO_PIN)
    _tool(service, "--token-label", "svc", "--login", "--login-type", "so", "--so-pin", SO_PIN,
          "--init-pin", "--pin", USER_PIN)
    listing = _tool(service, "-L").stdout
    assert "token label        : svc" in listing and "PIN initialized" in listing
    mechanisms = _tool(service, "--token-label", "svc", "-M").stdout
    assert "RSA-PKCS-KEY-PAIR-GEN" in mechanisms
    rnd = service.home / "random.bin"
    _tool(service, "--token-label", "svc", "--login", "--pin", USER_PIN, "--generate-random", "16",
          "--output-file", str(rnd))
    assert len(rnd.read_bytes()) == 16
    wrong = _tool(service, "--token-label", "svc", "--login", "--pin", "wrong-pin", "-O", check=False)
    assert wrong.returncode != 0 and "CKR_PIN_INCORRECT" in wrong.stderr + wrong.stdout


class Peer:
    """A raw protocol client: one connection, one application."""

    def __init__(self, path: str, version: int = 0) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.sock.sendall(bytes((version,)))
        self.version = self.sock.recv(1)[0]
        self.reader, self.code = FrameReader(), 0x10

    def call(self, body: bytes) -> bytes:
        self.code += 1
        self.sock.sendall(encode_frame(self.code, body))
        while True:
            data = self.sock.recv(65536)
            assert data, "service closed the connection"
            frames = self.reader.feed(data)
            if frames:
                assert frames[0].call_code == self.code
                return frames[0].body

    def initialize(self) -> None:
        assert self.call(MessageWriter(1, "ayyay").byte_array(HANDSHAKE).byte(0).byte_array(b"\x00").body()) \
            == MessageWriter(1, "").body()

    def open_session(self, slot: int = 0) -> int:
        body = self.call(MessageWriter(10, "uu").ulong(slot).ulong(0x4).body())
        assert body[:4] == b"\x00\x00\x00\x0a", body
        return int.from_bytes(body[-8:], "big")

    def session_info_rv(self, h: int) -> int:
        body = self.call(MessageWriter(13, "u").ulong(h).body())
        return CKR.OK if body[:4] == b"\x00\x00\x00\x0d" else int.from_bytes(body[-8:], "big")


def _init_token(svc: Service) -> None:
    _tool(svc, "--init-token", "--slot-index", "0", "--label", "svc", "--so-pin", SO_PIN)


def test_one_application_per_connection(service: Service) -> None:
    _init_token(service)
    a, b = Peer(str(service.socket)), Peer(str(service.socket))
    a.initialize()
    b.initialize()
    h = a.open_session()
    assert a.session_info_rv(h) == CKR.OK
    assert b.session_info_rv(h) == CKR.SESSION_HANDLE_INVALID      # another application's handle
    a.sock.close()                                                 # its sessions go with it
    c = Peer(str(service.socket))
    c.initialize()
    assert c.session_info_rv(h) == CKR.SESSION_HANDLE_INVALID
    assert b.session_info_rv(b.open_session()) == CKR.OK


def test_garbage_closes_only_that_connection(service: Service) -> None:
    _init_token(service)
    good = Peer(str(service.socket))
    good.initialize()
    rng = random.Random(1307)
    for _ in range(200):
        bad = socket.socket(socket.AF_UNIX)
        bad.connect(str(service.socket))
        choice = rng.random()
        if choice < 0.3:
            bad.sendall(b"\x00" + struct.pack(">III", rng.randrange(2**32), 0, 0xFFFFFFF0))
        elif choice < 0.6:
            bad.sendall(b"\x00" + encode_frame(0x11, bytes(rng.randrange(256) for _ in range(rng.randrange(64)))))
        else:
            bad.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
        bad.close()
    assert good.session_info_rv(good.open_session()) == CKR.OK
    assert service.proc.poll() is None


def test_sigterm_stops_the_service_cleanly(service: Service) -> None:
    assert service.stop() == 0


def test_each_connection_is_logged_with_the_kernels_peer_credentials(service: Service) -> None:
    peer = Peer(str(service.socket))
    peer.initialize()
    peer.sock.close()
    log = service.home / "strongroom.log"
    expected = f"connection from pid {os.getpid()} uid {os.getuid()} gid {os.getgid()}"
    for _ in range(100):                        # the service writes it from its own thread
        if log.exists() and expected in log.read_text():
            break
        time.sleep(0.05)
    assert expected in log.read_text()


@pytest.mark.parametrize(("offer", "answer"), [(0, 0), (1, 1), (2, 2), (5, 2), (0x81, 0x81), (0x82, 2)])
def test_version_byte_answers(service: Service, offer: int, answer: int) -> None:
    assert Peer(str(service.socket), offer).version == answer


def test_extension_ids_only_on_an_extended_connection(service: Service) -> None:
    ext = Peer(str(service.socket), 0x81)
    ext.initialize()
    body = ext.call(MessageWriter(135, "").body())
    assert body[:4] == (135).to_bytes(4, "big") and len(body) == 4 + 4 + 3 + 1 + 4 + 16 + 8
    again = Peer(str(service.socket), 0x81)
    again.initialize()
    assert again.call(MessageWriter(135, "").body()) == body      # one identity per start
    plain = Peer(str(service.socket), 2)
    plain.initialize()
    plain.sock.sendall(encode_frame(0x20, MessageWriter(135, "").body()))
    assert plain.sock.recv(64) == b""                              # a protocol breach: closed
