"""``strongroom demo`` as install.sh runs it (in-process module) and with ``--service``
(the token service plus the client module): each step's command is printed, OpenSSL
verifies, the work directory goes away and the demo's service is stopped."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from cli_support import STRONGROOM

from strongroom.modules import client_path


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env.pop("STRONGROOM_SERVICE", None)
    return subprocess.run([STRONGROOM, "demo", *args], env=env, capture_output=True, text=True, timeout=300)


def test_demo_in_process_verifies_and_cleans_up(tmp_path: Path) -> None:
    proc = _demo(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verified OK" in proc.stdout
    assert "libstrongroom.so" in proc.stdout and "libstrongroom-client.so" not in proc.stdout
    assert not list(tmp_path.glob("strongroom-demo-*"))


def test_demo_through_the_service_verifies_and_stops_it(tmp_path: Path) -> None:
    if not client_path().is_file():
        pytest.skip("libstrongroom-client.so not built")
    proc = _demo(tmp_path, "--service", "--keep")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verified OK" in proc.stdout and "the token service signed" in proc.stdout
    steps = [line for line in proc.stdout.splitlines() if line.startswith("$ pkcs11-tool")]
    assert len(steps) == 6 and all("libstrongroom-client.so" in s for s in steps)
    ready = re.search(r"READY (\S+)", proc.stdout)
    assert ready is not None
    assert not Path(ready.group(1)).exists()         # the service stopped and removed its socket
    (workdir,) = tmp_path.glob("strongroom-demo-*")
    assert (workdir / "home" / "strongroom.db").is_file()       # the token the service kept
    assert (workdir / "message.sig").stat().st_size > 0


def test_demo_home_that_cannot_be_made_is_one_line_naming_the_remedy(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    proc = _demo(tmp_path, "--service", "--home", str(blocker / "home"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--home" in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("strongroom-demo-*"))


def test_demo_service_that_cannot_start_says_why(tmp_path: Path) -> None:
    if not client_path().is_file():
        pytest.skip("libstrongroom-client.so not built")
    home = tmp_path / "home"
    home.mkdir()
    (home / "service.toml").write_text("workers = \"many\"\n")     # refused by the service
    proc = _demo(tmp_path, "--service", "--home", str(home))
    assert proc.returncode == 1
    assert "the service did not start" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert not list(tmp_path.glob("strongroom-demo-*"))
