"""ChaCha20-Poly1305: RFC 7539/8439 and BoringSSL vectors (96-bit nonces), multi-part,
tampering, parameter checks, message API, key generation."""
from __future__ import annotations

import pytest

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKR
from strongroom.pkcs11.constants import MechanismFlag as F
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.params import ChaCha20Poly1305MessageParams, ChaCha20Poly1305Params
from sym_kat import Key, chunks, records, run

M = CKM.CHACHA20_POLY1305
CASES = [pytest.param(r, id=f"boringssl-{r['COUNT']}")
         for r in records("ciphers/ChaCha20Poly1305/boringssl.txt") if len(r["NONCE"]) == 24]


def expect(rv, fn, *a):
    with pytest.raises(CKRError) as e:
        fn(*a)
    assert e.value.rv == rv


@pytest.mark.parametrize("r", CASES)
def test_chacha_kat(r):
    key = Key(bytes.fromhex(r["KEY"]), CKK.CHACHA20)
    p = ChaCha20Poly1305Params(nonce=bytes.fromhex(r["NONCE"]), aad=bytes.fromhex(r["AD"]))
    pt, out = bytes.fromhex(r["IN"]), bytes.fromhex(r["CT"]) + bytes.fromhex(r["TAG"])
    assert run(M, OpKind.ENCRYPT, key, p, [pt]) == out
    assert run(M, OpKind.ENCRYPT, key, p, chunks(pt, 7)) == out
    assert run(M, OpKind.DECRYPT, key, p, chunks(out, 1)) == pt
    bad = out[:-1] + bytes([out[-1] ^ 1])
    expect(CKR.ENCRYPTED_DATA_INVALID, run, M, OpKind.DECRYPT, key, p, [bad])
    # message API
    mp = ChaCha20Poly1305MessageParams(nonce=p.nonce)
    enc = registry.get(M).message(OpKind.ENCRYPT, key, None)
    ct, back = enc.encrypt(mp, p.aad, pt)
    assert ct + back.tag == out
    dec = registry.get(M).message(OpKind.DECRYPT, key, None)
    assert dec.decrypt(back, p.aad, ct) == pt
    expect(CKR.ENCRYPTED_DATA_INVALID, dec.decrypt, back, p.aad + b"x", ct)


def test_params_and_lengths():
    key = Key(bytes(32), CKK.CHACHA20)
    expect(CKR.MECHANISM_PARAM_INVALID, registry.get(M).operation, OpKind.ENCRYPT, key,
           ChaCha20Poly1305Params(nonce=bytes(8), aad=b""))       # 64-bit nonce: pyca lacks it
    expect(CKR.MECHANISM_PARAM_INVALID, registry.get(M).operation, OpKind.ENCRYPT, key, b"\0" * 12)
    p = ChaCha20Poly1305Params(nonce=bytes(12), aad=b"")
    expect(CKR.ENCRYPTED_DATA_LEN_RANGE, run, M, OpKind.DECRYPT, key, p, [bytes(15)])
    expect(CKR.KEY_SIZE_RANGE, registry.get(M).operation, OpKind.ENCRYPT, Key(bytes(16), CKK.CHACHA20), p)
    assert run(M, OpKind.DECRYPT, key, p, [run(M, OpKind.WRAP, key, p, [b""])]) == b""


def test_keygen_and_entry():
    e = registry.get(CKM.CHACHA20_KEY_GEN)
    out = e.generate(None, {})
    assert out[CKA.KEY_TYPE] == CKK.CHACHA20 and len(out[CKA.VALUE]) == 32
    expect(CKR.ATTRIBUTE_VALUE_INVALID, e.generate, None, {CKA.VALUE_LEN: 16})
    flags = registry.get(M).flags
    assert flags & (F.ENCRYPT | F.DECRYPT | F.MESSAGE_ENCRYPT | F.MESSAGE_DECRYPT | F.WRAP | F.UNWRAP) == \
        F.ENCRYPT | F.DECRYPT | F.MESSAGE_ENCRYPT | F.MESSAGE_DECRYPT | F.WRAP | F.UNWRAP
