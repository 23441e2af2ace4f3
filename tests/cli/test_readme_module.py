"""Issue 11 item 16: the README's "Using the module" shell examples run verbatim, and the
signature pkcs11-tool makes is one the openssl line after it verifies."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import make_home, subprocess_env

ROOT = Path(__file__).resolve().parents[2]


def _engine_available() -> bool:
    out = subprocess.run(["openssl", "engine", "pkcs11", "-t"], capture_output=True, text=True)
    return out.returncode == 0


@pytest.mark.skipif(shutil.which("pkcs11-tool") is None, reason="pkcs11-tool not installed")
def test_using_the_module_examples_run_verbatim(tmp_path):
    section = (ROOT / "README.md").read_text().split("## Using the module", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 2 and "--signature-format openssl" in blocks[0]
    if not _engine_available():
        blocks = blocks[:1]          # the OpenSSL engine (libengine-pkcs11-openssl) is optional
    home = tmp_path / "home"
    make_home(home)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")        # `source .venv/bin/activate` as written
    script = "set -eu\n" + "\n".join(blocks)
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=subprocess_env(home),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Verified OK" in out.stdout
    if len(blocks) == 2:
        assert "Signature Verified Successfully" in out.stdout
