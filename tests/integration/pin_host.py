"""Parent side of the PIN and store tests: a token home on a real store, and host
processes (pin_worker.py) that load the real libstrongroom.so, driven line by line."""
from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from strongroom.pkcs11.constants import CKU
from strongroom.storage.base import KdfParams
from strongroom.storage.sqlite import SqliteStore
from support import subprocess_env

WORKER = Path(__file__).with_name("pin_worker.py")
SO_PIN, USER_PIN, WRONG = "so-pin-1234", "user-pin-1234", "wrong-pin-0000"
LABEL = "guarded"
# scrypt N = 2**14, r = 8: 16 MiB and tens of ms per check, so that a kill can be aimed
# at the KDF (the kill test watches the worker's memory for that allocation).
KDF_LOG2_N = 14
KDF_MIB = 16


def make_token_home(tmp_path: Path, tries: int, log2_n: int = KDF_LOG2_N) -> Path:
    """A home whose store holds token LABEL with SO_PIN and USER_PIN set."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "strongroom.toml").write_text(
        f"kdf_log2_n = {log2_n}\npin_max_tries = {tries}\n"
        f'log_file = "{home / "strongroom.log"}"\n')
    store = SqliteStore(home / "strongroom.db")
    try:
        record = store.create_token(0, LABEL, SO_PIN.encode(), KdfParams(log2_n=log2_n))
        attempt = store.spend_pin_attempt(record.token_id, CKU.SO, tries)   # the store's one PIN path
        master_key = store.open_master_key(attempt, CKU.SO, SO_PIN.encode())
        store.settle_pin_attempt(record.token_id, CKU.SO, attempt, right=master_key is not None)
        assert master_key is not None
        store.set_pin(record.token_id, CKU.USER, master_key, USER_PIN.encode(),
                      KdfParams(log2_n=log2_n))
    finally:
        store.close()
    return home


def failures(home: Path) -> dict[str, int]:
    """The persisted counters, read from the file by a connection of this process."""
    conn = sqlite3.connect(home / "strongroom.db")
    try:
        user, so = conn.execute("SELECT user_failures, so_failures FROM tokens").fetchone()
    finally:
        conn.close()
    return {"user": user, "so": so}


class Worker:
    def __init__(self, module: str, home: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(WORKER), module], env=subprocess_env(home),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.read() == {"ready": True}

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, f"worker ended (rc {self.proc.poll()})"
        return json.loads(line)

    def send(self, **cmd) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def call(self, **cmd) -> dict:
        self.send(**cmd)
        reply = self.read()
        if reply == {"entering": True}:
            reply = self.read()
        return reply

    def rv(self, **cmd) -> int:
        return self.call(**cmd)["rv"]

    def answered(self) -> bool:
        return bool(select.select([self.proc.stdout], [], [], 0)[0])

    def rss(self) -> int:
        with open(f"/proc/{self.proc.pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
