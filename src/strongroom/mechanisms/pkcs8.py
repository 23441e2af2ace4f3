"""Private keys reach pyca through a PKCS#8 image in a bytearray that is zeroed at once.

Why (issue 10): pyca's int-based constructors (ec.derive_private_key,
RSAPrivateNumbers.private_key) need the secret as Python ints and turn each back into a
transient big-endian byte string inside pyca that nobody clears. Instead a key family
writes the key as a DER PKCS#8 image into one bytearray (:func:`fill`) and hands it to
pyca's own Rust parser (:func:`load`: zero-copy straight into OpenSSL BIGNUMs), which
zeroes it as soon as pyca returns. Header bytes are public; the secret parts are copied
into the bytearray from the attribute values themselves (memoryview slices, no
intermediate bytes). Used by ec.py and rsa.py.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..wipe import zero

#: The parts of a DER image: public header bytes and views of the secret values.
Parts = list[bytes | memoryview]


def der_len(n: int) -> bytes:
    """DER definite length octets."""
    if n < 0x80:
        return bytes((n,))
    size = (n.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + n.to_bytes(size, "big")


def tlv(tag: int, parts: Sequence[bytes | memoryview]) -> Parts:
    """[header, *parts] for a DER element whose content is ``parts``."""
    return [bytes((tag,)) + der_len(sum(len(p) for p in parts)), *parts]


def der_uint(value: bytes) -> Parts:
    """INTEGER parts for a big-endian unsigned magnitude, without copying the value."""
    view = memoryview(value)
    skip = 0
    while skip < len(view) - 1 and view[skip] == 0:
        skip += 1
    view = view[skip:]
    return tlv(0x02, [b"\x00", view] if view[0] & 0x80 else [view])


def fill(parts: Parts) -> bytearray:
    """One preallocated bytearray holding ``parts`` (never grown: no freed copies)."""
    out = bytearray(sum(len(p) for p in parts))
    pos = 0
    for p in parts:
        out[pos:pos + len(p)] = p
        pos += len(p)
    return out


def private_key_info(algorithm: Parts, key: Parts) -> Parts:
    """PrivateKeyInfo { version 0, algorithm, OCTET STRING { SEQUENCE key } }."""
    inner = tlv(0x30, key)
    return tlv(0x30, [b"\x02\x01\x00", *algorithm, *tlv(0x04, inner)])


def load(image: bytearray, *, validate: bool = True) -> Any:
    """pyca key from a PKCS#8 image; the image is zeroed whatever happens."""
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        return load_der_private_key(image, None, unsafe_skip_rsa_key_validation=not validate)
    finally:
        zero(image)


def image(key: Any) -> bytes:
    """C_WrapKey's plaintext of a pyca private key: DER PKCS#8, unencrypted."""
    from cryptography.hazmat.primitives import serialization

    return bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
