"""libstrongroom-client.so in foreign hosts: bare interpreters of other Python versions (no
strongroom, no venv, ``-I -S``) that load it with ctypes and sign on the token; a process of
another uid (65534) that sees the tokens the service's rules give it and nothing else; and
the memory of a host that signed with an imported key, scanned for the private scalar.
Every signature is verified here with pyca/cryptography."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from service_support import Service

from support import SO_PIN, USER_PIN, make_home

NOBODY = 65534
CKR_SLOT_ID_INVALID = 0x3
VENV_PY = f"{sys.version_info.major}.{sys.version_info.minor}"      # the service's Python

# The host: a PKCS#11 application written against ctypes and the standard library only (it
# runs under ``-I -S``). One JSON argument says what to do; it prints JSON lines, the last the
# result. Any CK_RV other than CKR_OK ends it with exit code 3 and the failing call named.
HOST = r'''
import ctypes, json, os, sys
from ctypes import POINTER, Structure, byref, c_char_p, c_ubyte, c_ulong, c_void_p
args = json.loads(sys.argv[1])
U = c_ulong
class Attr(Structure):
    _fields_ = [("type", U), ("pValue", c_void_p), ("ulValueLen", U)]
class Mech(Structure):
    _fields_ = [("mechanism", U), ("pParameter", c_void_p), ("ulParameterLen", U)]
L = ctypes.CDLL(args["client"])
SIG = {"C_Initialize": [c_void_p], "C_Finalize": [c_void_p], "C_GetSlotList": [c_ubyte, POINTER(U), POINTER(U)],
       "C_GetTokenInfo": [U, c_void_p], "C_OpenSession": [U, U, c_void_p, c_void_p, POINTER(U)],
       "C_CloseSession": [U], "C_Login": [U, U, c_char_p, U], "C_Logout": [U],
       "C_FindObjectsInit": [U, POINTER(Attr), U], "C_FindObjects": [U, POINTER(U), U, POINTER(U)],
       "C_FindObjectsFinal": [U], "C_SignInit": [U, POINTER(Mech), U],
       "C_Sign": [U, c_char_p, U, c_char_p, POINTER(U)]}
for name, argtypes in SIG.items():
    fn = getattr(L, name)
    fn.argtypes, fn.restype = argtypes, U
out = {"pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0], "calls": []}
def ck(name, *a, ok=(0,)):
    rv = int(getattr(L, name)(*a))
    out["calls"].append([name, rv])
    if rv not in ok:
        out["failed"] = [name, rv]
        print(json.dumps(out), flush=True)
        sys.exit(3)
    return rv
def label_of(slot):
    info = ctypes.create_string_buffer(512)            # CK_TOKEN_INFO is 208 bytes; label first
    ck("C_GetTokenInfo", slot, info)
    return info.raw[:32].decode().rstrip()
ck("C_Initialize", None)
n = U(0)
ck("C_GetSlotList", 0, None, byref(n))
slots = (U * max(n.value, 1))()
ck("C_GetSlotList", 0, slots, byref(n))
out["slots"] = {int(s): label_of(s) for s in slots[: n.value]}
out["probe"] = {}
for slot in args.get("probe", []):
    info, h = ctypes.create_string_buffer(512), U(0)
    out["probe"][slot] = [int(L.C_GetTokenInfo(slot, info)), int(L.C_OpenSession(slot, 4, None, None, byref(h)))]
slot = [s for s, lab in out["slots"].items() if lab == args["token"]][0]
h = U(0)
ck("C_OpenSession", slot, 4, None, None, byref(h))       # CKF_SERIAL_SESSION
pin = args["pin"].encode()
ck("C_Login", h, 1, pin, len(pin))                          # CKU_USER
cls, label = U(3), args["key"].encode()                     # CKO_PRIVATE_KEY
lb = ctypes.create_string_buffer(label, len(label))
tmpl = (Attr * 2)(Attr(0x0, ctypes.cast(byref(cls), c_void_p), ctypes.sizeof(cls)),
                  Attr(0x3, ctypes.cast(lb, c_void_p), len(label)))
ck("C_FindObjectsInit", h, tmpl, 2)
found, count = (U * 4)(), U(0)
ck("C_FindObjects", h, found, 4, byref(count))
ck("C_FindObjectsFinal", h)
assert count.value == 1, count.value
digest = bytes.fromhex(args["digest"])
mech = Mech(0x1041, None, 0)                                # CKM_ECDSA over the digest
ck("C_SignInit", h, byref(mech), found[0])
size = U(0)
ck("C_Sign", h, digest, len(digest), None, byref(size))     # the length first (v2.40 5.2)
sig = ctypes.create_string_buffer(size.value)
ck("C_Sign", h, digest, len(digest), sig, byref(size))
out["signature"] = sig.raw[: size.value].hex()
with open("/proc/self/maps") as fh:
    out["maps"] = sorted({line.split(None, 5)[5].strip() for line in fh if len(line.split(None, 5)) == 6})
if args.get("wait"):
    canary = os.urandom(32)                                   # the scan's positive control
    print(json.dumps({"ready": True, "pid": out["pid"], "canary": canary.hex()}), flush=True)
    sys.stdin.readline()
    out["canary_alive"] = len(canary)
ck("C_Logout", h)
ck("C_CloseSession", h)
ck("C_Finalize", None)
print(json.dumps(out), flush=True)
'''


# --- helpers ----------------------------------------------------------------------------------
def _tool(client: str, socket: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM")}
    env["STRONGROOM_SERVICE"] = f"unix:{socket}"
    proc = subprocess.run(["pkcs11-tool", "--module", client, *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _init_token(client: str, socket: Path, label: str, slot_index: int = 0) -> None:
    _tool(client, socket, "--init-token", "--slot-index", str(slot_index), "--label", label, "--so-pin", SO_PIN)
    _tool(client, socket, "--token-label", label, "--login", "--login-type", "so", "--so-pin", SO_PIN,
          "--init-pin", "--pin", USER_PIN)


def _ec_key(client: str, socket: Path, token: str, label: str, kid: str) -> ec.EllipticCurvePublicKey:
    """An EC P-256 key pair generated on the token through the client; its public key."""
    _tool(client, socket, "--token-label", token, "--login", "--pin", USER_PIN, "--keypairgen",
          "--key-type", "EC:prime256v1", "--id", kid, "--label", label)
    with tempfile.NamedTemporaryFile(suffix=".der") as der:
        _tool(client, socket, "--token-label", token, "--read-object", "--type", "pubkey", "--id", kid,
              "-o", der.name)
        pub = serialization.load_der_public_key(Path(der.name).read_bytes())
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    return pub


def _host_args(client: str, token: str, key: str, digest: bytes, **extra: object) -> str:
    return json.dumps({"client": client, "token": token, "pin": USER_PIN, "key": key, "digest": digest.hex(),
                       **extra})


def _result(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, f"host exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _verify(pub: ec.EllipticCurvePublicKey, digest: bytes, raw_hex: str) -> None:
    raw = bytes.fromhex(raw_hex)
    assert len(raw) == 64                                         # r || s of P-256
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    pub.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))    # raises InvalidSignature


def _pyenv_python(version: str) -> Path | None:
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv"), "/root/.pyenv"]
    for root in filter(None, roots):
        found = sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}"),
                       key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)])
        if found:
            return found[-1]
    return None


# --- other Python versions, bare ----------------------------------------------------------------
@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_bare_interpreter_of_another_python_signs_through_the_client(client: str, service: Service,
                                                                     version: str) -> None:
    python = _pyenv_python(version)
    if python is None:
        pytest.skip(f"no pyenv Python {version} (pyenv root: {os.environ.get('PYENV_ROOT', '~/.pyenv')})")
    if version == VENV_PY:
        pytest.skip(f"the service runs on Python {version} too: nothing foreign to show")
    _init_token(client, service.socket, "hosts")
    pub = _ec_key(client, service.socket, "hosts", "host-key", "11")
    digest = os.urandom(32)
    env = {"STRONGROOM_SERVICE": f"unix:{service.socket}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(python), "-I", "-S", "-c", HOST, _host_args(client, "hosts", "host-key", digest)],
                          env=env, cwd="/", capture_output=True, text=True, timeout=60)
    out = _result(proc)
    assert out["python"].startswith(version + ".")
    assert "hosts" in out["slots"].values()
    _verify(pub, digest, out["signature"])
    maps = out["maps"]
    assert any(Path(p).name == "libstrongroom-client.so" for p in maps), maps      # the scan sees the client
    assert not [p for p in maps if Path(p).name == "libstrongroom.so"], maps         # not the in-process module
    assert not [p for p in maps if f"libpython{VENV_PY}" in p], maps                 # not the service's Python
    assert not [p for p in maps if p.startswith((sys.prefix, sys.base_prefix + "/"))], maps
    assert not [p for p in maps if "_cffi_backend" in p or "site-packages" in p], maps


# --- another uid -----------------------------------------------------------------------------------
@pytest.fixture
def ruled_service(tmp_path: Path, client: str) -> Iterator[tuple[Service, Path]]:
    """A service whose rules give uid 65534 the token "shared" (and nothing else: "private" has
    no rule, the free slot is for no SO), its socket in a directory that uid reaches, and a
    copy of the client that uid can read."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a process as uid 65534")
    home = tmp_path / "home"
    make_home(home)
    (home / "service.toml").write_text(f'[default]\nso_users = []\n\n[[token]]\nlabel = "shared"\nusers = [{NOBODY}]\n')
    run_dir = Path(tempfile.mkdtemp(prefix="sr-hosts-"))
    run_dir.chmod(0o755)
    shutil.copy2(client, run_dir / "libstrongroom-client.so")
    svc = Service(home, run_dir / "s.sock")
    try:
        yield svc, run_dir
    finally:
        if svc.proc.poll() is None:
            svc.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def _slot_ids(client: str, socket: Path) -> dict[str, int]:
    listing = _tool(client, socket, "-L").stdout
    ids = {}
    for block in listing.split("\nSlot ")[1:]:
        m = re.search(r"\(0x([0-9a-f]+)\)", block)
        lab = re.search(r"token label\s+:\s+(\S+)", block)
        if m and lab:
            ids[lab.group(1)] = int(m.group(1), 16)
    return ids


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="no system python3 that uid 65534 may run")
def test_another_uid_uses_the_token_its_rule_allows_and_sees_no_other(client: str, ruled_service: tuple[
        Service, Path]) -> None:
    svc, run_dir = ruled_service
    _init_token(client, svc.socket, "shared", 0)
    _init_token(client, svc.socket, "private", 1)
    ids = _slot_ids(client, svc.socket)
    assert set(ids) == {"shared", "private"}, ids
    pub = _ec_key(client, svc.socket, "shared", "nobody-key", "21")
    digest = os.urandom(32)
    env = {"STRONGROOM_SERVICE": f"unix:{svc.socket}", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    args = _host_args(str(run_dir / "libstrongroom-client.so"), "shared", "nobody-key", digest,
                      probe=[ids["private"]])
    proc = subprocess.run(["/usr/bin/python3", "-I", "-S", "-c", HOST, args], env=env, cwd="/",
                          capture_output=True, text=True, timeout=60, user=NOBODY, group=NOBODY, extra_groups=[])
    out = _result(proc)
    assert out["uid"] == NOBODY
    assert out["slots"] == {str(ids["shared"]): "shared"}            # neither "private" nor the free slot
    assert out["probe"] == {str(ids["private"]): [CKR_SLOT_ID_INVALID, CKR_SLOT_ID_INVALID]}
    _verify(pub, digest, out["signature"])
    log = (svc.home / "strongroom.log").read_text()
    assert f"connection from pid {out['pid']} uid {NOBODY} gid {NOBODY}" in log    # the kernel's word


# --- memory -----------------------------------------------------------------------------------------
def _scan(pid: int, needles: dict[str, bytes]) -> tuple[dict[str, list[str]], int]:
    """Every readable mapping of ``pid`` read through /proc/PID/mem (as root); where each needle
    occurs (mapping names), and how many bytes were read."""
    hits: dict[str, list[str]] = {name: [] for name in needles}
    total = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split(None, 5)
            if "r" not in fields[1] or line.rstrip().endswith(("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            total += len(chunk)
            where = fields[5].strip() if len(fields) == 6 else "[anon]"
            for name, needle in needles.items():
                if needle in chunk:
                    hits[name].append(where)
    return hits, total


def test_the_private_key_never_enters_the_host_memory(client: str, service: Service, tmp_path: Path) -> None:
    """A known P-256 key imported (pkcs11-tool --write-object, another process); a host that
    logs in and signs with it is stopped with its session open and its memory read: the
    private scalar is in it neither big-endian nor in the little-endian limb order of a
    BIGNUM, while a canary the host keeps is found (the scan works). What the service's
    memory holds is printed, not asserted."""
    _init_token(client, service.socket, "mem")
    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    der = tmp_path / "imported.der"
    der.write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    _tool(client, service.socket, "--token-label", "mem", "--login", "--pin", USER_PIN, "--write-object", str(der),
          "--type", "privkey", "--id", "31", "--label", "imported", "--usage-sign")
    der.unlink()
    digest = os.urandom(32)
    env = {"STRONGROOM_SERVICE": f"unix:{service.socket}", "PATH": "/usr/bin:/bin"}
    host = subprocess.Popen([sys.executable, "-I", "-S", "-c", HOST,
                             _host_args(client, "mem", "imported", digest, wait=True)],
                            env=env, cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert host.stdout is not None and host.stdin is not None
        ready = json.loads(host.stdout.readline() or "{}")
        assert ready.get("ready"), host.stderr.read() if host.stderr else ""
        needles = {"scalar": scalar, "scalar-le": scalar[::-1], "canary": bytes.fromhex(ready["canary"])}
        hits, total = _scan(host.pid, needles)
        service_hits, service_total = _scan(service.proc.pid, {"scalar": scalar, "scalar-le": scalar[::-1]})
        print(f"\nservice pid {service.proc.pid}: {service_total} bytes read; scalar found in "
              f"{service_hits['scalar'] or 'nothing'} (big-endian), {service_hits['scalar-le'] or 'nothing'} "
              "(little-endian)")
        host.stdin.write("go\n")
        host.stdin.flush()
        rest, err = host.communicate(timeout=30)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    assert host.returncode == 0, rest + err
    out = json.loads(rest.strip().splitlines()[-1])
    _verify(key.public_key(), digest, out["signature"])            # it did sign with the imported key
    assert total > 1 << 20 and hits["canary"], (total, hits)          # the scan read the host and works
    assert hits["scalar"] == [] and hits["scalar-le"] == [], hits
