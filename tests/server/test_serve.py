"""``strongroom serve``: readiness line, clean SIGTERM, stale and live sockets, one-line
errors without a traceback, sd_notify, systemd socket activation, the socket's mode."""
from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import STRONGROOM, Served, initialized_peer, slot_list, tool
from service_support import P11KIT_CLIENT

from support import make_home, subprocess_env

pytestmark = pytest.mark.skipif(not os.path.exists(P11KIT_CLIENT), reason="p11-kit-modules not installed")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    make_home(path)
    return path


@pytest.fixture
def stop_later() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for svc in started:
        svc.stop()


def _serve(home: Path, started: list[Served], *args: str, **kw: object) -> Served:
    svc = Served(home, *args, argv=[STRONGROOM, "serve"], **kw)
    started.append(svc)
    return svc


def _one_line_error(svc: Served) -> str:
    code = svc.proc.wait(timeout=30)
    err = svc.stderr()
    assert code != 0 and svc.ready == "", (code, svc.ready, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_ready_line_then_sigterm_exits_0_and_removes_the_socket(home: Path, tmp_path: Path,
                                                                 stop_later: list[Served]) -> None:
    path = tmp_path / "run" / "service.sock"
    svc = _serve(home, stop_later, "--socket", str(path), "--workers", "3")
    assert svc.ready == f"READY {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 and stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert "Slot 0" in tool(svc.socket, "-L").stdout
    assert "serving with 3 worker processes" in svc.wait_log("worker processes")
    svc.proc.send_signal(signal.SIGTERM)
    assert svc.proc.wait(timeout=30) == 0
    assert not path.exists()


def test_sigint_with_a_connection_open_finalises_it_and_exits_0(home: Path, tmp_path: Path,
                                                                 stop_later: list[Served]) -> None:
    svc = _serve(home, stop_later, "--socket", str(tmp_path / "s.sock"))
    peer = initialized_peer(svc.socket)
    assert slot_list(peer) == [0]
    svc.proc.send_signal(signal.SIGINT)
    assert svc.proc.wait(timeout=30) == 0
    assert peer.sock.recv(16) == b""                     # the service ended the connection


def test_a_stale_socket_is_replaced(home: Path, tmp_path: Path, stop_later: list[Served]) -> None:
    path = tmp_path / "s.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()                                         # the file stays, nobody listens
    svc = _serve(home, stop_later, "--socket", str(path), "--workers", "3")
    assert svc.ready == f"READY {path}"
    assert "removing the stale socket" in svc.wait_log("stale socket")


def test_a_live_socket_is_refused_in_one_line(home: Path, tmp_path: Path, stop_later: list[Served]) -> None:
    path = tmp_path / "s.sock"
    first = _serve(home, stop_later, "--socket", str(path))
    assert first.ready
    second = _serve(home, stop_later, "--socket", str(path))
    err = _one_line_error(second)
    assert f"another service is listening on {path}; stop it or pick --socket" in err
    assert first.proc.poll() is None and path.exists()


def test_a_socket_directory_that_cannot_be_made_is_one_line(home: Path, tmp_path: Path,
                                                            stop_later: list[Served]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    err = _one_line_error(_serve(home, stop_later, "--socket", str(blocker / "s.sock")))
    assert "cannot create the socket directory" in err and "--socket" in err


@pytest.mark.parametrize(("text", "expected"), [
    ("sockets = 1\n", "sockets: unknown key"),
    ("workers = 0\n", "workers: 0 must be a whole number"),
    ('[default]\nusers = ["no-such-user-srt"]\n', 'default.users: no such user "no-such-user-srt"'),
    ('[[token]]\nusers = [0]\n', "token[0]: needs exactly one of label or serial"),
    ('[[token]]\nlabel = "a"\nso_group = ["root"]\n', "token[0].so_group: unknown key"),
    ("workers = \n", "not a TOML file"),
])
def test_a_bad_config_is_one_line_naming_file_and_key(home: Path, tmp_path: Path, stop_later: list[Served],
                                                      text: str, expected: str) -> None:
    config = tmp_path / "service.toml"
    config.write_text(text)
    svc = _serve(home, stop_later, "--socket", str(tmp_path / "s.sock"), "--config", str(config))
    err = _one_line_error(svc)
    assert svc.proc.returncode == 2 and f"{config}: " in err and expected in err, err
    assert not (tmp_path / "s.sock").exists()


def test_the_homes_service_toml_is_read(home: Path, tmp_path: Path, stop_later: list[Served]) -> None:
    (home / "service.toml").write_text(f'socket = "{tmp_path / "from-config.sock"}"\nworkers = 2\n')
    svc = _serve(home, stop_later)
    assert svc.ready == f"READY {tmp_path / 'from-config.sock'}"
    assert "serving with 2 worker processes" in svc.wait_log("worker processes")


def test_sd_notify_ready_datagram(home: Path, tmp_path: Path, stop_later: list[Served]) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(30)
    env = dict(subprocess_env(home), NOTIFY_SOCKET=str(tmp_path / "notify"))
    svc = _serve(home, stop_later, "--socket", str(tmp_path / "s.sock"), env=env)
    message = listener.recv(4096).decode()
    assert svc.ready and "READY=1" in message.splitlines()
    assert f"MAINPID={svc.proc.pid}" in message                # the CLI exec'd: same pid
    svc.proc.terminate()
    assert svc.proc.wait(timeout=30) == 0
    assert "STOPPING=1" in listener.recv(4096).decode()


def test_socket_activation_uses_the_inherited_fd(home: Path, tmp_path: Path, stop_later: list[Served]) -> None:
    path = tmp_path / "activated.sock"
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(path))
    listening.listen(8)
    fd = listening.fileno()
    script = f'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" serve 3<&{fd}'   # bash keeps its pid on exec
    svc = Served(home, argv=["bash", "-c", script, STRONGROOM], pass_fds=(fd,))
    stop_later.append(svc)
    assert svc.ready == f"READY {path}"
    assert "Slot 0" in tool(str(path), "-L").stdout
    svc.proc.terminate()
    assert svc.proc.wait(timeout=30) == 0
    assert path.exists()                                  # systemd's socket: not removed
    listening.close()


def test_python_m_strongroom_server_is_the_same_command(home: Path, tmp_path: Path,
                                                        stop_later: list[Served]) -> None:
    out = subprocess.run([sys.executable, "-m", "strongroom.server", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--workers" in out.stdout and "--config" in out.stdout
    svc = Served(home, "--socket", str(tmp_path / "s.sock"))
    stop_later.append(svc)
    assert svc.ready == f"READY {tmp_path / 's.sock'}"


def test_socket_group_makes_the_socket_0660_with_that_group(home: Path, tmp_path: Path,
                                                            stop_later: list[Served]) -> None:
    gid = os.getgid()
    (home / "service.toml").write_text(f"socket_group = {gid}\n")
    svc = _serve(home, stop_later, "--socket", str(tmp_path / "s.sock"))
    info = os.stat(svc.socket)
    assert stat.S_IMODE(info.st_mode) == 0o660 and info.st_gid == gid


def test_a_home_open_to_others_is_made_0700(home: Path, tmp_path: Path, stop_later: list[Served]) -> None:
    home.chmod(0o755)
    svc = _serve(home, stop_later, "--socket", str(tmp_path / "s.sock"))
    assert svc.socket
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert "was open to other users (mode 755); it is now 0700" in svc.wait_log("it is now 0700")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the home to another uid")
def test_a_home_of_another_owner_is_refused_in_one_line(home: Path, tmp_path: Path,
                                                       stop_later: list[Served]) -> None:
    os.chown(home, 65534, -1)
    err = _one_line_error(_serve(home, stop_later, "--socket", str(tmp_path / "s.sock")))
    assert f"the token home {home} belongs to uid 65534" in err and "chown it" in err
    assert not (tmp_path / "s.sock").exists()
