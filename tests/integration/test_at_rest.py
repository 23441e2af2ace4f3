"""Nothing secret in the store's files: key bytes and PINs are absent from db, -wal, -shm."""
from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from support import SO_PIN, Tool

KNOWN_PIN = "known-user-PIN-xyzzy"


def test_store_files_hold_neither_key_bytes_nor_pin(tool: Tool, tmp_path):
    tool.init_token()
    tool.run("--login", "--pin", "user-pin-1234", "--change-pin", "--new-pin", KNOWN_PIN)
    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    (tmp_path / "key.der").write_bytes(der)
    aes = bytes(range(100, 132))
    (tmp_path / "aes.bin").write_bytes(aes)
    tool.run("--login", "--pin", KNOWN_PIN, "--write-object", str(tmp_path / "key.der"),
             "--type", "privkey", "--id", "01", "--label", "imported")
    tool.run("--login", "--pin", KNOWN_PIN, "--write-object", str(tmp_path / "aes.bin"),
             "--type", "secrkey", "--key-type", "AES:32", "--id", "02", "--label", "imported-aes")
    listing = tool.run("--login", "--pin", KNOWN_PIN, "--list-objects").stdout
    assert "imported" in listing and "imported-aes" in listing
    files = [p for p in tool.home.iterdir() if p.name.startswith("strongroom.db")]
    assert any(p.name == "strongroom.db" for p in files)
    blob = b"".join(p.read_bytes() for p in files)
    assert len(blob) > 0
    for secret in (scalar, aes, KNOWN_PIN.encode(), SO_PIN.encode(), KNOWN_PIN.encode("utf-16-le")):
        assert secret not in blob
    # Sanity check of the scan itself: public data of the same objects is findable in
    # the database only through the blind index, but the files are really being read.
    assert b"SQLite format 3" in blob
    log = (tool.home / "strongroom.log")
    if log.exists():
        text = log.read_bytes()
        assert scalar not in text and KNOWN_PIN.encode() not in text
