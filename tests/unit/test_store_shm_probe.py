"""The Python freshness probe (storage/shm_probe.py): a new value after every commit of
any connection, the same value while nobody commits, and -1 (fall back to PRAGMA
data_version) when the WAL index cannot be mapped."""
from __future__ import annotations

from pathlib import Path

from strongroom.pkcs11.constants import CKU
from strongroom.storage.base import KdfParams
from strongroom.storage.shm_probe import make_probe
from strongroom.storage.sqlite import SqliteStore

KDF = KdfParams(log2_n=10)


def test_value_moves_with_every_commit_of_any_connection(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    ours, other = SqliteStore(db), SqliteStore(db)
    try:
        probe = make_probe(str(db))
        assert probe is not None
        first = probe()
        assert first >= 0 and probe() == first                  # nobody committed
        ours.list_tokens()
        assert probe() == first                                 # reads do not move it
        token = other.create_token(0, "t", b"so-pin", KDF)      # another connection commits
        second = probe()
        assert second not in (first, -1)
        other.set_label(token.token_id, "renamed")
        third = probe()
        assert third not in (second, -1)
        attempt = ours.spend_pin_attempt(token.token_id, CKU.SO, 10)   # our own commit too
        assert probe() != third
        ours.settle_pin_attempt(token.token_id, CKU.SO, attempt, right=True)
        assert [t.label for t in ours.list_tokens()] == ["renamed"]    # the cache saw it
    finally:
        ours.close()
        other.close()


def test_no_wal_index_means_fall_back(tmp_path: Path) -> None:
    probe = make_probe(str(tmp_path / "absent.db"))
    assert probe is not None and probe() == -1
