"""AES key generation, GCM (NIST CAVP vectors) and CBC-PAD through Operation objects."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.params import GcmParams
from support import KeyStub


class Key(KeyStub):
    def __init__(self, value: bytes):
        super().__init__({CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES, CKA.VALUE: value})


def start(mech, kind, key, param):
    entry = registry.get(mech)
    registry.check_param(entry, param)
    return entry.operation(kind, key, param)


def run(mech, kind, key, param, chunks):
    op = start(mech, kind, key, param)
    return b"".join(op.update(c) for c in chunks) + op.final()


def expect(rv, fn, *args):
    with pytest.raises(CKRError) as e:
        fn(*args)
    assert e.value.rv == rv


def gcm(iv=b"\x01" * 12, aad=b"", tag_bits=128):
    return GcmParams(iv=iv, iv_bits=len(iv) * 8, aad=aad, tag_bits=tag_bits)


def chunked(data: bytes, sizes=(0, 1, 7, 0, 16, 3)):
    out, i = [], 0
    for s in sizes:
        out.append(data[i:i + s])
        i += s
    out.append(data[i:])
    return out


# --- NIST CAVP GCM ------------------------------------------------------------------------

def _gcm_vectors(name: str, every: int):
    import cryptography_vectors
    path = Path(cryptography_vectors.__file__).parent / "ciphers/AES/GCM" / name
    records, rec = [], {}
    for line in [*path.read_text().splitlines(), ""]:
        line = line.strip()
        if not line or line.startswith(("[", "#")):
            if "Key" in rec:
                records.append(rec)
            rec = {}
        elif line == "FAIL":
            rec["FAIL"] = True
        elif "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            rec[k] = v
    return records[::every]


DECRYPT = _gcm_vectors("gcmDecrypt128.rsp", 150) + _gcm_vectors("gcmDecrypt256.rsp", 150)
ENCRYPT = _gcm_vectors("gcmEncryptExtIV128.rsp", 150) + _gcm_vectors("gcmEncryptExtIV256.rsp", 150)


def _params(v):
    tag = bytes.fromhex(v["Tag"])
    return gcm(bytes.fromhex(v["IV"]), bytes.fromhex(v["AAD"]), len(tag) * 8), tag


def test_vector_sample_size():
    assert len(DECRYPT) >= 30 and len(ENCRYPT) >= 30
    assert any(v.get("FAIL") for v in DECRYPT)


@pytest.mark.parametrize("v", DECRYPT, ids=lambda v: "fail" if v.get("FAIL") else "pass")
def test_gcm_decrypt_vectors(v):
    params, tag = _params(v)
    key = Key(bytes.fromhex(v["Key"]))
    data = bytes.fromhex(v["CT"]) + tag
    if not 8 <= len(params.iv) <= 128:
        expect(CKR.MECHANISM_PARAM_INVALID, start, CKM.AES_GCM, OpKind.DECRYPT, key, params)
    elif v.get("FAIL"):
        expect(CKR.ENCRYPTED_DATA_INVALID, run, CKM.AES_GCM, OpKind.DECRYPT, key, params, chunked(data))
    else:
        assert run(CKM.AES_GCM, OpKind.DECRYPT, key, params, chunked(data)) == bytes.fromhex(v["PT"])


@pytest.mark.parametrize("v", ENCRYPT)
def test_gcm_encrypt_vectors(v):
    params, tag = _params(v)
    key = Key(bytes.fromhex(v["Key"]))
    if not 8 <= len(params.iv) <= 128:
        expect(CKR.MECHANISM_PARAM_INVALID, start, CKM.AES_GCM, OpKind.ENCRYPT, key, params)
        return
    pt = bytes.fromhex(v["PT"])
    expected = bytes.fromhex(v["CT"]) + tag
    assert run(CKM.AES_GCM, OpKind.ENCRYPT, key, params, [pt]) == expected
    assert run(CKM.AES_GCM, OpKind.ENCRYPT, key, params, chunked(pt)) == expected


# --- GCM behaviour --------------------------------------------------------------------------

def test_gcm_decrypt_releases_nothing_before_final():
    key, p = Key(os.urandom(32)), gcm(aad=b"hdr")
    ct = run(CKM.AES_GCM, OpKind.ENCRYPT, key, p, [b"secret" * 10])
    op = start(CKM.AES_GCM, OpKind.DECRYPT, key, p)
    assert op.update(ct[:40]) == b"" and op.update(ct[40:]) == b""
    assert op.final() == b"secret" * 10


@pytest.mark.parametrize("where", ["tag", "ct", "aad"])
def test_gcm_tamper(where):
    key, p = Key(os.urandom(16)), gcm(aad=b"hdr")
    ct = bytearray(run(CKM.AES_GCM, OpKind.ENCRYPT, key, p, [b"payload"]))
    if where == "tag":
        ct[-1] ^= 1
    elif where == "ct":
        ct[0] ^= 1
    else:
        p = gcm(aad=b"hdR")
    expect(CKR.ENCRYPTED_DATA_INVALID, run, CKM.AES_GCM, OpKind.DECRYPT, key, p, [bytes(ct)])


@pytest.mark.parametrize("tag_bits", [32, 64, 96, 104, 112, 120, 128])
def test_gcm_tag_lengths(tag_bits):
    key, p = Key(os.urandom(16)), gcm(tag_bits=tag_bits)
    ct = run(CKM.AES_GCM, OpKind.ENCRYPT, key, p, [b"abc"])
    assert len(ct) == 3 + tag_bits // 8
    assert run(CKM.AES_GCM, OpKind.DECRYPT, key, p, [ct]) == b"abc"


@pytest.mark.parametrize("p", [gcm(tag_bits=0), gcm(tag_bits=100), gcm(tag_bits=136), gcm(tag_bits=8),
                               gcm(iv=b""), gcm(iv=b"\x00" * 7), gcm(iv=b"\x00" * 129)])
def test_gcm_bad_params(p):
    expect(CKR.MECHANISM_PARAM_INVALID, start, CKM.AES_GCM, OpKind.ENCRYPT, Key(bytes(16)), p)


def test_gcm_param_type_checked():
    expect(CKR.MECHANISM_PARAM_INVALID, registry.check_param, registry.get(CKM.AES_GCM), b"\x00" * 12)
    expect(CKR.MECHANISM_PARAM_INVALID, start, CKM.AES_GCM, OpKind.ENCRYPT, Key(bytes(16)), None)


def test_gcm_short_ciphertext():
    expect(CKR.ENCRYPTED_DATA_LEN_RANGE, run, CKM.AES_GCM, OpKind.DECRYPT, Key(bytes(16)), gcm(), [b"x" * 15])


# --- CBC-PAD --------------------------------------------------------------------------------

def _reference_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    p = padding.PKCS7(128).padder()
    e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return e.update(p.update(data) + p.finalize()) + e.finalize()


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 31, 32, 100])
def test_cbc_pad_round_trip_multipart(length):
    k, iv = os.urandom(24), os.urandom(16)
    key, data = Key(k), os.urandom(length)
    ct = run(CKM.AES_CBC_PAD, OpKind.ENCRYPT, key, iv, [data])
    assert ct == _reference_cbc(k, iv, data)
    assert run(CKM.AES_CBC_PAD, OpKind.ENCRYPT, key, iv, chunked(data)) == ct
    assert run(CKM.AES_CBC_PAD, OpKind.DECRYPT, key, iv, [ct]) == data
    assert run(CKM.AES_CBC_PAD, OpKind.DECRYPT, key, iv, chunked(ct)) == data


def test_cbc_pad_decrypt_update_holds_back_last_block():
    key, iv = Key(os.urandom(16)), os.urandom(16)
    ct = run(CKM.AES_CBC_PAD, OpKind.ENCRYPT, key, iv, [b"A" * 32])   # 48 bytes: 2 data + 1 pad block
    op = start(CKM.AES_CBC_PAD, OpKind.DECRYPT, key, iv)
    assert op.update(ct[:16]) == b""           # might be the padding block
    assert op.update(ct[16:32]) == b"A" * 16
    assert op.update(ct[32:]) == b"A" * 16
    assert op.final() == b""


def test_cbc_pad_bad_padding():
    k, iv = os.urandom(16), os.urandom(16)
    e = Cipher(algorithms.AES(k), modes.CBC(iv)).encryptor()
    ct = e.update(b"B" * 15 + b"\x05") + e.finalize()        # last byte 5 but 4 bytes are "B"
    expect(CKR.ENCRYPTED_DATA_INVALID, run, CKM.AES_CBC_PAD, OpKind.DECRYPT, Key(k), iv, [ct])
    e = Cipher(algorithms.AES(k), modes.CBC(iv)).encryptor()
    ct = e.update(b"C" * 15 + b"\x00") + e.finalize()
    expect(CKR.ENCRYPTED_DATA_INVALID, run, CKM.AES_CBC_PAD, OpKind.DECRYPT, Key(k), iv, [ct])


@pytest.mark.parametrize("length", [0, 15, 17, 33])
def test_cbc_pad_wrong_ciphertext_length(length):
    expect(CKR.ENCRYPTED_DATA_LEN_RANGE, run, CKM.AES_CBC_PAD, OpKind.DECRYPT, Key(bytes(16)), bytes(16),
           [bytes(length)])


@pytest.mark.parametrize("iv", [b"", bytes(15), bytes(17), None])
def test_cbc_pad_iv_length(iv):
    with pytest.raises(CKRError) as e:
        start(CKM.AES_CBC_PAD, OpKind.ENCRYPT, Key(bytes(16)), iv)
    assert e.value.rv == CKR.MECHANISM_PARAM_INVALID


# --- key generation ------------------------------------------------------------------------

@pytest.mark.parametrize("length", [16, 24, 32])
def test_keygen(length):
    out = registry.get(CKM.AES_KEY_GEN).generate(None, {CKA.VALUE_LEN: length})
    assert len(out[CKA.VALUE]) == length and out[CKA.KEY_TYPE] == CKK.AES and out[CKA.CLASS] == CKO.SECRET_KEY


@pytest.mark.parametrize("template,rv", [({}, CKR.TEMPLATE_INCOMPLETE),
                                         ({CKA.VALUE_LEN: 20}, CKR.ATTRIBUTE_VALUE_INVALID)])
def test_keygen_errors(template, rv):
    expect(rv, registry.get(CKM.AES_KEY_GEN).generate, None, template)


def test_mechanism_info():
    for m in (CKM.AES_KEY_GEN, CKM.AES_GCM, CKM.AES_CBC_PAD):
        e = registry.get(m)
        assert (e.min_key_size, e.max_key_size) == (16, 32)
