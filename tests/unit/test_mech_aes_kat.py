"""AES ECB / CBC (NIST CAVP KAT + MMT), CTR (RFC 3686), CMAC (SP 800-38B) and key wrap
(SP 800-38F KW / KWP) known-answer vectors through strongroom's Operation objects,
one-shot and multi-part."""
from __future__ import annotations

import pytest

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKK, CKM, CKR
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.params import CtrParams
from sym_kat import Key, chunks, records, run


def aes(k):
    return Key(bytes.fromhex(k), CKK.AES)


def _block_cases(mode):
    out = []
    for bits in (128, 192, 256):
        for kind, limit in (("GFSbox", 3), ("KeySbox", 3), ("VarKey", 3), ("VarTxt", 3), ("MMT", None)):
            for r in records(f"ciphers/AES/{mode}/{mode}{kind}{bits}.rsp", limit=limit):
                out.append(pytest.param(r, id=f"{mode}{kind}{bits}-{r['section']}-{r['COUNT']}"))
    return out


@pytest.mark.parametrize("r", _block_cases("ECB"))
def test_ecb_kat(r):
    pt, ct = bytes.fromhex(r["PLAINTEXT"]), bytes.fromhex(r["CIPHERTEXT"])
    key = aes(r["KEY"])
    if r["section"] == "ENCRYPT":
        assert run(CKM.AES_ECB, OpKind.ENCRYPT, key, None, [pt]) == ct
        assert run(CKM.AES_ECB, OpKind.ENCRYPT, key, None, chunks(pt, 7)) == ct
    else:
        assert run(CKM.AES_ECB, OpKind.DECRYPT, key, None, [ct]) == pt
        assert run(CKM.AES_ECB, OpKind.DECRYPT, key, None, chunks(ct, 1)) == pt


@pytest.mark.parametrize("r", _block_cases("CBC"))
def test_cbc_kat(r):
    pt, ct = bytes.fromhex(r["PLAINTEXT"]), bytes.fromhex(r["CIPHERTEXT"])
    key, iv = aes(r["KEY"]), bytes.fromhex(r["IV"])
    if r["section"] == "ENCRYPT":
        assert run(CKM.AES_CBC, OpKind.ENCRYPT, key, iv, [pt]) == ct
        assert run(CKM.AES_CBC, OpKind.ENCRYPT, key, iv, chunks(pt, 0)) == ct
    else:
        assert run(CKM.AES_CBC, OpKind.DECRYPT, key, iv, [ct]) == pt
        assert run(CKM.AES_CBC, OpKind.DECRYPT, key, iv, chunks(ct, 5)) == pt


CTR = [pytest.param(r, id=f"ctr{bits}-{r['COUNT']}")
       for bits in (128, 192, 256) for r in records(f"ciphers/AES/CTR/aes-{bits}-ctr.txt")]


@pytest.mark.parametrize("r", CTR)
def test_ctr_kat(r):
    key, pt, ct = aes(r["KEY"]), bytes.fromhex(r["PLAINTEXT"]), bytes.fromhex(r["CIPHERTEXT"])
    p = CtrParams(counter_bits=32, cb=bytes.fromhex(r["IV"]))    # RFC 3686: 32-bit block counter
    assert run(CKM.AES_CTR, OpKind.ENCRYPT, key, p, [pt]) == ct
    assert run(CKM.AES_CTR, OpKind.ENCRYPT, key, p, chunks(pt, 3)) == ct
    assert run(CKM.AES_CTR, OpKind.DECRYPT, key, p, chunks(ct, 1)) == pt


CMAC = [pytest.param(r, id=f"cmac{bits}-{r['COUNT']}")
        for bits in (128, 192, 256) for r in records(f"CMAC/nist-800-38b-aes{bits}.txt")]


@pytest.mark.parametrize("r", CMAC)
def test_cmac_kat(r):
    key, msg, mac = aes(r["KEY"]), bytes.fromhex(r["MESSAGE"]), bytes.fromhex(r["OUTPUT"])
    assert run(CKM.AES_CMAC, OpKind.SIGN, key, None, [msg]) == mac
    assert run(CKM.AES_CMAC, OpKind.SIGN, key, None, chunks(msg, 7)) == mac
    assert run(CKM.AES_CMAC_GENERAL, OpKind.SIGN, key, 8, chunks(msg, 1)) == mac[:8]
    op = registry.get(CKM.AES_CMAC).operation(OpKind.VERIFY, key, None)
    op.update(msg)
    op.verify(mac)


def _kw_cases():
    out = []
    for name, mech in (("KW", CKM.AES_KEY_WRAP), ("KWP", CKM.AES_KEY_WRAP_KWP)):
        for bits in (128, 192, 256):
            for d in ("AE", "AD"):
                for r in records(f"keywrap/kwtestvectors/{name}_{d}_{bits}.txt", limit=4):
                    out.append(pytest.param(mech, d, r, id=f"{name}_{d}_{bits}-{r['section']}-{r['COUNT']}"))
    return out


@pytest.mark.parametrize("mech,direction,r", _kw_cases())
def test_key_wrap_kat(mech, direction, r):
    key, c = aes(r["K"]), bytes.fromhex(r["C"])
    if direction == "AE":
        p = bytes.fromhex(r["P"])
        assert run(mech, OpKind.WRAP, key, None, [p]) == c
        assert run(mech, OpKind.ENCRYPT, key, None, chunks(p, 3)) == c
    elif r.get("FAIL"):
        with pytest.raises(CKRError) as e:
            run(mech, OpKind.UNWRAP, key, None, [c])
        assert e.value.rv == CKR.ENCRYPTED_DATA_INVALID
    else:
        assert run(mech, OpKind.UNWRAP, key, None, [c]) == bytes.fromhex(r["P"])
        assert run(mech, OpKind.DECRYPT, key, b"", chunks(c, 5)) == bytes.fromhex(r["P"])
