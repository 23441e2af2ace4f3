"""The PIN retry limit holds against killed and parallel guessers (issue 10, item 1).

Every test drives real host processes (tests/integration/pin_worker.py) that load the real
libstrongroom.so against one real store; the failure counters are read from the store
file (and cross-checked through C_GetTokenInfo flags). Paths covered: C_Login as user and
as SO, C_SetPIN's old-PIN check, C_Login(CKU_CONTEXT_SPECIFIC) and C_InitToken's SO-PIN
check on re-initialisation.

``STRONGROOM_PIN_TRIALS=N`` runs N kill trials per path instead of the CI default.
"""
from __future__ import annotations

import os
import random
import time

import pytest
from pin_host import KDF_MIB, LABEL, SO_PIN, USER_PIN, WRONG, Worker
from pin_host import failures as _failures
from pin_host import make_token_home as _home

from strongroom.pkcs11.constants import CKR, CKU, TokenFlag

TRIALS = int(os.environ.get("STRONGROOM_PIN_TRIALS", "0"))


# --- the paths that check a PIN: set a worker up, then the guess to make ---------------

def _setup(worker: Worker, path: str) -> None:
    assert worker.rv(op="init") == CKR.OK
    assert worker.rv(op="open", label=LABEL) == CKR.OK
    if path == "context":
        assert worker.rv(op="login", user=CKU.USER, pin=USER_PIN) == CKR.OK
        assert worker.rv(op="ctx_setup") == CKR.OK


def _guess(path: str, pin: str) -> dict:
    if path == "user":
        return {"op": "login", "user": CKU.USER, "pin": pin}
    if path == "so":
        return {"op": "login", "user": CKU.SO, "pin": pin}
    if path == "context":
        return {"op": "login", "user": CKU.CONTEXT_SPECIFIC, "pin": pin}
    if path == "setpin":
        return {"op": "setpin", "old": pin, "new": pin}      # a right old PIN: set to itself
    if path == "inittoken":
        return {"op": "inittoken", "so_pin": pin, "label": LABEL}
    raise AssertionError(path)


def _counter(path: str) -> str:
    return "so" if path in ("so", "inittoken") else "user"


PATHS = ["user", "so", "setpin", "context", "inittoken"]


# --- (a) kill -9 while the PIN is being checked ------------------------------------------

@pytest.mark.parametrize("path", PATHS)
def test_killed_guess_is_counted(module, tmp_path, path):
    """kill -9 during wrong-PIN checks: every killed guess has used a try.

    Exactness: a guess killed before it reached the KDF has learned nothing and may not
    count, so each kill is aimed *into* the KDF. The worker announces the call, then the
    test watches its resident memory until scrypt's 16 MiB block is being filled (the KDF
    has started: true of the old code as well as the new) and sends SIGKILL at a random
    moment after that, often before the answer exists. The counter read from the store
    must then be exactly one higher than before the guess, every time. On 02edb35 it
    stays unchanged (the failure was written only after the KDF).
    """
    trials = TRIALS or (6 if path == "user" else 2)
    home = _home(tmp_path, tries=trials + 1)
    into_kdf = 0
    for trial in range(trials):
        worker = Worker(module, home)
        try:
            _setup(worker, path)        # (context: logs in, which gives earlier tries back)
            before = _failures(home)[_counter(path)]
            worker.send(**_guess(path, WRONG))
            assert worker.read() == {"entering": True}
            baseline = worker.rss()
            while worker.rss() < baseline + KDF_MIB // 2 * 2**20 and not worker.answered():
                time.sleep(0.0002)
            if not worker.answered():
                into_kdf += 1
                time.sleep(random.uniform(0, 0.02))
            worker.kill()
        finally:
            if worker.proc.poll() is None:
                worker.kill()
        assert _failures(home)[_counter(path)] == before + 1, f"trial {trial}: killed guess not counted"
    assert into_kdf >= (trials + 1) // 2, "the kills did not land in the KDF: the test proved nothing"
    if path != "user":
        return
    # The module agrees: one try left.
    worker = Worker(module, home)
    try:
        _setup(worker, "user")
        assert worker.call(op="flags")["flags"] & TokenFlag.USER_PIN_FINAL_TRY
    finally:
        worker.close()


# --- (b) many processes guessing at once --------------------------------------------------

@pytest.mark.parametrize("path,processes,tries", [
    ("user", 16, 3), ("so", 2, 1), ("setpin", 2, 1), ("context", 2, 1), ("inittoken", 2, 1)])
def test_parallel_guesses_never_exceed_the_tries_left(module, tmp_path, path, processes, tries):
    """N processes guessing at the same moment get at most the tries that were left as
    CKR_PIN_INCORRECT; every other one CKR_PIN_LOCKED. (On 02edb35 all of them read the
    counter before any had written it back: up to N wrong-PIN answers.)"""
    home = _home(tmp_path, tries=tries)
    workers = [Worker(module, home) for _ in range(processes)]
    try:
        for worker in workers:
            _setup(worker, path)
        for worker in workers:          # all released together: each is already initialised
            worker.send(**_guess(path, WRONG))
        answers = []
        for worker in workers:
            reply = worker.read()
            answers.append((reply if "rv" in reply else worker.read())["rv"])
    finally:
        for worker in workers:
            worker.close()
    assert answers.count(CKR.PIN_INCORRECT) == tries, answers
    assert answers.count(CKR.PIN_LOCKED) == processes - tries, answers
    assert _failures(home)[_counter(path)] == tries


def test_parallel_right_pins_all_log_in(module, tmp_path):
    """Right PINs spend tries too while their KDF runs; callers who find none left wait
    for those in flight to give theirs back instead of being told CKR_PIN_LOCKED."""
    home = _home(tmp_path, tries=1)
    workers = [Worker(module, home) for _ in range(3)]
    try:
        for worker in workers:
            _setup(worker, "user")
        for worker in workers:
            worker.send(**_guess("user", USER_PIN))
        answers = []
        for worker in workers:
            reply = worker.read()
            answers.append((reply if "rv" in reply else worker.read())["rv"])
    finally:
        for worker in workers:
            worker.close()
    assert answers == [CKR.OK] * 3
    assert _failures(home)["user"] == 0


# --- (c) the right PIN while tries remain; lockout at the limit ---------------------------

@pytest.mark.parametrize("path", PATHS)
def test_right_pin_gives_tries_back_and_last_wrong_try_locks(module, tmp_path, path):
    """Two wrong guesses, then the right PIN works and resets the counter (v2.40 §3.2
    CKF_*_PIN_COUNT_LOW / FINAL_TRY); three wrong guesses then lock: the one that uses the
    last try is answered CKR_PIN_INCORRECT, the next ones (right PIN included)
    CKR_PIN_LOCKED (v2.40 §5.1)."""
    home = _home(tmp_path, tries=3)
    counter = _counter(path)
    low, final, locked = ((TokenFlag.SO_PIN_COUNT_LOW, TokenFlag.SO_PIN_FINAL_TRY, TokenFlag.SO_PIN_LOCKED)
                          if counter == "so" else
                          (TokenFlag.USER_PIN_COUNT_LOW, TokenFlag.USER_PIN_FINAL_TRY,
                           TokenFlag.USER_PIN_LOCKED))
    right = SO_PIN if counter == "so" else USER_PIN
    worker = Worker(module, home)
    try:
        _setup(worker, path)
        assert [worker.rv(**_guess(path, WRONG)) for _ in range(2)] == [CKR.PIN_INCORRECT] * 2
        assert _failures(home)[counter] == 2
        flags = worker.call(op="flags")["flags"]
        assert flags & low and flags & final and not flags & locked
        assert worker.rv(**_guess(path, right)) == CKR.OK
        assert _failures(home)[counter] == 0
        if path == "inittoken":          # re-initialised: the user PIN is gone, the SO PIN kept
            assert worker.rv(op="open", label=LABEL) == CKR.OK
        elif path in ("user", "so"):
            assert worker.rv(op="logout") == CKR.OK
        elif path == "context":
            assert worker.rv(op="ctx_setup") == CKR.OK
        assert worker.call(op="flags")["flags"] & (low | final | locked) == 0
        answers = [worker.rv(**_guess(path, WRONG)) for _ in range(4)]
        assert answers == [CKR.PIN_INCORRECT] * 3 + [CKR.PIN_LOCKED]
        assert worker.rv(**_guess(path, right)) == CKR.PIN_LOCKED
        assert worker.call(op="flags")["flags"] & locked
        assert _failures(home)[counter] == 3
    finally:
        worker.close()
