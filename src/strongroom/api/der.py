"""The DER shapes PKCS#11 attributes put around raw values, for the API's side.

CKA_EC_POINT is a DER OCTET STRING around the point (some modules store the bare
point), CKA_SERIAL_NUMBER a DER INTEGER. The TLV framing itself is written once, in
mechanisms/ecparams.py (pure DER helpers, no token access); this module only names the
two shapes the API builds and reads. Everything else (certificates, SPKI) goes through pyca.
"""
from __future__ import annotations

from ..mechanisms.ecparams import TAG_OCTET_STRING, der_parse_tlv, der_tlv

__all__ = ["der_integer", "octet_string", "unwrap_octet_string"]

_TAG_INTEGER = 0x02


def octet_string(value: bytes) -> bytes:
    """DER OCTET STRING holding `value`."""
    return der_tlv(TAG_OCTET_STRING, value)


def unwrap_octet_string(data: bytes) -> bytes | None:
    """The content of a DER OCTET STRING spanning all of `data`, else None."""
    parsed = der_parse_tlv(data)
    return parsed[1] if parsed is not None and parsed[0] == TAG_OCTET_STRING else None


def der_integer(value: int) -> bytes:
    """DER INTEGER of a non-negative `value` (certificate serial numbers)."""
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")   # room for a leading 0 sign byte
    while len(body) > 1 and body[0] == 0 and body[1] < 0x80:
        body = body[1:]
    return der_tlv(_TAG_INTEGER, body)
