"""Smoke test of the benchmark (bench/): the C client runs every case for a fraction of a
second against strongroom, and against SoftHSM2 when it is installed, so the benchmark
cannot rot. Nothing is timed here: each case must give a number or say "unsupported"."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.modules import module_path
from support import make_home

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
_spec = importlib.util.spec_from_file_location("strongroom_bench_run", BENCH / "run.py")
bench_run = importlib.util.module_from_spec(_spec)   # bench/run.py: case lists, client build
_spec.loader.exec_module(bench_run)

LABEL, SO_PIN, PIN = "bench", "87654321", "12345678"


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Path:
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    return bench_run.build_client(tmp_path_factory.mktemp("client"))


def module_env(name: str, tmp: Path) -> tuple[str, dict[str, str]]:
    if name == "strongroom":
        return str(module_path()), dict(os.environ, **make_home(tmp / "home"))
    if not Path(SOFTHSM).is_file():
        pytest.skip("SoftHSM2 not installed (Debian package softhsm2)")
    (tmp / "tokens").mkdir()
    (tmp / "softhsm2.conf").write_text(f"directories.tokendir = {tmp / 'tokens'}\n"
                                       "objectstore.backend = file\nlog.level = ERROR\n")
    return SOFTHSM, dict(os.environ, SOFTHSM2_CONF=str(tmp / "softhsm2.conf"))


def call(client: Path, module: str, env: dict[str, str], *args: str) -> list[dict]:
    proc = subprocess.run([str(client), module, args[0], LABEL, *args[1:]], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def check(rows: list[dict], expected: list[str]) -> None:
    assert [r["case"] for r in rows] == expected
    for r in rows:
        if r["status"] == "unsupported":
            assert r["where"] and r["rv"].startswith("0x")
            continue
        assert r["status"] == "ok", r
        assert r["ops"] >= 1 and r["ops_per_s"] > 0 and 0 < r["median_us"] <= r["p99_us"], r


@pytest.mark.parametrize("name", ["strongroom", "softhsm2"])
def test_every_case_gives_a_number_or_unsupported(client, tmp_path, name):
    module, env = module_env(name, tmp_path)
    call(client, module, env, "setup", SO_PIN, PIN)
    quick = ("--seconds", "0.05", "--min-ops", "1")
    for keys in ("token", "session"):
        rows = call(client, module, env, "run", PIN, "--keys", keys, *quick, *bench_run.KEYED)
        check(rows, bench_run.KEYED)
    rows = call(client, module, env, "run", PIN, *quick, *bench_run.KEYLESS)
    check(rows, bench_run.KEYLESS)
    two = call(client, module, env, "run", PIN, "--threads", "2", *quick, "ecdsa_sign", "session", "keygen_ec")
    check(two, ["ecdsa_sign", "session", "keygen_ec"])
    assert all(r["threads"] == 2 for r in two)
    check(call(client, module, env, "populate", PIN, "0", "20"), ["create_object"])
    check(call(client, module, env, "run", PIN, "--find-n", "20", *quick, "find"), ["find"])
    cold = call(client, module, env, "coldstart", PIN, "--seconds", "0", "--min-ops", "2")
    check(cold, ["coldstart"])
    assert cold[0]["login_median_ms"] > 0 and cold[0]["excl_login_median_ms"] > 0
    if name == "strongroom":   # strongroom offers every mechanism the bench uses
        assert all(r["status"] == "ok" for r in rows + two)


@pytest.mark.parametrize("where", ["C_GetMechanismList", "C_GenerateKeyPair"])
def test_unsupported_is_reported_not_skipped(client, tmp_path, where):
    """A module without Ed25519 (strongroom behind a filter): the client prints the case as
    unsupported, whether the mechanism list or the call itself says so, and goes on."""
    so = tmp_path / "filter.so"
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-I", str(BENCH), "-o", str(so),
                    str(Path(__file__).with_name("filter_module.c")), "-ldl"], check=True)
    target, env = module_env("strongroom", tmp_path)
    env["FILTER_MODULE_TARGET"] = target
    if where == "C_GenerateKeyPair":
        env["FILTER_MODULE_LIST_ALL"] = "1"
    call(client, str(so), env, "setup", SO_PIN, PIN)
    rows = call(client, str(so), env, "run", PIN, "--seconds", "0.02", "--min-ops", "1",
                "ecdsa_sign", "ed25519_sign", "getinfo")
    check(rows, ["ecdsa_sign", "ed25519_sign", "getinfo"])
    assert [r["status"] for r in rows] == ["ok", "unsupported", "ok"]
    assert rows[1]["where"] == where and rows[1]["rv"] == "0x70"


def test_run_py_writes_the_report(tmp_path):
    """bench/run.py end to end on a tiny subset: markdown and JSON with the machine facts."""
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--seconds", "0.05", "--threads", "1,2",
         "--objects", "5,10", "--cold-seconds", "0", "--no-install", "--out", str(out),
         "--cases", "getinfo,ecdsa_sign,sha256_1k,find,coldstart"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    md = next(out.glob("*.md")).read_text()
    data = json.loads(next(out.glob("*.json")).read_text())
    for fact in ("cpu", "cores", "python", "cryptography", "openssl", "softhsm2", "strongroom_commit"):
        assert fact in data["facts"]
    assert "ECDSA P-256 sign" in md and "Cold start" in md and "targets" in md
    assert any(r["case"] == "ecdsa_sign" and r["module"] == "strongroom" and r["status"] == "ok"
               for r in data["runs"])
    assert any(p["case"] == "ecdsa_sign" for p in data["pyca"])
