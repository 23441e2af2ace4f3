#!/usr/bin/env python3
"""The token service benchmark (issue 13): the neutral C client (bench/client.c) drives
each module side by side in one run, and the results go to bench/results/.

    .venv/bin/python bench/service_bench.py [--seconds S] [--cases ecdsa_sign,random32,...]

Modules (each with a fresh token, same label and PINs as bench/run.py):
- ``strongroom``: the in-process module (libstrongroom.so);
- ``strongroom-service``: strongroom's token service reached through strongroom's own
  client module (libstrongroom-client.so), when it is built;
- ``strongroom-p11kit``: the same service reached through Debian's stock p11-kit-client.so;
- ``softhsm2``: SoftHSM2 in-process;
- ``softhsm2-p11kit``: SoftHSM2 behind ``p11-kit server`` with p11-kit-client.so, the
  isolation users have today.

For each module and case: 1 thread, 2 threads of one application, and 2 applications
(two client processes at once, their rates summed); then the cold start. A case a module
cannot run (p11-kit-client.so carries no parameter for many mechanisms) is shown "n/a".
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import run as base  # noqa: E402  (bench/run.py: Module, build_client, the SoftHSM2 setup)

P11KIT_CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
DEFAULT_CASES = ["getinfo", "random32", "ecdsa_sign", "ed25519_sign", "rsa_pkcs_sign", "sha256_1k", "session"]


def _wait_socket(path: Path, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(400):
        if path.exists():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}")
        time.sleep(0.025)
    raise RuntimeError(f"{what}: no socket at {path}")


def start_strongroom_service(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    sock = tmp / "strongroom.sock"
    proc = subprocess.Popen([sys.executable, "-m", "strongroom.server", "--socket", str(sock)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_socket(sock, proc, "strongroom service")
    return proc, sock


def start_p11kit_server(tmp: Path, provider: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    sock = tmp / "p11kit-softhsm.sock"
    proc = subprocess.Popen(["p11-kit", "server", "-f", "--provider", provider, "-n", str(sock),
                             f"pkcs11:token={base.LABEL}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_socket(sock, proc, "p11-kit server")
    return proc, sock


def run_case(m: base.Module, case: str, threads: int, seconds: float) -> dict | None:
    try:
        rows = m.run([case], "token", threads, seconds)
    except RuntimeError as exc:
        base.log(f"{m.name} {case} x{threads}: {str(exc).splitlines()[0]}")
        return None
    row = rows[0] if rows else None
    return row if row and row.get("status") == "ok" else None


def two_applications(m: base.Module, case: str, seconds: float) -> float | None:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        rows = list(pool.map(lambda _: run_case(m, case, 1, seconds), range(2)))
    if any(r is None for r in rows):
        return None
    return sum(r["ops_per_s"] for r in rows if r)


def measure(modules: list[base.Module], cases: list[str], seconds: float, cold: float) -> dict:
    out: dict = {}
    for m in modules:
        res: dict = {}
        for case in cases:
            one, two = run_case(m, case, 1, seconds), run_case(m, case, 2, seconds)
            res[case] = {"1": one, "2": two, "2apps": two_applications(m, case, seconds)}
            base.log(f"{m.name:20} {case:14} 1t {fmt(one)} 2t {fmt(two)} 2apps {res[case]['2apps'] or 0:,.0f}/s")
        try:
            res["coldstart"] = m.call("coldstart", base.USER_PIN, "--seconds", str(cold))[0]
        except (RuntimeError, IndexError) as exc:
            base.log(f"{m.name} coldstart: {str(exc).splitlines()[0]}")
            res["coldstart"] = None
        out[m.name] = res
    return out


def fmt(row: dict | None) -> str:
    return f"{row['ops_per_s']:>10,.0f}/s {row['median_us']:>8.1f} µs" if row else "       n/a"


def _rate(res: dict, module: str, case: str, key: str) -> float | None:
    cell = res.get(module, {}).get(case, {}).get(key) if module in res else None
    if isinstance(cell, dict):
        return float(cell["ops_per_s"])
    return float(cell) if isinstance(cell, int | float) else None


def report(res: dict, cases: list[str], facts: dict) -> str:
    mods = list(res)
    lines = [f"# Token service benchmark, {facts['date']} ({facts['host']})", "",
             f"Machine: {facts['cpu']}, {facts['cores']} cores; Python {facts['python']}; commit {facts['commit']}.",
             f"{facts['seconds']} s per case and thread count; token objects; rates in operations per second "
             "(median latency in µs).", "", "| case | threads | " + " | ".join(mods) + " |",
             "|---|---|" + "---|" * len(mods)]
    for case in cases:
        for key, label in (("1", "1"), ("2", "2 (one app)"), ("2apps", "2 apps")):
            cells = []
            for m in mods:
                cell = res[m].get(case, {}).get(key)
                if isinstance(cell, dict):
                    cells.append(f"{cell['ops_per_s']:,.0f} ({cell['median_us']:.1f})")
                else:
                    cells.append(f"{cell:,.0f}" if cell else "n/a")
            lines.append(f"| {case} | {label} | " + " | ".join(cells) + " |")
    lines += ["", "| cold start (load + C_Initialize + C_OpenSession + C_Login + C_Finalize) | median ms |",
              "|---|---|"]
    for m in mods:
        cs = res[m].get("coldstart")
        lines.append(f"| {m} | {cs['total_median_ms']:.2f} (login {cs['login_median_ms']:.2f})" if cs else f"| {m} | n/a")
    lines += ["", "## Targets", ""]
    svc = "strongroom-service" if "strongroom-service" in res else "strongroom-p11kit"

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}×" if a and b else "n/a"

    e1 = _rate(res, svc, "ecdsa_sign", "1")
    lines.append(f"- ECDSA P-256 through {svc}, 1 thread vs SoftHSM2 in-process: "
                 f"{ratio(e1, _rate(res, 'softhsm2', 'ecdsa_sign', '1'))} (target ≥ 1.2×); "
                 f"vs SoftHSM2 behind p11-kit: {ratio(e1, _rate(res, 'softhsm2-p11kit', 'ecdsa_sign', '1'))} (≥ 3×)")
    lines.append(f"- 2 threads of one application vs 1: {ratio(_rate(res, svc, 'ecdsa_sign', '2'), e1)} (≥ 1.6×); "
                 f"2 applications vs one: {ratio(_rate(res, svc, 'ecdsa_sign', '2apps'), e1)} (≥ 1.8×)")
    rnd = res.get(svc, {}).get("random32", {}).get("1")
    lines.append(f"- C_GenerateRandom 32 B round trip median: {rnd['median_us']:.1f} µs (≤ 25 µs)" if rnd
                 else "- C_GenerateRandom: n/a")
    return "\n".join(lines) + "\n"


def facts(seconds: float) -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    commit = base.sh(["git", "-C", str(base.REPO), "rev-parse", "--short", "HEAD"])
    return {"date": _dt.date.today().isoformat(), "host": platform.node(), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "commit": commit, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--cold-seconds", type=float, default=3.0)
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES))
    ap.add_argument("--modules", default="", help="comma-separated module names to measure (default: all)")
    ap.add_argument("--out", default=str(BENCH / "results"))
    ap.add_argument("--tag", default="service")
    args = ap.parse_args(argv)
    cases = args.cases.split(",")
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="sr-svc-bench-") as t:
        tmp = Path(t)
        client = base.build_client(tmp)
        inproc = base.strongroom_module(tmp, client)
        inproc.setup()
        modules = [inproc]
        try:
            svc_home = tmp / "service-home"
            svc_home.mkdir()
            (svc_home / "strongroom.toml").write_text(f'log_file = "{svc_home / "strongroom.log"}"\n')
            env = dict(os.environ, STRONGROOM_HOME=str(svc_home), STRONGROOM_CONFIG=str(svc_home / "strongroom.toml"))
            proc, sock = start_strongroom_service(tmp, env)
            procs.append(proc)
            via = base.Module("strongroom-p11kit", P11KIT_CLIENT,
                              dict(os.environ, P11_KIT_SERVER_ADDRESS=f"unix:path={sock}"), client)
            via.setup()
            from strongroom import modules as sr_modules
            client_path = getattr(sr_modules, "client_path", None)
            if client_path is not None and Path(client_path()).is_file():
                modules.append(base.Module("strongroom-service", str(client_path()),
                                           dict(os.environ, STRONGROOM_SERVICE=f"unix:{sock}"), client))
            modules.append(via)
            softhsm = base.ensure_softhsm(None, allow_install=True)
            if softhsm:
                sh = base.softhsm_module(tmp, client, softhsm)
                sh.setup()
                modules.append(sh)
                sproc, ssock = start_p11kit_server(tmp, softhsm, sh.env)
                procs.append(sproc)
                modules.append(base.Module("softhsm2-p11kit", P11KIT_CLIENT,
                                           dict(os.environ, P11_KIT_SERVER_ADDRESS=f"unix:path={ssock}"), client))
            wanted = set(filter(None, args.modules.split(",")))
            res = measure([m for m in modules if not wanted or m.name in wanted], cases, args.seconds,
                          args.cold_seconds)
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=30)
    f = facts(args.seconds)
    text = report(res, cases, f)
    out = Path(args.out)
    stem = f"{f['date']}-{args.tag}"
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps({"facts": f, "results": res}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
