"""A fuzzer at the C boundary (issue 10 item 4): random lengths, counts, NULL and dangling
pointers, nested templates and lying mechanism parameters through the real
libstrongroom.so, in a child process. Asserted: the child never dies (a crash is a
failure naming the seed and the call), every answer is a CKR code and not
CKR_GENERAL_ERROR (an exception inside the module), data and signature lengths above
max_data_len get their range code at once (CKR_DATA_LEN_RANGE, ...), and no call takes a
second or more (wall clock, the one timed assertion the issue asks for).

CI runs two short rounds (fixed seed 1, then a random seed that a failure prints).
By hand, longer and with a chosen seed::

    STRONGROOM_FUZZ_SECONDS=600 .venv/bin/python -m pytest -q tests/abi/test_fuzz_abi.py
    STRONGROOM_FUZZ_SEED=12345 STRONGROOM_FUZZ_SECONDS=60 .venv/bin/python -m pytest -q tests/abi/test_fuzz_abi.py

The calls and their memory rules are in tests/abi/fuzz_calls.py.
"""
from __future__ import annotations

import os
import random
import subprocess

import pytest
from boundary import run_child

from support import make_home

SECONDS = float(os.environ.get("STRONGROOM_FUZZ_SECONDS", "1.5"))
SEEDS = [1, int(os.environ.get("STRONGROOM_FUZZ_SEED", random.SystemRandom().randrange(1 << 32)))]


@pytest.mark.parametrize("seed", SEEDS, ids=["fixed-seed", "random-seed"])
def test_fuzz_c_boundary(so_path, tmp_path, seed):
    env = dict(os.environ, **make_home(tmp_path / "home"))
    log = tmp_path / "calls.log"
    try:
        proc = run_child(so_path, env, ["fuzz", str(seed), str(SECONDS), str(log)], timeout=SECONDS + 120)
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired:
        out, err, code = "", "", "timeout"
    calls = log.read_text().splitlines() if log.exists() else []
    where = (f"seed {seed} (rerun: STRONGROOM_FUZZ_SEED={seed} STRONGROOM_FUZZ_SECONDS={SECONDS}); "
             f"{len(calls)} calls; last: {calls[-1] if calls else '-'}")
    assert code == 0, f"fuzz child died (exit {code}; -11 is SIGSEGV): {where}\n{err[-3000:]}"
    findings = [line for line in out.splitlines() if line.split(" ", 1)[0] in ("BAD", "BADLEN", "GENERAL", "SLOW")]
    assert not findings, f"{where}\n" + "\n".join(findings[:30])
    assert out.splitlines()[-1].startswith("DONE "), out[-500:]
    assert len(calls) > 100, f"only {len(calls)} calls: {where}"
