"""The client module's connection pool: threads of one application call over several
connections that all serve the same application (SR_ApplicationTicket /
SR_JoinApplication), against a real token service; the pool's size, its fork and restart
behaviour. The service's log names the peer pid of every connection it accepts, which is
how the tests count the connections a client made."""
from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from capi import CKR_DEVICE_REMOVED, CKR_OK, CKR_SESSION_HANDLE_INVALID, Client
from service_support import Service

from support import SO_PIN, USER_PIN

HERE = Path(__file__).resolve().parent

#: ctypes bindings for the calls the pool tests make; shared by the subprocess scripts
#: and the in-process restart test (exec'd into a namespace).
BINDINGS = r'''
import ctypes, os, threading
from ctypes import POINTER, byref, c_ulong, c_void_p
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

CK_ULONG = c_ulong
CKM_EC_KEY_PAIR_GEN, CKM_ECDSA_SHA256, CKM_RSA_PKCS_KEY_PAIR_GEN = 0x1040, 0x1044, 0x0
P256 = bytes.fromhex("06082a8648ce3d030107")


class Attr(ctypes.Structure):
    _fields_ = [("type", CK_ULONG), ("pValue", c_void_p), ("ulValueLen", CK_ULONG)]


class Mech(ctypes.Structure):
    _fields_ = [("mechanism", CK_ULONG), ("pParameter", c_void_p), ("ulParameterLen", CK_ULONG)]


class Pool:
    """The client module through ctypes: keys, signatures, finding objects."""

    def __init__(self, lib):
        self.lib, self._keep = lib, []
        for name, args in (
                ("C_Login", [CK_ULONG, CK_ULONG, ctypes.c_char_p, CK_ULONG]),
                ("C_Logout", [CK_ULONG]),
                ("C_GenerateKeyPair", [CK_ULONG, POINTER(Mech), POINTER(Attr), CK_ULONG, POINTER(Attr), CK_ULONG,
                                       POINTER(CK_ULONG), POINTER(CK_ULONG)]),
                ("C_SignInit", [CK_ULONG, POINTER(Mech), CK_ULONG]),
                ("C_Sign", [CK_ULONG, ctypes.c_char_p, CK_ULONG, ctypes.c_char_p, POINTER(CK_ULONG)]),
                ("C_FindObjectsInit", [CK_ULONG, POINTER(Attr), CK_ULONG]),
                ("C_FindObjects", [CK_ULONG, POINTER(CK_ULONG), CK_ULONG, POINTER(CK_ULONG)]),
                ("C_FindObjectsFinal", [CK_ULONG]),
                ("C_GetAttributeValue", [CK_ULONG, CK_ULONG, POINTER(Attr), CK_ULONG]),
                ("C_GenerateRandom", [CK_ULONG, ctypes.c_char_p, CK_ULONG])):
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, CK_ULONG

    def _template(self, items):
        t = (Attr * len(items))()
        for i, (typ, value) in enumerate(items):
            if isinstance(value, bool):
                raw = bytes([value])
            elif isinstance(value, int):
                raw = bytes(CK_ULONG(value))
            else:
                raw = value
            buf = ctypes.create_string_buffer(raw, len(raw))
            self._keep.append(buf)
            t[i] = Attr(typ, ctypes.cast(buf, c_void_p), len(raw))
        return t

    def login(self, h):
        pin = USER_PIN.encode()
        return int(self.lib.C_Login(h, 1, pin, len(pin)))

    def logout(self, h):
        return int(self.lib.C_Logout(h))

    def ec_pair(self, h, label):
        pub = self._template([(0x1, False), (0x180, P256), (0x10A, True), (0x3, label)])
        priv = self._template([(0x1, False), (0x2, True), (0x108, True), (0x3, label)])
        hp, hk = CK_ULONG(0), CK_ULONG(0)
        rv = self.lib.C_GenerateKeyPair(h, byref(Mech(CKM_EC_KEY_PAIR_GEN, None, 0)), pub, 4, priv, 4,
                                        byref(hp), byref(hk))
        return int(rv), hp.value, hk.value

    def rsa_pair(self, h, bits):
        pub = self._template([(0x1, False), (0x121, bits), (0x122, b"\x01\x00\x01"), (0x10A, True)])
        priv = self._template([(0x1, False), (0x2, True), (0x108, True)])
        hp, hk = CK_ULONG(0), CK_ULONG(0)
        rv = self.lib.C_GenerateKeyPair(h, byref(Mech(CKM_RSA_PKCS_KEY_PAIR_GEN, None, 0)), pub, 3, priv, 2,
                                        byref(hp), byref(hk))
        return int(rv)

    def sign(self, h, key, data):
        rv = self.lib.C_SignInit(h, byref(Mech(CKM_ECDSA_SHA256, None, 0)), key)
        if rv != 0:
            return int(rv), b""
        out, n = ctypes.create_string_buffer(64), CK_ULONG(64)
        rv = self.lib.C_Sign(h, data, len(data), out, byref(n))
        return int(rv), out.raw[: n.value]

    def find(self, h, cls, label):
        t = self._template([(0x0, cls), (0x3, label)])
        rv = self.lib.C_FindObjectsInit(h, t, 2)
        if rv != 0:
            return int(rv), []
        found, n = (CK_ULONG * 8)(), CK_ULONG(0)
        rv = self.lib.C_FindObjects(h, found, 8, byref(n))
        self.lib.C_FindObjectsFinal(h)
        return int(rv), list(found[: n.value])

    def point(self, h, pub):
        buf = ctypes.create_string_buffer(128)
        t = (Attr * 1)(Attr(0x181, ctypes.cast(buf, c_void_p), 128))
        rv = self.lib.C_GetAttributeValue(h, pub, t, 1)
        assert rv == 0, rv
        der = buf.raw[: t[0].ulValueLen]
        return der[2:] if der[0] == 0x04 and der[1] == len(der) - 2 else der

    def random(self, h, n=16):
        buf = ctypes.create_string_buffer(n)
        return int(self.lib.C_GenerateRandom(h, buf, n))


def verify(point, data, sig):
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        return True
    except Exception:
        return False


def sockets():
    """The sockets this process holds: the client module's connections."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def sign_in_threads(c, p, key, point, threads=4, count=120, tag=b""):
    """``threads`` threads, one session each (no login of their own), sign ``count``
    messages each at once; (bad return values, signatures that verify, total)."""
    bad, sigs, start = [], [], threading.Barrier(threads)

    def work(i):
        rv, h = c.open_session(0)
        if rv != 0:
            bad.append(("open", rv))
            return
        start.wait()
        for k in range(count):
            data = tag + b"thread %d message %d" % (i, k)
            rv, sig = p.sign(h, key, data)
            if rv != 0:
                bad.append(("sign", rv))
            else:
                sigs.append((data, sig))
        c.close_session(h)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    good = sum(verify(point, d, s) for d, s in sigs)
    return bad, good, threads * count
'''


def _env(svc: Service, **extra: str) -> dict[str, str]:
    return dict(svc.env, STRONGROOM_SERVICE=f"unix:{svc.socket}", **extra)


def _init_token(client: str, svc: Service) -> None:
    env = _env(svc)
    for args in (("--init-token", "--slot-index", "0", "--label", "ct", "--so-pin", SO_PIN),
                 ("--token-label", "ct", "--login", "--login-type", "so", "--so-pin", SO_PIN, "--init-pin",
                  "--pin", USER_PIN)):
        proc = subprocess.run(["pkcs11-tool", "--module", client, *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def _connections(svc: Service, pid: int) -> int:
    """How many connections the service accepted from ``pid`` (its log, written by the
    connection's own thread: waited for a moment)."""
    log = svc.home / "strongroom.log"
    pattern = re.compile(rf"connection from pid {pid} uid")
    seen, last = -1, -2
    for _ in range(40):
        text = log.read_text() if log.exists() else ""
        seen = len(pattern.findall(text))
        if seen == last:
            break
        last = seen
        time.sleep(0.1)
    return seen


SETUP = """
assert c.initialize() == 0
rv, h0 = c.open_session(0)
assert rv == 0
assert p.login(h0) == 0
rv, pub, key = p.ec_pair(h0, b"pool-key")
assert rv == 0, rv
point = p.point(h0, pub)
"""


def _script(client: str, env: dict[str, str], body: str, timeout: float = 120) -> dict:
    """``body`` in a fresh interpreter, with ``c`` a capi.Client and ``p`` a Pool on it,
    after SETUP (initialised, logged in, an EC session key pair); it prints one JSON line.
    Adds the child's pid."""
    code = (f"import json, os, sys, threading, time\nsys.path.insert(0, {str(HERE)!r})\nfrom capi import *\n"
            f"USER_PIN = {USER_PIN!r}\n" + BINDINGS + f"\nc = Client({client!r})\np = Pool(c.lib)\n"
            + SETUP + textwrap.dedent(body))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out + err
    res: dict = json.loads(out.strip().splitlines()[-1])
    res["pid"] = proc.pid
    return res




@pytest.mark.parametrize("workers", [1, 2])
def test_threads_sign_at_once_over_several_connections_of_one_login(client: str, tmp_path: Path,
                                                                      workers: int) -> None:
    from support import make_home

    home = tmp_path / "h"
    make_home(home)
    svc = Service(home, tmp_path / "s.sock", workers=workers)
    try:
        _init_token(client, svc)
        body = """
        bad, good, total = sign_in_threads(c, p, key, point)
        held = sockets()
        # the login is the application's: a logout through one connection ends it for all
        assert p.logout(h0) == 0
        after, _, _ = sign_in_threads(c, p, key, point, count=3)
        print(json.dumps({"bad": bad, "good": good, "total": total, "held": held,
                          "after_logout": sorted({rv for _, rv in after}), "fin": c.finalize()}))
        """
        out = _script(client, _env(svc), body)
        assert out["bad"] == [] and out["good"] == out["total"] == 480
        assert 2 <= out["held"] <= 4                      # STRONGROOM_CLIENT_CONNECTIONS: 4 by default
        assert 2 <= _connections(svc, out["pid"]) <= 4
        # the private session key went with the login, whatever connection the call took
        assert out["after_logout"] and 0 not in out["after_logout"], out["after_logout"]
        assert out["fin"] == CKR_OK
    finally:
        svc.stop()


def test_a_session_object_is_usable_over_another_connection_while_the_first_is_busy(
        client: str, service: Service) -> None:
    _init_token(client, service)
    body = """
    sign_in_threads(c, p, key, point, count=20)        # the pool has grown: idle connections wait
    rv, ha = c.open_session(0)
    rv2, hb = c.open_session(0)
    assert rv == rv2 == 0
    made, times = threading.Event(), {}

    def thread_a():
        times["made"] = p.ec_pair(ha, b"made-by-a")[0]
        made.set()
        times["a0"] = time.monotonic()
        times["rsa"] = p.rsa_pair(ha, 4096)            # seconds on its connection
        times["a1"] = time.monotonic()

    a = threading.Thread(target=thread_a)
    a.start()
    made.wait()
    time.sleep(0.05)
    b0 = time.monotonic()
    r1, privs = p.find(hb, 3, b"made-by-a")
    r2, pubs = p.find(hb, 2, b"made-by-a")
    rs, sig = p.sign(hb, privs[0], b"signed by b") if privs else (-1, b"")
    ok = verify(p.point(hb, pubs[0]), b"signed by b", sig) if pubs and rs == 0 else False
    b1 = time.monotonic()
    a.join()
    print(json.dumps({"made": times["made"], "rsa": times["rsa"], "find": [r1, len(privs), r2, len(pubs)],
                      "sign": rs, "ok": ok, "inside": times["a0"] < b0 and b1 < times["a1"],
                      "b_ms": (b1 - b0) * 1000, "a_ms": (times["a1"] - times["a0"]) * 1000}))
    """
    out = _script(client, _env(service), body)
    assert out["made"] == CKR_OK and out["rsa"] == CKR_OK
    assert out["find"] == [CKR_OK, 1, CKR_OK, 1]
    assert out["sign"] == CKR_OK and out["ok"] is True
    # B's calls ran while A's key generation held A's connection: over another one
    assert out["inside"] is True, out


@pytest.mark.parametrize(("setting", "low", "high"), [("1", 1, 1), ("2", 2, 2), ("many", 2, 4), ("1000", 2, 4)])
def test_the_pool_size_setting(client: str, service: Service, setting: str, low: int, high: int) -> None:
    _init_token(client, service)
    body = """
    bad, good, total = sign_in_threads(c, p, key, point)
    print(json.dumps({"bad": bad, "good": good, "total": total, "held": sockets()}))
    """
    out = _script(client, _env(service, STRONGROOM_CLIENT_CONNECTIONS=setting), body)
    assert out["bad"] == [] and out["good"] == out["total"]
    assert low <= out["held"] <= high
    assert low <= _connections(service, out["pid"]) <= high


def test_forked_child_drops_the_pool_and_builds_its_own(client: str, service: Service) -> None:
    _init_token(client, service)
    body = """
    bad, good, total = sign_in_threads(c, p, key, point, count=40)
    assert not bad and good == total
    held = sockets()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        res = {"inherited": sockets(), "old": p.random(h0)}
        res["init"] = c.initialize()
        rv, h = c.open_session(0)
        res["login"] = p.login(h)
        rv, cpub, ckey = p.ec_pair(h, b"child-key")
        cbad, cgood, ctotal = sign_in_threads(c, p, ckey, p.point(h, cpub), count=40)
        res.update(gen=rv, cbad=cbad, cgood=cgood, ctotal=ctotal, child_held=sockets(), fin=c.finalize())
        os.write(w, json.dumps(res).encode())
        os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    child = json.loads(os.read(r, 65536))
    pbad, pgood, ptotal = sign_in_threads(c, p, key, point, count=40)
    print(json.dumps({"held": held, "child": child, "status": status, "pbad": pbad, "pgood": pgood,
                      "ptotal": ptotal, "parent_held": sockets()}))
    """
    out = _script(client, _env(service), body)
    child = out["child"]
    assert out["status"] == 0 and out["held"] >= 2
    assert child["inherited"] == 0                        # every inherited connection closed
    assert child["old"] == 0x190                          # CKR_CRYPTOKI_NOT_INITIALIZED
    assert child["init"] == CKR_OK and child["login"] == CKR_OK and child["gen"] == CKR_OK
    assert child["cbad"] == [] and child["cgood"] == child["ctotal"]
    assert child["child_held"] >= 2 and child["fin"] == CKR_OK
    assert out["pbad"] == [] and out["pgood"] == out["ptotal"]   # the parent's pool untouched
    assert out["parent_held"] >= out["held"]


def test_service_restart_with_a_pool_old_sessions_fail_then_a_new_pool_works(client: str, service: Service) -> None:
    _init_token(client, service)
    ns: dict = {"USER_PIN": USER_PIN}
    exec(BINDINGS, ns)                                    # the test's own bindings
    c = Client(client)
    p = ns["Pool"](c.lib)
    os.environ["STRONGROOM_SERVICE"] = f"unix:{service.socket}"
    again = None
    try:
        assert c.initialize() == CKR_OK
        rv, h0 = c.open_session(0)
        assert rv == CKR_OK and p.login(h0) == CKR_OK
        rv, pub, key = p.ec_pair(h0, b"k")
        assert rv == CKR_OK
        point = p.point(h0, pub)
        old = [c.open_session(0)[1] for _ in range(4)]
        bad, good, total = ns["sign_in_threads"](c, p, key, point, count=60)
        assert bad == [] and good == total
        before = _connections(service, os.getpid())
        assert before >= 2
        service.stop()
        seen: list[int] = []
        ts = [threading.Thread(target=lambda h=h: seen.append(p.random(h))) for h in old]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert seen == [CKR_DEVICE_REMOVED] * 4           # every pool connection's call
        assert p.random(h0) == CKR_DEVICE_REMOVED
        assert c.slots() == (CKR_OK, [])                  # no service: no slots
        again = Service(service.home, service.socket)
        rv, h1 = c.open_session(0)                        # reconnects by itself
        assert rv == CKR_OK
        assert [p.random(h) for h in [h0, *old]] == [CKR_SESSION_HANDLE_INVALID] * 5
        assert p.login(h1) == CKR_OK
        rv, pub, key = p.ec_pair(h1, b"k2")
        assert rv == CKR_OK
        bad, good, total = ns["sign_in_threads"](c, p, key, p.point(h1, pub), count=60)
        assert bad == [] and good == total
        # a new ticket from the new service: the pool grew again
        assert _connections(again, os.getpid()) - before >= 2
    finally:
        c.finalize()
        del os.environ["STRONGROOM_SERVICE"]
        if again is not None:
            again.stop()


# --- a hostile service: what a ticket answer may not be ---------------------------------
class FakeService:
    """A p11-kit-protocol listener (level 0x81) that answers C_Initialize, C_Finalize and
    a slow C_GetSlotList, hands out ``ticket`` and ``join`` for SR_ApplicationTicket and
    accepts every SR_JoinApplication; it counts connections and records the calls."""

    def __init__(self, path: Path, ticket: bytes, join: bytes, also: Path | None = None) -> None:
        import socket

        from strongroom.server.message import MessageWriter
        from strongroom.server.wire import encode_frame

        self.ticket, self.join, self.writer, self.frame = ticket, join, MessageWriter, encode_frame
        self.connections: list[str] = []
        self.calls: list[tuple[int, bytes]] = []
        self.listeners = []
        for p in (path, *([also] if also else [])):
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(str(p))
            srv.listen(16)
            self.listeners.append(srv)
            threading.Thread(target=self._accept, args=(srv, str(p)), daemon=True).start()

    def _accept(self, srv, name: str) -> None:
        while True:
            try:
                sock, _ = srv.accept()
            except OSError:
                return
            self.connections.append(name)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    @staticmethod
    def _read(sock, n: int) -> bytes:
        out = b""
        while len(out) < n:
            got = sock.recv(n - len(out))
            if not got:
                raise EOFError
            out += got
        return out

    def _serve(self, sock) -> None:
        w = self.writer
        try:
            self._read(sock, 1)
            sock.sendall(b"\x81")
            while True:
                code, olen, blen = struct.unpack(">III", self._read(sock, 12))
                body = self._read(sock, olen + blen)[olen:]
                call = int.from_bytes(body[:4], "big")
                self.calls.append((call, body))
                if call in (1, 2, 137):
                    answer = w(call, "").body()
                elif call == 4:
                    time.sleep(0.02)
                    answer = w(4, "au").ulong_array([]).body()
                elif call == 136:
                    answer = w(136, "ayay").byte_array(self.ticket).byte_array(self.join).body()
                else:
                    return
                sock.sendall(self.frame(code, answer))
        except (EOFError, OSError):
            pass
        finally:
            sock.close()

    def close(self) -> None:
        for srv in self.listeners:
            srv.close()


@pytest.mark.parametrize(("ticket", "join", "grows"), [
    (b"t" * 32, b"", True),                       # the main socket
    (b"t" * 32, b"JOIN", True),                   # the socket the ticket names
    (b"t" * 31, b"", False),                      # not a ticket
    (b"t" * 33, b"", False),
    (b"t" * 32, b"join.sock", False),             # not an absolute path (though the client's cwd has it)
    (b"t" * 32, b"/" + b"x" * 120, False),        # longer than sun_path
    (b"t" * 32, b"JOIN\x00x", False),             # a NUL inside (before it: a socket that would join)
], ids=["main-socket", "join-socket", "short", "long", "relative", "too-long", "nul"])
def test_the_ticket_answer_is_checked(client: str, tmp_path: Path, ticket: bytes, join: bytes, grows: bool) -> None:
    main, other = tmp_path / "fake.sock", tmp_path / "join.sock"
    join = join.replace(b"JOIN", str(other).encode())
    fake = FakeService(main, ticket, join, also=other)
    try:
        body = """
        assert c.initialize() == 0
        rvs, start = [], threading.Barrier(3)

        def work():
            start.wait()
            for _ in range(15):
                rvs.append(c.slots()[0])

        ts = [threading.Thread(target=work) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print(json.dumps({"rvs": sorted(set(rvs)), "n": len(rvs), "held": sockets(), "fin": c.finalize()}))
        """
        code = (f"import json, os, sys, threading, time\nsys.path.insert(0, {str(HERE)!r})\nfrom capi import *\n"
                f"USER_PIN = ''\n" + BINDINGS + f"\nc = Client({client!r})\n" + textwrap.dedent(body))
        env = dict(os.environ, STRONGROOM_SERVICE=f"unix:{main}")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["rvs"] == [CKR_OK] and out["n"] == 45 and out["fin"] == CKR_OK
        asked = [b for cid, b in fake.calls if cid == 136]
        joins = [b for cid, b in fake.calls if cid == 137]
        assert len(asked) == 1                                # once, lazily, when calls overlapped
        if grows:
            assert joins and all(b.endswith(ticket) for b in joins)
            assert len(fake.connections) == 1 + len(joins) <= 3 and out["held"] == len(fake.connections)
            where = str(other) if join else str(main)
            assert fake.connections[1:] == [where] * len(joins)
        else:
            assert joins == [] and fake.connections == [str(main)] and out["held"] == 1
    finally:
        fake.close()
