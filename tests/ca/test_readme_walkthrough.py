"""The README's "Device certificates from a token-held CA" walkthrough, run verbatim:
tokens, a PKCS#12 import, a CA, provisioning, and a mutual-TLS handshake in which OpenSSL
signs with both token keys through the pkcs11 engine."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from support import make_home

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Device certificates from a token-held CA"


def _engine_available() -> bool:
    """OpenSSL's pkcs11 engine (Debian: libengine-pkcs11-openssl) loads."""
    if not shutil.which("openssl"):
        return False
    return subprocess.run(["openssl", "engine", "-t", "pkcs11"], capture_output=True).returncode == 0


def walkthrough_commands() -> str:
    """The shell blocks of the README section, joined in order."""
    text = (REPO / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end > 0 else None]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, flags=re.S | re.M)
    assert blocks, "no ```sh block in the README section"
    return "\n".join(blocks)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # as s_server does (TIME_WAIT is fine)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.skipif(not _engine_available(), reason="openssl or its pkcs11 engine (libengine-pkcs11-openssl) missing")
def test_readme_walkthrough(tmp_path):
    if not _port_free(8443):
        pytest.skip("port 8443 (used by the README's s_server) is busy")
    script = walkthrough_commands()
    (tmp_path / ".venv").symlink_to(REPO / ".venv")          # the README's `source .venv/bin/activate`
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM", "PKCS11_MODULE"))}
    env.update(make_home(tmp_path / "walkthrough-home"))     # same home the script exports, fast KDF
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):          # a stray s_server if the script failed
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert "audit log of CA device-ca: ok, 4 records" in out
    assert "dev-0001.pem: OK" in out
    client = (tmp_path / "client.log").read_text()
    server = (tmp_path / "server.log").read_text()
    assert "Verify return code: 0 (ok)" in client, client
    assert re.search(r"subject=CN ?= ?dev-0001", client), client      # the provisioned device answered
    assert "depth=0 CN = operator" in server and "verify error" not in server, server
    assert not (tmp_path / "operator.key").exists()
    # the keys OpenSSL used are on the token and never extractable
    listing = subprocess.run([str(REPO / ".venv/bin/strongroom"), "objects", "--token", "fleet",
                              "--pin-source", "file:user.pin", "--json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    objects = json.loads(listing.stdout)
    devices = [o for o in objects if o["type"] == "private" and o["label"] == "Device Priv TLS Key"]
    assert sorted(bytes.fromhex(o["id"]).decode() for o in devices) == ["dev-0001", "dev-0002", "dev-0003"]
    for o in devices + [o for o in objects if o["type"] == "private" and o["label"] == "operator"]:
        assert o["attributes"]["CKA_SENSITIVE"] is True and o["attributes"]["CKA_EXTRACTABLE"] is False
        assert o["attributes"]["CKA_VALUE"] == "<sensitive>"
