"""Faults at the service: a client killed in the middle of its work, and 100,000 random
and mutated frames (seeded, bounded) -- after which the service still serves a good client
and holds no more file descriptors than before."""
from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest
from service_support import P11KIT_CLIENT, Service, p11kit_tool
from test_service import Peer

from strongroom.pkcs11.constants import CKA, CKM, CKO, CKR
from strongroom.server.attribute_wire import encode_attributes
from strongroom.server.calls_general import HANDSHAKE
from strongroom.server.message import MessageWriter, pack_array
from strongroom.server.wire import encode_frame
from support import SO_PIN, USER_PIN

pytestmark = pytest.mark.skipif(not os.path.exists(P11KIT_CLIENT), reason="p11-kit-modules not installed")


_tool = p11kit_tool


_SIGNER = textwrap.dedent(f"""
    import pkcs11, sys
    from pkcs11 import Attribute, KeyType, Mechanism
    from pkcs11.util.ec import encode_named_curve_parameters
    tok = pkcs11.lib({P11KIT_CLIENT!r}).get_token(token_label="svc")
    s = tok.open(user_pin={USER_PIN!r}, rw=True)
    params = s.create_domain_parameters(KeyType.EC, {{Attribute.EC_PARAMS:
                                        encode_named_curve_parameters("secp256r1")}}, local=True)
    pub, priv = params.generate_keypair(store=False)                 # session objects
    n = 0
    while True:
        priv.sign(b"x" * 32, mechanism=Mechanism.ECDSA)
        n += 1
        if n == 20:
            print("SIGNING", flush=True)
""")


def _init(svc: Service) -> None:
    _tool(svc, "--init-token", "--slot-index", "0", "--label", "svc", "--so-pin", SO_PIN)
    _tool(svc, "--token-label", "svc", "--login", "--login-type", "so", "--so-pin", SO_PIN, "--init-pin",
          "--pin", USER_PIN)


def test_a_client_killed_mid_operation_leaves_nothing_behind(service: Service) -> None:
    _init(service)
    env = dict(service.env, P11_KIT_SERVER_ADDRESS=f"unix:path={service.socket}")
    signer = subprocess.Popen([sys.executable, "-c", _SIGNER], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert signer.stdout is not None and signer.stdout.readline().strip() == "SIGNING"
        # its session is open: the token cannot be re-initialised (v3.0 §5.6 C_InitToken)
        busy = _tool(service, "--init-token", "--slot-index", "0", "--label", "svc", "--so-pin", SO_PIN,
                     check=False)
        assert "CKR_SESSION_EXISTS" in busy.stdout + busy.stderr
        signer.kill()                                        # SIGKILL in the middle of signing
        signer.wait(timeout=30)
    finally:
        if signer.poll() is None:
            signer.kill()
    for _ in range(100):                                     # the service sees the EOF at once
        done = _tool(service, "--init-token", "--slot-index", "0", "--label", "svc", "--so-pin", SO_PIN,
                     check=False)
        if done.returncode == 0:
            break
        time.sleep(0.05)
    assert done.returncode == 0, done.stdout + done.stderr
    assert service.proc.poll() is None


# --- fuzzing -------------------------------------------------------------------------------
def _corpus() -> list[bytes]:
    """Well-formed requests of many shapes (no PIN checks, no large random: each would cost
    the service scrypt or megabytes, not parsing)."""
    tpl = encode_attributes([(CKA.CLASS, CKO.DATA), (CKA.LABEL, "fuzz"), (CKA.VALUE, b"v" * 20),
                             (CKA.TOKEN, False), (CKA.ALLOWED_MECHANISMS, (CKM.ECDSA,))])
    wrap_tpl = encode_attributes([(CKA.CLASS, CKO.SECRET_KEY), (CKA.WRAP_TEMPLATE, [(CKA.TOKEN, False)])])
    pss = struct.pack(">I", CKM.RSA_PKCS_PSS) + struct.pack(">QQQ", CKM.SHA256, 2, 32)
    gcm = struct.pack(">I", CKM.AES_GCM) + pack_array(b"\x01" * 12) + struct.pack(">Q", 96) + pack_array(b"a") \
        + struct.pack(">Q", 128)
    return [
        _req(4, "yfu", b"\x01" + struct.pack(">I", 8)),
        _req(6, "u", struct.pack(">Q", 0)),
        _req(7, "ufu", struct.pack(">QI", 0, 200)),
        _req(8, "uu", struct.pack(">QQ", 0, CKM.ECDSA)),
        _req(10, "uu", struct.pack(">QQ", 0, 6)),
        _req(13, "u", struct.pack(">Q", 1)),
        _req(20, "uaA", struct.pack(">Q", 1) + tpl),
        _req(26, "uaA", struct.pack(">Q", 1) + wrap_tpl),
        _req(27, "ufu", struct.pack(">QI", 1, 10)),
        _req(24, "uufA", struct.pack(">QQ", 1, 2) + struct.pack(">IIIII", 2, CKA.LABEL, 0, CKA.VALUE, 64)),
        _req(42, "uMu", struct.pack(">Q", 1) + pss + struct.pack(">Q", 2)),
        _req(29, "uMu", struct.pack(">Q", 1) + gcm + struct.pack(">Q", 2)),
        _req(43, "uayfy", struct.pack(">Q", 1) + b"\x01" + pack_array(b"d" * 32) + struct.pack(">I", 64)),
        _req(37, "uM", struct.pack(">Q", 1) + struct.pack(">I", CKM.SHA256) + pack_array(None)),
        _req(38, "uayfy", struct.pack(">Q", 1) + b"\x01" + pack_array(b"d" * 10) + struct.pack(">I", 0)),
        _req(59, "uMaAaA", struct.pack(">Q", 1) + struct.pack(">I", CKM.EC_KEY_PAIR_GEN) + pack_array(None)
             + tpl + tpl),
        _req(135, "", b""),
    ]


def _req(call_id: int, sig: str, args: bytes) -> bytes:
    return struct.pack(">I", call_id) + pack_array(sig.encode()) + args


def _mutate(rng: random.Random, body: bytes) -> bytes:
    b = bytearray(body)
    for _ in range(rng.randrange(1, 4)):
        choice = rng.random()
        if choice < 0.4 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif choice < 0.55 and b:
            del b[rng.randrange(len(b)):]
        elif choice < 0.7:
            b[rng.randrange(len(b) + 1):0] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif choice < 0.85 and len(b) >= 4:
            at = rng.randrange(len(b) - 3)
            b[at:at + 4] = struct.pack(">I", rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE, 65536]))
        else:
            b[0:4] = struct.pack(">I", rng.randrange(140))
    return bytes(b)


class _FuzzPeer:
    def __init__(self, path: str, rng: random.Random) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.sock.sendall(bytes((rng.choice([0, 1, 2, 0x81, 0x81, rng.randrange(256)]),)))
        self.sock.recv(1)
        init = MessageWriter(1, "ayyay").byte_array(HANDSHAKE).byte(0).byte_array(b"\x00").body()
        self.alive = self.exchange(init)

    def exchange(self, body: bytes, header: bytes | None = None) -> bool:
        """Send one frame; True if an answer came, False if the service closed."""
        try:
            self.sock.sendall(header + body if header is not None else encode_frame(0x10, body))
            head = self._read(12)
            if head is None:
                return False
            length = struct.unpack(">III", head)[2]
            return self._read(length) is not None
        except (ConnectionResetError, BrokenPipeError):
            return False

    def _read(self, n: int) -> bytes | None:
        out = b""
        while len(out) < n:
            part = self.sock.recv(n - len(out))
            if not part:
                return None
            out += part
        return out


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_100000_random_and_mutated_frames(service: Service) -> None:
    _init(service)
    rng = random.Random(20261207)
    corpus = _corpus()
    before = _fd_count(service.proc.pid)
    sent = closed = 0
    peer = _FuzzPeer(str(service.socket), rng)
    while sent < 100_000:
        if not peer.alive:
            peer.sock.close()
            peer = _FuzzPeer(str(service.socket), rng)
            closed += 1
            continue
        roll = rng.random()
        if roll < 0.02:                 # a header lying about its length (never followed)
            head = struct.pack(">III", 0x10, rng.randrange(2**32), rng.randrange(2**32))
            peer.alive = peer.exchange(b"", header=head) if head[4:8] != bytes(4) else False
            peer.sock.close()
            peer.alive = False
        elif roll < 0.1:                # random bytes as a body
            peer.alive = peer.exchange(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
        elif roll < 0.2:                # a well-formed request
            peer.alive = peer.exchange(rng.choice(corpus))
        else:                           # a mutated one
            peer.alive = peer.exchange(_mutate(rng, rng.choice(corpus)))
        sent += 1
    peer.sock.close()
    assert closed > 1000                # the fuzzer did break the protocol, often
    assert service.proc.poll() is None
    good = Peer(str(service.socket))
    good.initialize()
    info = good.call(MessageWriter(3, "").body())
    assert info[:4] == struct.pack(">I", 3)                # C_GetInfo answered
    good.sock.close()
    for _ in range(100):                # connections end in their own threads
        if _fd_count(service.proc.pid) <= before:
            break
        time.sleep(0.05)
    assert _fd_count(service.proc.pid) <= before
    # the fuzzer runs as root, who may delete the token (SR_DeleteToken is a call id away
    # from C_GetTokenInfo): set it up again and use it
    _init(service)
    _tool(service, "--token-label", "svc", "--login", "--pin", USER_PIN, "-O")     # exit 0 asserted
    peer2 = Peer(str(service.socket))
    peer2.initialize()
    assert peer2.session_info_rv(peer2.open_session()) == CKR.OK
