"""Login by OS identity (server/identity.py): a token whose rule says ``login =
"os-identity"`` reports a protected authentication path, its SO sets the user PIN with
C_InitPIN(NULL) and an allowed peer logs in with C_Login(CKU_USER, NULL) -- here a real
second uid through Debian's p11-kit-client.so; a PIN given there is refused before it is
counted, and the store without the service key opens nothing."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import Served, tool
from service_support import P11KIT_CLIENT

from support import SO_PIN, make_home

pytestmark = [pytest.mark.skipif(not os.path.exists(P11KIT_CLIENT), reason="p11-kit-modules not installed"),
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another uid")]
NOBODY = 65534


@pytest.fixture
def device(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    home = tmp_path / "home"
    make_home(home)
    (home / "service.toml").write_text(f'[[token]]\nlabel = "device"\nlogin = "os-identity"\nusers = [{NOBODY}]\n')
    run_dir = Path(tempfile.mkdtemp(prefix="sr-ident-"))       # reachable by uid 65534
    run_dir.chmod(0o755)
    svc = Served(home, "--socket", str(run_dir / "s.sock"))
    try:
        tool(svc.socket, "--init-token", "--slot-index", "0", "--label", "device", "--so-pin", SO_PIN)
        made = tool(svc.socket, "--token-label", "device", "--login", "--login-type", "so", "--so-pin", SO_PIN,
                    "--init-pin")                               # no --pin: C_InitPIN(NULL)
        assert made.returncode == 0, made.stdout + made.stderr
        yield svc, run_dir
    finally:
        svc.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def _user(svc: Served, *args: str, uid: int | None = None) -> str:
    proc = tool(svc.socket, "--token-label", "device", "--login", *args, user=uid, group=uid)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_the_token_reports_a_protected_path_and_the_peer_logs_in_without_a_pin(
        device: tuple[Served, Path]) -> None:
    svc, _ = device
    assert "PIN pad present" in tool(svc.socket, "-L").stdout          # CKF_PROTECTED_AUTHENTICATION_PATH
    _user(svc, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "01", "--label", "dev-key")
    listing = _user(svc, "-O", uid=NOBODY)                            # another uid, by its identity
    assert "Private Key Object" in listing and "dev-key" in listing
    key = svc.home / "service.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    store = b"".join(p.read_bytes() for p in svc.home.glob("strongroom.db*"))
    assert key.read_bytes() not in store


def test_a_pin_given_on_such_a_token_is_refused_before_it_is_counted(device: tuple[Served, Path]) -> None:
    svc, _ = device
    for _ in range(12):                                   # more than pin_max_tries: never locked
        proc = tool(svc.socket, "--token-label", "device", "--login", "--pin", "0000", "-O")
        assert "CKR_ARGUMENTS_BAD" in proc.stdout + proc.stderr
    assert "user PIN count low" not in tool(svc.socket, "-L").stdout
    _user(svc, "-O")


def test_without_the_service_key_the_token_stays_closed(device: tuple[Served, Path], tmp_path: Path) -> None:
    svc, run_dir = device
    _user(svc, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "02")
    svc.stop()
    (svc.home / "service.key").rename(tmp_path / "kept.key")      # the store alone
    again = Served(svc.home, "--socket", str(run_dir / "s2.sock"))
    try:
        proc = tool(again.socket, "--token-label", "device", "--login", "-O")
        assert proc.returncode != 0 and "CKR_PIN_INCORRECT" in proc.stdout + proc.stderr
    finally:
        again.stop()
    (tmp_path / "kept.key").replace(svc.home / "service.key")      # and with it back
    back = Served(svc.home, "--socket", str(run_dir / "s3.sock"))
    try:
        assert "Private Key Object" in _user(back, "-O")
    finally:
        back.stop()
