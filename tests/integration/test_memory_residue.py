"""No key, PIN or master key is left in a host's memory after C_Logout and C_Finalize.

How the scan works, and why this way. The host (memory_residue_host.py) is a separate
Python process that loads the real libstrongroom.so with cffi, so the scan sees that one
host and nothing of pytest. The secrets must be known to whoever scans, but a scanner
inside the host would itself hold the needles it looks for (and a hash-per-window search
over hundreds of MiB is far too slow). So the host scans nothing: the parent (this
test) holds the needles and reads the host's memory through /proc/<pid>/maps and
/proc/<pid>/mem while the host waits at a checkpoint -- the same view the host's own
/proc/self/mem gives, read by its parent (the kernel allows a parent to read a
child's memory under the default Yama policy and as the same user; the test skips
when it may not). The host reads its secrets from a pipe straight into bytearrays,
passes pointers into them, and zeroes them right after each call, so every copy found
is one the module made. The master key and the keys derived from it are computed here
from the store file and the user PIN with pyca alone (an oracle independent of the
code under test).

Scanned: every readable mapping that is writable or anonymous (heap, stacks, arenas,
OpenSSL's allocations); read-only file mappings (code, constants) cannot hold a key.
"""
from __future__ import annotations

import os
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from support import make_home

HOST = Path(__file__).with_name("memory_residue_host.py")
_CALLS = {"destroy": "C_DestroyObject", "logout": "C_Logout", "finalize": "C_Finalize"}
CHUNK = 1 << 22


def _secrets() -> dict[str, bytes]:
    """Fresh secrets in the host's stdin order (memory_residue_host.SECRETS)."""
    key = rsa.generate_private_key(65537, 2048).private_numbers()

    def b(n: int, size: int) -> bytes:
        return n.to_bytes(size, "big")

    scalar = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return {
        "so_pin": os.urandom(8).hex().encode(), "first_user_pin": os.urandom(8).hex().encode(),
        "user_pin": os.urandom(8).hex().encode(),
        "ec": b(scalar, 32), "aes": os.urandom(32),
        "rsa_n": b(key.public_numbers.n, 256), "rsa_d": b(key.d, 256), "rsa_p": b(key.p, 128),
        "rsa_q": b(key.q, 128), "rsa_dp": b(key.dmp1, 128), "rsa_dq": b(key.dmq1, 128),
        "rsa_qinv": b(key.iqmp, 128), "aes_refused": os.urandom(32),
        "aes_destroyed": os.urandom(32), "canary": os.urandom(32),
    }


def _strip(value: bytes) -> bytes:
    """Big integers are stored minimal (no leading zero bytes): look for that form."""
    return value.lstrip(b"\x00")


def _store_keys(db: Path, pins: dict[str, bytes]) -> dict[str, bytes]:
    """Master key, both PIN keys and the sealing keys, from the file and the PINs."""
    con = sqlite3.connect(db)
    row = con.execute("SELECT uuid, user_wrap, user_salt, user_log2_n, user_r, user_p, "
                      "so_salt, so_log2_n, so_r, so_p FROM tokens").fetchone()
    con.close()
    uuid, wrap, salt, log2_n, r, p, so_salt, so_log2_n, so_r, so_p = row
    kek = Scrypt(salt=bytes(salt), length=32, n=1 << log2_n, r=r, p=p).derive(pins["user_pin"])
    so_kek = Scrypt(salt=bytes(so_salt), length=32, n=1 << so_log2_n, r=so_r, p=so_p).derive(
        pins["so_pin"])
    aad = b"strongroom master key wrap\x00" + bytes(uuid) + struct.pack(">Q", 1)
    master = AESGCM(kek).decrypt(bytes(wrap[:12]), bytes(wrap[12:]), aad)
    out = {"master key": master, "user PIN key": kek, "SO PIN key": so_kek}
    for name, info in (("seal key", b"strongroom attribute seal"),
                       ("manifest key", b"strongroom object manifest"),
                       ("index key", b"strongroom blind index")):
        out[name] = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)
    return out


def _regions(pid: int) -> list[tuple[int, int, str]]:
    regions = []
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            perms, path = parts[1], (parts[5].strip() if len(parts) > 5 else "")
            if perms[0] != "r" or path in ("[vvar]", "[vsyscall]", "[vdso]", "[vvar_vclock]"):
                continue
            if perms[1] != "w" and path and not path.startswith("["):
                continue     # read-only file mapping: code and constants
            start, end = (int(x, 16) for x in parts[0].split("-"))
            regions.append((start, end, f"{perms} {path or '[anon]'}"))
    return regions


def scan(pid: int, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """{needle name: [mapping of each hit]} over the process's readable private memory."""
    hits: dict[str, list[str]] = {}
    overlap = max(len(n) for n in needles.values()) - 1
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for start, end, where in _regions(pid):
            pos, tail = start, b""
            while pos < end:
                try:
                    mem.seek(pos)
                    chunk = tail + mem.read(min(CHUNK, end - pos))
                except OSError:
                    break
                for name, needle in needles.items():
                    i = chunk.find(needle)
                    while i >= 0:
                        hits.setdefault(name, []).append(f"{hex(pos - len(tail) + i)} {where}")
                        i = chunk.find(needle, i + 1)
                pos += CHUNK
                tail = chunk[-overlap:]
    return hits


def _report(stage: str, hits: dict[str, list[str]]) -> str:
    lines = [f"after {stage}: {name} found {len(at)}x, e.g. at {at[0]}" for name, at in hits.items()]
    return "\n".join(lines)


#: host scenario -> its checkpoints (memory_residue_host.py)
SCENARIOS = {"ec": ("logout", "finalize"), "all": ("destroy", "logout", "finalize")}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_secret_left_after_logout_and_finalize(tmp_path: Path, scenario: str) -> None:
    """"ec" is the issue's report exactly (import an EC key, sign, C_Logout); "all" adds
    AES and RSA keys, a refused import, a session copy, a destroyed key, PIN changes."""
    home = tmp_path / "home"
    env = {**os.environ, **make_home(home)}
    secrets = _secrets()
    host = subprocess.Popen([sys.executable, str(HOST), scenario], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert host.stdin is not None and host.stdout is not None
    try:
        host.stdin.write(b"".join(secrets.values()))
        host.stdin.flush()
        needles = {name: _strip(v) for name, v in secrets.items() if name != "rsa_n"}
        found = {}
        for stage in SCENARIOS[scenario]:
            line = host.stdout.readline().decode().strip()
            if line != stage:
                host.kill()
                pytest.fail(f"host did not reach {stage}: {host.stderr.read().decode()}")
            if stage == "logout":
                needles.update(_store_keys(home / "strongroom.db", secrets))
            try:
                # at "destroy" only the destroyed key must be gone (the rest is in use)
                found[stage] = scan(host.pid, needles if stage != "destroy" else
                                    {n: needles[n] for n in ("aes_destroyed", "canary")})
            except PermissionError:
                pytest.skip("this kernel does not let a parent read its child's memory")
            host.stdin.write(b"g")
            host.stdin.flush()
        assert host.wait(timeout=30) == 0, host.stderr.read().decode()
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    for stage, hits in found.items():   # the control: a value the host keeps must be seen
        assert hits.pop("canary", None), f"scan after {stage} missed the host's live canary"
    assert not any(found.values()), "\n".join(
        _report(_CALLS[stage], hits) for stage, hits in found.items() if hits)
