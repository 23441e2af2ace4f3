#!/usr/bin/env python3
"""strongroom vs SoftHSM2 benchmark (issue 5): one command, one results file.

    .venv/bin/python bench/run.py [--seconds S] [--threads 1,2] [--quick] [--objects 1000,10000]

Builds bench/client.c with gcc, gives each module a fresh token (strongroom: a temporary
STRONGROOM_HOME with the default config, so the real scrypt KDF; SoftHSM2: its own
temporary SOFTHSM2_CONF and token directory; same label and PINs), runs every case of the
client for both modules with each thread count, measures raw pyca/cryptography for the
same operations in this process, and writes bench/results/<date>-<host>.md and .json.

SoftHSM2 is only needed by the benchmark, never by the token: if
/usr/lib/softhsm/libsofthsm2.so is missing the script runs `apt-get install softhsm2`
when it can (root or passwordless sudo), otherwise it measures strongroom alone and says
so. `--softhsm PATH` points at another build.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SOFTHSM_DEFAULT = "/usr/lib/softhsm/libsofthsm2.so"
LABEL, SO_PIN, USER_PIN = "bench", "87654321", "12345678"

# cases whose keys matter run twice: keys as token objects and as session objects
KEYED = ["ecdsa_sign", "ecdsa_verify", "rsa_pkcs_sign", "rsa_pss_sign", "rsa_oaep_decrypt",
         "ed25519_sign", "aes_gcm_1k", "aes_gcm_1m", "hmac_1k", "keygen_ec", "keygen_rsa"]
KEYLESS = ["getinfo", "sha256_1k", "sha256_1m", "random32", "session"]
CRYPTO = set(KEYED)   # "every cryptographic operation" of the targets

TITLES = {
    "getinfo": "C_GetInfo (per-call floor)",
    "ecdsa_sign": "ECDSA P-256 sign (CKM_ECDSA, 32 B)",
    "ecdsa_verify": "ECDSA P-256 verify",
    "rsa_pkcs_sign": "RSA-2048 SHA256_RSA_PKCS sign 1 KiB",
    "rsa_pss_sign": "RSA-2048 SHA256_RSA_PKCS_PSS sign 1 KiB",
    "rsa_oaep_decrypt": "RSA-2048 OAEP (SHA-1) decrypt",
    "ed25519_sign": "Ed25519 sign (CKM_EDDSA, 32 B)",
    "aes_gcm_1k": "AES-256-GCM encrypt 1 KiB",
    "aes_gcm_1m": "AES-256-GCM encrypt 1 MiB",
    "sha256_1k": "SHA-256 1 KiB (DigestInit+Digest)",
    "sha256_1m": "SHA-256 1 MiB (DigestInit+Digest)",
    "hmac_1k": "HMAC-SHA256 1 KiB",
    "keygen_ec": "C_GenerateKeyPair EC P-256",
    "keygen_rsa": "C_GenerateKeyPair RSA-2048",
    "random32": "C_GenerateRandom 32 B",
    "session": "C_OpenSession+C_CloseSession",
    "find": "C_FindObjects by CKA_LABEL",
    "create_object": "C_CreateObject token data object",
}


# ------------------------------------------------------------------ helpers

def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def build_client(out_dir: Path) -> Path:
    exe = out_dir / "client"
    cc = os.environ.get("CC", "gcc")
    subprocess.run([cc, "-O2", "-std=gnu11", "-Wall", "-pthread", "-o", str(exe),
                    str(BENCH / "client.c"), "-ldl"], check=True)
    return exe


def ensure_softhsm(path: str | None, allow_install: bool) -> str | None:
    if path:
        return path if Path(path).is_file() else None
    if Path(SOFTHSM_DEFAULT).is_file():
        return SOFTHSM_DEFAULT
    if not allow_install or not shutil.which("apt-get"):
        return None
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
        return None
    log("SoftHSM2 not found: apt-get install softhsm2 (benchmark only)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "softhsm2"], env=env)
    return SOFTHSM_DEFAULT if Path(SOFTHSM_DEFAULT).is_file() else None


class Module:
    """One PKCS#11 module with its own fresh token, driven through the C client."""

    def __init__(self, name: str, path: str, env: dict[str, str], client: Path) -> None:
        self.name, self.path, self.env, self.client = name, path, env, client

    def call(self, *args: str, timeout: float = 3600) -> list[dict]:
        argv = [str(self.client), self.path, args[0], LABEL, *args[1:]]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args)} exited {proc.returncode}:\n"
                               f"{proc.stdout}\n{proc.stderr}")
        rows = []
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                row["module"] = self.name
                rows.append(row)
        return rows

    def setup(self) -> None:
        self.call("setup", SO_PIN, USER_PIN)

    def run(self, cases: list[str], keys: str, threads: int, seconds: float, find_n: int = 0,
            min_ops: int = 2) -> list[dict]:
        extra = ["--find-n", str(find_n)] if find_n else []
        return self.call("run", USER_PIN, "--keys", keys, "--threads", str(threads),
                         "--seconds", str(seconds), "--min-ops", str(min_ops), *extra, *cases)


def strongroom_module(tmp: Path, client: Path) -> Module:
    sys.path.insert(0, str(REPO / "src"))
    from strongroom.modules import module_path
    home = tmp / "strongroom-home"
    home.mkdir()
    (home / "strongroom.toml").write_text(f'log_file = "{home / "strongroom.log"}"\n')
    env = dict(os.environ, STRONGROOM_HOME=str(home), STRONGROOM_CONFIG=str(home / "strongroom.toml"))
    return Module("strongroom", str(module_path()), env, client)


def softhsm_module(tmp: Path, client: Path, path: str) -> Module:
    tokens = tmp / "softhsm-tokens"
    tokens.mkdir()
    conf = tmp / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    return Module("softhsm2", path, dict(os.environ, SOFTHSM2_CONF=str(conf)), client)


# ------------------------------------------------------------------ pyca/cryptography ceiling

def pyca_ops() -> dict[str, object]:
    """Raw pyca/cryptography callables for the same operations (same sizes and parameters)."""
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    digest = b"\x42" * 32
    msg1k = b"\x17" * 1024
    d1k, d1m = b"\x5a" * 1024, b"\x5a" * (1024 * 1024)
    eck = ec.generate_private_key(ec.SECP256R1())
    ecpub = eck.public_key()
    ecdsa = ec.ECDSA(Prehashed(hashes.SHA256()))
    sig = eck.sign(digest, ecdsa)
    rk = rsa.generate_private_key(65537, 2048)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    ct = rk.public_key().encrypt(digest, oaep)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    edk = ed25519.Ed25519PrivateKey.generate()
    aes = AESGCM(b"\x01" * 32)
    hkey = b"\x02" * 32
    counter = iter(range(1 << 62))

    def sha(data: bytes):
        def op():
            h = hashes.Hash(hashes.SHA256())
            h.update(data)
            return h.finalize()
        return op

    def gcm(data: bytes):
        def op():
            return aes.encrypt(next(counter).to_bytes(12, "big"), data, None)
        return op

    def mac():
        h = hmac.HMAC(hkey, hashes.SHA256())
        h.update(msg1k)
        return h.finalize()

    return {
        "ecdsa_sign": lambda: eck.sign(digest, ecdsa),
        "ecdsa_verify": lambda: ecpub.verify(sig, digest, ecdsa),
        "rsa_pkcs_sign": lambda: rk.sign(msg1k, padding.PKCS1v15(), hashes.SHA256()),
        "rsa_pss_sign": lambda: rk.sign(msg1k, pss, hashes.SHA256()),
        "rsa_oaep_decrypt": lambda: rk.decrypt(ct, oaep),
        "ed25519_sign": lambda: edk.sign(digest),
        "aes_gcm_1k": gcm(d1k),
        "aes_gcm_1m": gcm(d1m),
        "sha256_1k": sha(d1k),
        "sha256_1m": sha(d1m),
        "hmac_1k": mac,
        "keygen_ec": lambda: ec.generate_private_key(ec.SECP256R1()),
        "keygen_rsa": lambda: rsa.generate_private_key(65537, 2048),
        "random32": lambda: os.urandom(32),   # os.urandom, not pyca: the obvious Python source
    }


def time_python(op, threads: int, seconds: float, min_ops: int = 2) -> dict:
    lat: list[list[int]] = [[] for _ in range(threads)]
    start_evt = threading.Barrier(threads + 1)
    deadline = [0.0]
    spans: list[tuple[int, int]] = [(0, 0)] * threads

    def worker(i: int) -> None:
        mine = lat[i]
        clock = time.perf_counter_ns
        start_evt.wait()
        end_ns = deadline[0]
        t0 = prev = clock()
        while True:
            op()
            now = clock()
            mine.append(now - prev)
            prev = now
            if now >= end_ns and len(mine) >= min_ops:
                break
        spans[i] = (t0, now)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    deadline[0] = time.perf_counter_ns() + int(seconds * 1e9)
    start_evt.wait()
    for t in ts:
        t.join()
    allv = sorted(v for part in lat for v in part)
    wall = (max(e for _, e in spans) - min(s for s, _ in spans)) / 1e9
    n = len(allv)
    return {"status": "ok", "ops": n, "seconds": wall, "ops_per_s": n / wall,
            "median_us": allv[n // 2] / 1e3, "p99_us": allv[min(n * 99 // 100, n - 1)] / 1e3}


# ------------------------------------------------------------------ facts

def machine_facts(softhsm: str | None) -> dict:
    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    sys.path.insert(0, str(REPO / "src"))
    import strongroom
    dirty = sh(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "setup.py", "pyproject.toml"])
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "cryptography_openssl": backend.openssl_version_text(),
        "openssl": sh(["openssl", "version"]),
        "softhsm2": (sh(["dpkg-query", "-W", "-f=${Version}", "softhsm2"]) or sh(["softhsm2-util", "--version"]))
                    if softhsm else "not installed",
        "softhsm2_module": softhsm,
        "gcc": sh(["gcc", "-dumpfullversion"]),
        "strongroom": strongroom.__version__,
        "strongroom_commit": sh(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
        "strongroom_src_dirty": bool(dirty),
        "strongroom_kdf": "default config (scrypt N=2^15, r=8, p=1)",
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# ------------------------------------------------------------------ report

def fmt_rate(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_us(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= 10000:
        return f"{x / 1000:,.1f} ms"
    if x >= 100:
        return f"{x:,.0f} µs"
    return f"{x:.2f} µs"


def fmt_ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "—"
    r = a / b
    return f"{r:,.0f}×" if r >= 100 else f"{r:.2f}×"


def cell(row: dict | None) -> str:
    if row is None:
        return "—"
    if row["status"] != "ok":
        return f"{row['status']} ({row.get('where', '')} {row.get('rv', '')})".replace("  ", " ")
    return fmt_rate(row["ops_per_s"])


def build_report(facts: dict, rows: list[dict], pyca: dict, args: argparse.Namespace) -> tuple[str, dict]:
    def get(module, case, keys, threads, objects=None):
        for r in rows:
            if (r["module"], r["case"], r["keys"], r["threads"]) == (module, case, keys, threads) and \
                    (objects is None or r.get("objects") == objects):
                return r
        return None

    def ok(r):
        return r is not None and r["status"] == "ok"

    def rate(r):
        return r["ops_per_s"] if ok(r) else None

    has_sh = facts["softhsm2_module"] is not None
    t2 = 2 if 2 in args.threads else None
    lines = []
    summary_rows = []

    def add_row(title, keys, case, objects=None, pyca_key=None):
        sr1 = get("strongroom", case, keys, 1, objects)
        sh1 = get("softhsm2", case, keys, 1, objects) if has_sh else None
        py = pyca.get((pyca_key or case, 1))
        sr2 = get("strongroom", case, keys, t2, objects) if t2 else None
        sh2 = get("softhsm2", case, keys, t2, objects) if t2 and has_sh else None
        py2 = pyca.get((pyca_key or case, t2)) if t2 else None
        entry = {
            "case": case, "keys": keys, "objects": objects, "title": title,
            "strongroom": rate(sr1), "strongroom_median_us": sr1["median_us"] if ok(sr1) else None,
            "strongroom_p99_us": sr1["p99_us"] if ok(sr1) else None,
            "softhsm2": rate(sh1), "softhsm2_median_us": sh1["median_us"] if ok(sh1) else None,
            "pyca": py["ops_per_s"] if py else None,
            "strongroom_scaling": (rate(sr2) / rate(sr1)) if rate(sr2) and rate(sr1) else None,
            "softhsm2_scaling": (rate(sh2) / rate(sh1)) if rate(sh2) and rate(sh1) else None,
            "pyca_scaling": (py2["ops_per_s"] / py["ops_per_s"]) if py and py2 else None,
        }
        summary_rows.append(entry)
        lines.append("| " + " | ".join([
            title, keys,
            cell(sr1), fmt_us(entry["strongroom_median_us"]), fmt_us(entry["strongroom_p99_us"]),
            cell(sh1) if has_sh else "not installed", fmt_us(entry["softhsm2_median_us"]),
            fmt_ratio(entry["strongroom"], entry["softhsm2"]),
            fmt_rate(entry["pyca"]), fmt_ratio(entry["strongroom"], entry["pyca"]),
            f"{entry['strongroom_scaling']:.2f}" if entry["strongroom_scaling"] else "—",
            f"{entry['softhsm2_scaling']:.2f}" if entry["softhsm2_scaling"] else "—",
            f"{entry['pyca_scaling']:.2f}" if entry["pyca_scaling"] else "—",
        ]) + " |")

    out = [f"# strongroom vs SoftHSM2 — {facts['date']} on {facts['host']}", ""]
    out += ["| machine | |", "|---|---|"]
    for k in ("cpu", "cores", "affinity_cores", "kernel", "python", "cryptography", "cryptography_openssl",
              "openssl", "softhsm2", "gcc", "strongroom", "strongroom_commit", "strongroom_src_dirty",
              "strongroom_kdf", "strongroom_commit_at_end", "loadavg_at_start", "loadavg_at_end"):
        if k in facts:
            out.append(f"| {k} | {facts[k]} |")
    out += ["", f"Command: `{facts['command']}` — {args.seconds} s per case and thread count, "
            f"threads {','.join(map(str, args.threads))}; total {facts['total_seconds']:.0f} s.", ""]

    head = ("| case | keys | strongroom ops/s | median | p99 | SoftHSM2 ops/s | SoftHSM2 median | "
            "strongroom ÷ SoftHSM2 | pyca ops/s | strongroom ÷ pyca | 2-thr scaling strongroom | "
            "2-thr scaling SoftHSM2 | 2-thr scaling pyca |")
    sep = "|" + "---|" * 13
    lines += [head, sep]
    for case in KEYLESS[:1]:
        add_row(TITLES[case], "—", case)
    for case in KEYED:
        for keys in ("token", "session"):
            add_row(TITLES[case], keys, case)
    for case in KEYLESS[1:]:
        add_row(TITLES[case], "—", case)
    for n in args.objects:
        add_row(f"{TITLES['create_object']} (up to {n:,})", "token", "create_object", n)
        add_row(f"{TITLES['find']} among {n:,}", "token", "find", n)
    out += ["## Results (1 thread; scaling = ops/s with 2 threads ÷ ops/s with 1)", ""] + lines + [""]

    # cold start
    cs = {m: get(m, "coldstart", "token", 1) for m in ("strongroom", "softhsm2")}
    out += ["## Cold start (fresh process per sample: dlopen + C_Initialize + C_OpenSession + C_Login + "
            "C_Finalize)", "",
            "| | strongroom median | p99 | SoftHSM2 median | p99 | strongroom ÷ SoftHSM2 (time) |",
            "|---|---|---|---|---|---|"]
    for key, label in (("excl_login", "total excluding C_Login"), ("login", "C_Login (PIN KDF)"),
                       ("init", "dlopen + C_Initialize"), ("total", "total in process"),
                       ("wall", "fork → exit (incl. exec, teardown)")):
        a, b = cs["strongroom"], cs["softhsm2"]
        av = a.get(f"{key}_median_ms") if ok(a) else None
        bv = b.get(f"{key}_median_ms") if ok(b) else None
        ap = a.get(f"{key}_p99_ms") if ok(a) else None
        bp = b.get(f"{key}_p99_ms") if ok(b) else None
        ms = (lambda x: "—" if x is None else f"{x:.2f} ms")
        ratio = f"{av / bv:.1f}×" if av and bv else "—"
        out.append(f"| {label} | {ms(av)} | {ms(ap)} | {ms(bv)} | {ms(bp)} | {ratio} |")
    out.append("")

    # targets of issue 5
    def find_entry(case, keys, objects=None):
        for e in summary_rows:
            if e["case"] == case and e["keys"] == keys and e["objects"] == objects:
                return e
        return None

    targets = []

    def target(name, value, goal, unit="×"):
        if value is None:
            targets.append((name, "—", f"≥ {goal}{unit}", "not measured"))
        else:
            targets.append((name, f"{value:.2f}{unit}", f"≥ {goal}{unit}", "met" if value >= goal else "missed"))

    for case in KEYED:
        for keys in ("token", "session"):
            e = find_entry(case, keys)
            v = e["strongroom"] / e["softhsm2"] if e and e["strongroom"] and e["softhsm2"] else None
            target(f"{TITLES[case]} ({keys}) vs SoftHSM2", v, 1.0)
    for case in ("ecdsa_sign", "ed25519_sign"):
        for keys in ("token", "session"):
            e = find_entry(case, keys)
            v = e["strongroom"] / e["pyca"] if e and e["strongroom"] and e["pyca"] else None
            target(f"{TITLES[case]} ({keys}) vs pyca", v, 0.7)
    for case in ("aes_gcm_1m", "sha256_1m"):
        for keys in (("token", "session") if case in KEYED else ("—",)):
            e = find_entry(case, keys)
            v = e["strongroom"] / e["pyca"] if e and e["strongroom"] and e["pyca"] else None
            target(f"{TITLES[case]} ({keys}) vs pyca", v, 0.9)
    for n in args.objects:   # the goals are set at 1,000 and 10,000 objects
        goal = 1000 if n >= 10000 else 100 if n >= 1000 else None
        e = find_entry("find", "token", n)
        v = e["strongroom"] / e["softhsm2"] if e and e["strongroom"] and e["softhsm2"] else None
        if goal:
            target(f"find by label among {n:,} vs SoftHSM2", v, goal)
    prev = 0
    for n in args.objects:
        e = find_entry("create_object", "token", n)
        v = e["strongroom"] / e["softhsm2"] if e and e["strongroom"] and e["softhsm2"] else None
        target(f"create token objects ({prev:,}..{n:,}) vs SoftHSM2", v, 5)
        prev = n
    for case in ("getinfo", "random32", "sha256_1k", "session"):
        e = find_entry(case, "—")
        med = e["strongroom_median_us"] if e else None
        targets.append((f"{TITLES[case]}: strongroom median", f"{med:.2f} µs" if med else "—",
                        "< 3 µs per ABI round trip" if case == "getinfo" else "(measured; no target)",
                        ("met" if med < 3 else "missed") if med and case == "getinfo" else "—"))
    a, b = cs["strongroom"], cs["softhsm2"]
    if ok(a) and ok(b):
        r = a["excl_login_median_ms"] / b["excl_login_median_ms"]
        targets.append(("cold start excl. C_Login vs SoftHSM2 (time)", f"{r:.1f}×", "≤ 10×",
                        "met" if r <= 10 else "missed"))
    out += ["## Issue 5 targets at this commit (1 thread)", "", "| target | measured | goal | |",
            "|---|---|---|---|"]
    out += [f"| {a_} | {b_} | {c_} | {d_} |" for a_, b_, c_, d_ in targets]
    out += ["", "## Notes", "",
            "- Client: `bench/client.c`, the same C code for both modules (dlopen + C_GetFunctionList, "
            "C_Initialize with CKF_OS_LOCKING_OK). Each case runs for a fixed time per host thread, one "
            "session per thread; the login is the application's (the main session logs in once). "
            "Every operation is timed with clock_gettime(CLOCK_MONOTONIC) into a preallocated array; "
            "ops/s = all threads' operations ÷ wall time.",
            "- Each sign/verify/encrypt/decrypt/digest operation is a full Init + single-part call "
            "(e.g. C_SignInit + C_Sign), with an output buffer large enough (no size query).",
            "- OAEP uses SHA-1 / MGF1-SHA-1 for both modules: SoftHSM2 2.6 supports only SHA-1 OAEP.",
            "- AES-GCM: 96-bit IV incremented per message, 128-bit tag, no AAD. HMAC key: 32-byte "
            "CKK_GENERIC_SECRET. Keys: CKA_PRIVATE, CKA_SENSITIVE.",
            "- Key generation: generated objects are destroyed after the timed loop (untimed); "
            "'token' generates token objects (CKA_TOKEN true, written to the store).",
            "- Find/create: token data objects (CKO_DATA, CKA_PRIVATE true, 32-byte CKA_VALUE, label "
            "bench-obj-N); the find template is {CKA_CLASS, CKA_LABEL}, must return exactly one "
            "object; creation rate is that of the objects created up to the given count.",
            "- pyca: pyca/cryptography in the benchmark's Python process, same sizes and parameters; "
            "random32 is os.urandom(32). Its 2-thread scaling shows what the GIL allows.",
            "- strongroom runs with its default config: the C_Login share of the cold start is the "
            "scrypt PIN KDF (memory-hard on purpose).",
            ""]
    return "\n".join(out), {"summary": summary_rows, "targets": [
        dict(zip(("target", "measured", "goal", "status"), t)) for t in targets]}


# ------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=None, help="time per case and thread count (default 2)")
    ap.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    ap.add_argument("--quick", action="store_true", help="short run: 0.25 s per case, 100/1,000 objects")
    ap.add_argument("--objects", default=None, help="object counts for create/find (default 1000,10000)")
    ap.add_argument("--cold-seconds", type=float, default=None, help="time for cold-start samples (default 3)")
    ap.add_argument("--softhsm", default=None, help=f"SoftHSM2 module (default {SOFTHSM_DEFAULT})")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install softhsm2")
    ap.add_argument("--no-softhsm", action="store_true", help="measure strongroom only")
    ap.add_argument("--no-pyca", action="store_true", help="skip the pyca/cryptography ceiling")
    ap.add_argument("--out", default=str(BENCH / "results"), help="results directory")
    ap.add_argument("--cases", default=None, help="comma list to run a subset (default all)")
    args = ap.parse_args(argv)
    args.seconds = args.seconds if args.seconds is not None else (0.25 if args.quick else 2.0)
    args.cold_seconds = args.cold_seconds if args.cold_seconds is not None else (0.5 if args.quick else 3.0)
    args.objects = [int(x) for x in (args.objects or ("100,1000" if args.quick else "1000,10000")).split(",")]
    args.threads = [int(x) for x in args.threads.split(",")]
    only = set(args.cases.split(",")) if args.cases else None
    keyed = [c for c in KEYED if not only or c in only]
    keyless = [c for c in KEYLESS if not only or c in only]
    t_start = time.monotonic()

    softhsm = None if args.no_softhsm else ensure_softhsm(args.softhsm, not args.no_install)
    if not softhsm and not args.no_softhsm:
        log("SoftHSM2 not available (install Debian's softhsm2): measuring strongroom alone")
    facts = machine_facts(softhsm)
    facts["command"] = " ".join([Path(sys.executable).name, "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    rows: list[dict] = []
    pyca: dict[tuple[str, int], dict] = {}

    with tempfile.TemporaryDirectory(prefix="strongroom-bench-") as tmpd:
        tmp = Path(tmpd)
        client = build_client(tmp)
        modules = [strongroom_module(tmp, client)]
        if softhsm:
            modules.append(softhsm_module(tmp, client, softhsm))
        for m in modules:
            log(f"{m.name}: fresh token ({m.path})")
            m.setup()

        # groups run module after module, so slow drift of the machine hits both alike
        def each(what: str, fn) -> None:
            for m in modules:
                log(f"{m.name}: {what}")
                got = fn(m)
                for r in got:
                    if r["status"] != "ok":
                        log(f"  {r['case']} ({r['keys']}, {r['threads']} thr): {r['status']} "
                            f"{r.get('where', '')} {r.get('rv', '')}")
                rows.extend(got)

        for keys in ("token", "session"):
            for th in args.threads:
                if keyed:
                    each(f"{len(keyed)} keyed cases, {keys} keys, {th} thread(s)",
                         lambda m: m.run(keyed, keys, th, args.seconds))
        for th in args.threads:
            if keyless:
                each(f"{len(keyless)} keyless cases, {th} thread(s)",
                     lambda m: [dict(r, keys="—") for r in m.run(keyless, "token", th, args.seconds)])
        if not only or "coldstart" in only:
            each("cold start", lambda m: m.call("coldstart", USER_PIN, "--seconds", str(args.cold_seconds),
                                                "--min-ops", "5"))
        if not only or "find" in only:
            have = 0
            for n in args.objects:
                each(f"create token objects {have}..{n}",
                     lambda m: m.call("populate", USER_PIN, str(have), str(n)))
                have = n
                for th in args.threads:
                    each(f"find among {n} objects, {th} thread(s)",
                         lambda m: m.run(["find"], "token", th, args.seconds, find_n=n))

    if not args.no_pyca:
        ops = pyca_ops()
        for case, op in ops.items():
            if only and case not in only:
                continue
            for th in args.threads:
                log(f"pyca: {case}, {th} thread(s)")
                pyca[(case, th)] = time_python(op, th, args.seconds)

    facts["total_seconds"] = time.monotonic() - t_start
    facts["loadavg_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    end_commit = sh(["git", "-C", str(REPO), "rev-parse", "HEAD"])
    if end_commit != facts["strongroom_commit"]:
        facts["strongroom_commit_at_end"] = end_commit   # HEAD moved during the run
    md, summary = build_report(facts, rows, pyca, args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{_dt.date.today().isoformat()}-{socket.gethostname()}"
    (out_dir / f"{stem}.md").write_text(md)
    (out_dir / f"{stem}.json").write_text(json.dumps({
        "facts": facts,
        "settings": {"seconds": args.seconds, "threads": args.threads, "objects": args.objects,
                     "cold_seconds": args.cold_seconds},
        "runs": rows,
        "pyca": [dict(v, case=k[0], threads=k[1]) for k, v in pyca.items()],
        **summary,
    }, indent=1, ensure_ascii=False) + "\n")
    print(md)
    log(f"wrote {out_dir / stem}.md and .json ({facts['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
