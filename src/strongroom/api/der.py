"""The three DER shapes PKCS#11 attributes use around raw values, and nothing more.

CKA_EC_POINT is a DER OCTET STRING around the point (some modules store the bare
point), CKA_SERIAL_NUMBER a DER INTEGER. Parsing/producing these few bytes is framing,
not cryptography; everything else (certificates, SPKI) goes through pyca.
"""
from __future__ import annotations

__all__ = ["der_integer", "octet_string", "unwrap_octet_string"]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def octet_string(value: bytes) -> bytes:
    """DER OCTET STRING holding `value`."""
    return b"\x04" + _length(len(value)) + value


def unwrap_octet_string(data: bytes) -> bytes | None:
    """The content of a DER OCTET STRING spanning all of `data`, else None."""
    if len(data) < 2 or data[0] != 0x04:
        return None
    first = data[1]
    if first < 0x80:
        size, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return None
        size, start = int.from_bytes(data[2:2 + count], "big"), 2 + count
    return data[start:] if len(data) - start == size else None


def der_integer(value: int) -> bytes:
    """DER INTEGER of a non-negative `value` (certificate serial numbers)."""
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")   # room for a leading 0 sign byte
    while len(body) > 1 and body[0] == 0 and body[1] < 0x80:
        body = body[1:]
    return b"\x02" + _length(len(body)) + body
