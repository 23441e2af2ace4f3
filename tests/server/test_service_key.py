"""The service key (server/identity.py) made by workers starting together: every one of
them reads the same whole key, and no partial file is left behind."""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from strongroom.server.identity import KEY_FILE, IdentityLogin


def _race(home: Path, openers: int) -> tuple[list[bytes], list[BaseException]]:
    barrier = threading.Barrier(openers)
    keys: list[bytes] = []
    failures: list[BaseException] = []

    def load() -> None:
        barrier.wait()
        try:
            login = IdentityLogin.load(str(home))
            keys.append(bytes(login.pin_for(b"u" * 16)))
            login.close()
        except BaseException as exc:          # collected, asserted by the caller
            failures.append(exc)

    threads = [threading.Thread(target=load) for _ in range(openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return keys, failures


def test_openers_racing_on_a_fresh_home_all_read_one_whole_key(tmp_path: Path) -> None:
    for round_ in range(20):
        home = tmp_path / f"h{round_}"
        home.mkdir()
        keys, failures = _race(home, 8)
        assert not failures, failures
        assert len(keys) == 8 and len(set(keys)) == 1
        assert os.listdir(home) == [KEY_FILE]
        assert stat.S_IMODE((home / KEY_FILE).stat().st_mode) == 0o600
