"""The token service started as ``strongroom serve`` / ``python -m strongroom.server`` with
any options, a raw protocol client, and clients running as other uids (for the access and
serve tests)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from service_support import P11KIT_CLIENT
from test_service import Peer

from strongroom.server.calls_general import HANDSHAKE
from strongroom.server.message import MessageReader, MessageWriter
from support import subprocess_env

STRONGROOM = str(Path(sys.executable).with_name("strongroom"))


class Served:
    """One service process; ``argv`` replaces ``python -m strongroom.server``."""

    def __init__(self, home: Path, *args: str, argv: list[str] | None = None,
                 env: dict[str, str] | None = None, **popen: object) -> None:
        self.home = home
        self.env = env if env is not None else subprocess_env(home)
        extra = [] if argv or "--workers" in args else ["--workers", "1"]    # one process unless asked
        command = (argv or [sys.executable, "-m", "strongroom.server"]) + list(args) + extra
        self.proc = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, **popen)  # type: ignore[call-overload]
        assert self.proc.stdout is not None
        self.ready = self.proc.stdout.readline().strip()

    @property
    def socket(self) -> str:
        assert self.ready.startswith("READY "), (self.ready, self.stderr())
        return self.ready.removeprefix("READY ")

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=30)

    def log(self) -> str:
        path = self.home / "strongroom.log"
        return path.read_text() if path.exists() else ""

    def wait_log(self, text: str) -> str:
        for _ in range(100):              # the service writes from its connection threads
            if text in self.log():
                break
            time.sleep(0.05)
        return self.log()


def tool(socket: str, *args: str, user: int | None = None, group: int | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """pkcs11-tool through Debian's p11-kit-client.so, as ``user`` when given."""
    env = dict(env or os.environ, P11_KIT_SERVER_ADDRESS=f"unix:path={socket}")
    ids = {} if user is None else {"user": user, "group": group, "extra_groups": []}
    return subprocess.run(["pkcs11-tool", "--module", P11KIT_CLIENT, *args], env=env, cwd="/",
                          capture_output=True, text=True, timeout=120, **ids)  # type: ignore[call-overload]


def rv_of(body: bytes) -> int:
    """0 for an answer, the CK_RV of an error answer."""
    return int.from_bytes(body[-8:], "big") if body[:4] == b"\x00\x00\x00\x00" else 0


def slot_list(peer: Peer, present: int = 0) -> list[int]:
    body = peer.call(MessageWriter(4, "yfu").byte(present).raw("fu", (64).to_bytes(4, "big")).body())
    values = MessageReader(body, {4: "au"}).ulong_array(64)
    assert isinstance(values, list), body
    return values


def initialized_peer(socket: str, version: int = 0) -> Peer:
    peer = Peer(socket, version)
    body = peer.call(MessageWriter(1, "ayyay").byte_array(HANDSHAKE).byte(0).byte_array(b"\x00").body())
    assert rv_of(body) == 0
    return peer


def as_user(uid: int, gid: int, work: object) -> object:
    """``work()`` in a forked child running as uid/gid (no supplementary groups); its
    JSON-able result comes back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                  # the child: never returns
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            data = json.dumps({"ok": work()})     # type: ignore[operator]
        except BaseException as exc:              # reported to the parent
            data, code = json.dumps({"error": repr(exc)}), 1
        os.write(write, data.encode())
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        raw = fh.read()
    os.waitpid(pid, 0)
    result = json.loads(raw)
    assert "ok" in result, result
    return result["ok"]
