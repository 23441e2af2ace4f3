"""Access rules by the peer's OS identity (SO_PEERCRED), through real clients running as
throw-away system users: Debian's p11-kit-client.so with pkcs11-tool, and raw protocol
peers in forked children that setuid. Root only (useradd, setuid)."""
from __future__ import annotations

import os
import pwd
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import Served, as_user, initialized_peer, rv_of, slot_list, tool
from service_support import P11KIT_CLIENT

from strongroom.pkcs11.constants import CKR
from strongroom.server.message import MessageWriter, pack_array
from support import SO_PIN, USER_PIN, make_home

pytestmark = [
    pytest.mark.skipif(not os.path.exists(P11KIT_CLIENT), reason="p11-kit-modules not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates users and runs clients as them"),
]

NAMES = ("alice", "bob", "carol")          # alice: user + SO of her token; bob: nothing; carol: user only


@pytest.fixture(scope="module")
def users() -> Iterator[dict[str, pwd.struct_passwd]]:
    made: dict[str, pwd.struct_passwd] = {}
    try:
        for name in NAMES:
            login = f"srt-{name}-{os.getpid() % 100000}"
            subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                            "--shell", "/usr/sbin/nologin", login], check=True, capture_output=True)
            made[name] = pwd.getpwnam(login)
        yield made
    finally:
        for entry in made.values():
            subprocess.run(["userdel", entry.pw_name], capture_output=True)


@pytest.fixture
def served(tmp_path: Path, users: dict[str, pwd.struct_passwd]) -> Iterator[Served]:
    home = tmp_path / "home"
    make_home(home)
    (home / "service.toml").write_text(
        "max_connections_per_uid = 8\n"
        "[default]\nso_users = []\n\n"
        f'[[token]]\nlabel = "alice-tok"\nusers = ["{users["carol"].pw_name}"]\n'
        f'so_users = ["{users["alice"].pw_name}"]\n')
    run_dir = Path(tempfile.mkdtemp(prefix="sr-access-"))    # reachable by the other uids
    run_dir.chmod(0o755)
    svc = Served(home, "--socket", str(run_dir / "service.sock"))
    try:
        tool(svc.socket, "--init-token", "--slot-index", "0", "--label", "alice-tok", "--so-pin", SO_PIN)
        tool(svc.socket, "--token-label", "alice-tok", "--login", "--login-type", "so", "--so-pin", SO_PIN,
             "--init-pin", "--pin", USER_PIN)
        tool(svc.socket, "--init-token", "--slot-index", "1", "--label", "root-tok", "--so-pin", SO_PIN)
        yield svc
    finally:
        svc.stop()
        for child in run_dir.iterdir():
            child.unlink()
        run_dir.rmdir()


def _ids(entry: pwd.struct_passwd) -> dict[str, int]:
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def test_the_allowed_uid_sees_and_uses_its_token_only(served: Served, users: dict[str, pwd.struct_passwd]) -> None:
    alice = _ids(users["alice"])
    listing = tool(served.socket, "-L", **alice)
    assert listing.returncode == 0, listing.stderr
    assert "alice-tok" in listing.stdout and "root-tok" not in listing.stdout
    assert "uninitialized" not in listing.stdout             # the free slot: for the default SO only
    made = tool(served.socket, "--token-label", "alice-tok", "--login", "--pin", USER_PIN,
                "--keypairgen", "--key-type", "EC:prime256v1", "--label", "alice-key", **alice)
    assert made.returncode == 0, made.stdout + made.stderr
    listed = tool(served.socket, "--token-label", "alice-tok", "--login", "--pin", USER_PIN, "-O", **alice)
    assert "alice-key" in listed.stdout, listed.stderr
    so = tool(served.socket, "--token-label", "alice-tok", "--login", "--login-type", "so",
              "--so-pin", SO_PIN, "--change-pin", "--new-pin", SO_PIN, **alice)
    assert so.returncode == 0, so.stdout + so.stderr


def test_another_uid_sees_no_slot_and_every_slot_call_is_slot_id_invalid(
        served: Served, users: dict[str, pwd.struct_passwd]) -> None:
    bob = users["bob"]
    proc = subprocess.Popen(["pkcs11-tool", "--module", P11KIT_CLIENT, "-L"], cwd="/", text=True,
                            env=dict(os.environ, P11_KIT_SERVER_ADDRESS=f"unix:path={served.socket}"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, user=bob.pw_uid, group=bob.pw_gid,
                            extra_groups=[])
    out, err = proc.communicate(timeout=60)
    assert "alice-tok" not in out and "root-tok" not in out and "Slot 0" not in out, out + err

    def probe() -> dict[str, object]:
        peer = initialized_peer(served.socket)
        calls = {
            "GetSlotInfo": MessageWriter(5, "u").ulong(0), "GetTokenInfo": MessageWriter(6, "u").ulong(0),
            "GetMechanismList": MessageWriter(7, "ufu").ulong(0).raw("fu", (8).to_bytes(4, "big")),
            "GetMechanismInfo": MessageWriter(8, "uu").ulong(0).ulong(0x1040),
            "InitToken": MessageWriter(9, "uayz").ulong(2).byte_array(b"whatever").raw("z", pack_array(b"bob-tok")),
            "OpenSession": MessageWriter(10, "uu").ulong(0).ulong(0x6),
            "CloseAllSessions": MessageWriter(12, "u").ulong(1),
        }
        rvs: dict[str, object] = {name: rv_of(peer.call(w.body())) for name, w in calls.items()}
        rvs["all"], rvs["present"] = slot_list(peer, 0), slot_list(peer, 1)
        ext = initialized_peer(served.socket, 0x81)
        rvs["SR_GetTokenUsage"] = rv_of(ext.call(MessageWriter(133, "u").ulong(0).body()))
        return rvs

    rvs = as_user(bob.pw_uid, bob.pw_gid, probe)
    assert isinstance(rvs, dict)
    assert rvs.pop("all") == [] and rvs.pop("present") == []
    assert rvs == dict.fromkeys(rvs, CKR.SLOT_ID_INVALID)
    log = served.wait_log(f"denied pid {proc.pid} uid {bob.pw_uid} gid {bob.pw_gid}")
    assert f"uid {bob.pw_uid} gid {bob.pw_gid}" in log and "C_OpenSession on slot 0" in log
    assert SO_PIN not in log and "whatever" not in log


def _so_failures(served: Served) -> int:
    ext = initialized_peer(served.socket, 0x81)
    body = ext.call(MessageWriter(133, "u").ulong(0).body())
    assert rv_of(body) == 0
    return int.from_bytes(body[-16:-8], "big")       # user_failures, so_failures, max_tries


def test_a_uid_not_allowed_as_so_cannot_log_in_as_so_and_burns_no_try(
        served: Served, users: dict[str, pwd.struct_passwd]) -> None:
    carol = _ids(users["carol"])
    assert "alice-tok" in tool(served.socket, "-L", **carol).stdout             # carol may use it
    before = _so_failures(served)
    for pin in (SO_PIN, "wrong-so-pin"):
        out = tool(served.socket, "--token-label", "alice-tok", "--login", "--login-type", "so",
                   "--so-pin", pin, "--change-pin", "--new-pin", "x" * 8, **carol)
        assert out.returncode != 0 and "CKR_USER_TYPE_INVALID" in out.stdout + out.stderr
    init = tool(served.socket, "--init-token", "--token-label", "alice-tok", "--label", "carol",
                "--so-pin", SO_PIN, **carol)
    assert init.returncode != 0 and "CKR_USER_TYPE_INVALID" in init.stdout + init.stderr
    assert _so_failures(served) == before == 0
    user = tool(served.socket, "--token-label", "alice-tok", "--login", "--pin", USER_PIN, "-O", **carol)
    assert user.returncode == 0, user.stderr
    log = served.wait_log(f"uid {users['carol'].pw_uid} gid {users['carol'].pw_gid}: C_Login as SO")
    assert "C_Login as SO on slot 0" in log and "C_InitToken as SO on slot 0" in log


def test_connection_limit_per_uid(served: Served, users: dict[str, pwd.struct_passwd]) -> None:
    def connect_many() -> list[int]:
        held, answers = [], []
        for _ in range(9):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(served.socket)
            try:
                sock.sendall(b"\x00")
                answers.append(len(sock.recv(1)))     # 0: closed at once
            except ConnectionResetError:              # closed before our byte was read
                answers.append(0)
            held.append(sock)
        return answers

    carol = users["carol"]
    assert as_user(carol.pw_uid, carol.pw_gid, connect_many) == [1] * 8 + [0]
    assert f"more than 8 connections of uid {carol.pw_uid}" in served.wait_log("more than 8 connections")


def test_a_stalled_half_frame_blocks_nobody(served: Served) -> None:
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(served.socket)
    stalled.sendall(b"\x00")
    assert stalled.recv(1) == b"\x00"
    stalled.sendall(b"\x00\x00\x00\x11\x00\x00")         # half a header, then nothing
    started = time.monotonic()
    peer = initialized_peer(served.socket)
    assert slot_list(peer) == [0, 1, 2]                  # root: the owner sees every slot
    assert time.monotonic() - started < 5
    stalled.close()
