"""Symmetric interop through the real module (python-pkcs11): AES-CBC / CBC-PAD / CTR /
key-wrap ciphertexts from `openssl enc` decrypt in the token and the reverse; AES-GCM
against pyca (the openssl CLI has no AEAD `enc`; python-pkcs11 has no ChaCha20 or KWP
constants, so those are covered by the unit KATs only); HMAC (SHA-2, SHA-3)
and AES-CMAC equal `openssl mac`; SHA-3 digests equal `openssl dgst`; multi-part chunking;
the error codes applications see for bad parameters, lengths and tampering."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import DataLenRange, EncryptedDataInvalid, EncryptedDataLenRange, MechanismParamInvalid
from pkcs11.mechanisms import GCMParams

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
DATA = b"strongroom symmetric interop, sixty-four bytes of plaintext...!!"
assert len(DATA) == 64


def openssl(*args: str, input: bytes = b"") -> bytes:
    proc = subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def secret(session, value: bytes, key_type=KeyType.AES):
    return session.create_object({
        Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: key_type,
        Attribute.VALUE: value, Attribute.TOKEN: False, Attribute.ENCRYPT: True,
        Attribute.DECRYPT: True, Attribute.SIGN: True, Attribute.VERIFY: True,
        Attribute.WRAP: True, Attribute.UNWRAP: True,
    })


def ctr_param(bits: int, cb: bytes) -> bytes:
    return struct.pack("<Q16s", bits, cb)     # CK_AES_CTR_PARAMS on LP64


@pytest.mark.parametrize("size", [16, 24, 32])
def test_aes_cbc_both_ways(session, size):
    k, iv = os.urandom(size), os.urandom(16)
    key = secret(session, k)
    cipher = f"aes-{size * 8}-cbc"
    ct = openssl("enc", f"-{cipher}", "-K", k.hex(), "-iv", iv.hex(), "-nopad", input=DATA)
    assert key.decrypt(ct, mechanism=Mechanism.AES_CBC, mechanism_param=iv) == DATA
    assert key.encrypt(DATA, mechanism=Mechanism.AES_CBC, mechanism_param=iv) == ct
    # CBC_PAD: the token's padding is openssl's default
    padded = key.encrypt(DATA[:50], mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv)
    assert openssl("enc", "-d", f"-{cipher}", "-K", k.hex(), "-iv", iv.hex(), input=padded) == DATA[:50]
    theirs = openssl("enc", f"-{cipher}", "-K", k.hex(), "-iv", iv.hex(), input=DATA[:50])
    assert key.decrypt(theirs, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv) == DATA[:50]


def test_aes_ecb_and_ctr(session):
    k, cb = os.urandom(16), os.urandom(8) + bytes(8)
    key = secret(session, k)
    ecb = openssl("enc", "-aes-128-ecb", "-K", k.hex(), "-nopad", input=DATA)
    assert key.encrypt(DATA, mechanism=Mechanism.AES_ECB) == ecb
    ct = openssl("enc", "-aes-128-ctr", "-K", k.hex(), "-iv", cb.hex(), input=DATA[:61])
    param = ctr_param(64, cb)
    assert key.decrypt(ct, mechanism=Mechanism.AES_CTR, mechanism_param=param) == DATA[:61]
    assert key.encrypt(DATA[:61], mechanism=Mechanism.AES_CTR, mechanism_param=param) == ct


@pytest.mark.parametrize("chunk", [1, 7, 16, 33])
def test_multipart_matches_one_shot(session, chunk):
    key, iv = secret(session, os.urandom(32)), os.urandom(16)
    one = key.encrypt(DATA * 3, mechanism=Mechanism.AES_CBC, mechanism_param=iv)
    parts = [(DATA * 3)[i:i + chunk] for i in range(0, len(DATA) * 3, chunk)]
    assert b"".join(key.encrypt(iter(parts), mechanism=Mechanism.AES_CBC, mechanism_param=iv)) == one
    ct_parts = [one[i:i + chunk] for i in range(0, len(one), chunk)]
    assert b"".join(key.decrypt(iter(ct_parts), mechanism=Mechanism.AES_CBC, mechanism_param=iv)) == DATA * 3
    mac = key.sign(DATA * 3, mechanism=Mechanism.AES_CMAC)
    assert key.sign(iter(parts), mechanism=Mechanism.AES_CMAC) == mac


def test_aes_gcm_with_pyca(session):
    k, iv = os.urandom(32), os.urandom(12)
    key = secret(session, k)
    ours = key.encrypt(DATA, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, b"hdr", 128))
    assert AESGCM(k).decrypt(iv, ours, b"hdr") == DATA
    theirs = AESGCM(k).encrypt(iv, DATA[:33], b"")
    assert key.decrypt(theirs, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, b"", 128)) == DATA[:33]
    bad = theirs[:-1] + bytes([theirs[-1] ^ 1])
    with pytest.raises(EncryptedDataInvalid):
        key.decrypt(bad, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, b"", 128))


def test_key_wrap_matches_openssl(session):
    k, payload = os.urandom(16), os.urandom(32)
    key = secret(session, k)
    theirs = openssl("enc", "-id-aes128-wrap", "-K", k.hex(), "-iv", "A6A6A6A6A6A6A6A6", input=payload)
    assert key.encrypt(payload, mechanism=Mechanism.AES_KEY_WRAP) == theirs
    assert key.decrypt(theirs, mechanism=Mechanism.AES_KEY_WRAP) == payload


@pytest.mark.parametrize("mech,digest", [(Mechanism.SHA256_HMAC, "SHA256"), (Mechanism.SHA512_HMAC, "SHA512"),
                                         (Mechanism.SHA3_256_HMAC, "SHA3-256"), (Mechanism.SHA_1_HMAC, "SHA1")])
def test_hmac_matches_openssl(session, mech, digest):
    k = os.urandom(40)
    key = secret(session, k, key_type=KeyType.GENERIC_SECRET)
    want = bytes.fromhex(openssl("mac", "-digest", digest, "-macopt", f"hexkey:{k.hex()}", "HMAC",
                                 input=DATA).decode().strip())
    assert key.sign(DATA, mechanism=mech) == want
    assert key.verify(DATA, want, mechanism=mech)
    assert not key.verify(DATA, bytes([want[0] ^ 1]) + want[1:], mechanism=mech)   # SIGNATURE_INVALID
    general = {Mechanism.SHA256_HMAC: Mechanism.SHA256_HMAC_GENERAL}.get(mech)
    if general:
        assert key.sign(DATA, mechanism=general, mechanism_param=struct.pack("<Q", 12)) == want[:12]


def test_cmac_matches_openssl(session):
    k = os.urandom(32)
    key = secret(session, k)
    want = bytes.fromhex(openssl("mac", "-cipher", "AES-256-CBC", "-macopt", f"hexkey:{k.hex()}", "CMAC",
                                 input=DATA[:40]).decode().strip())
    assert key.sign(DATA[:40], mechanism=Mechanism.AES_CMAC) == want
    assert key.sign(DATA[:40], mechanism=Mechanism.AES_CMAC_GENERAL, mechanism_param=struct.pack("<Q", 4)) == want[:4]
    assert not key.verify(DATA[:41], want, mechanism=Mechanism.AES_CMAC)   # SIGNATURE_INVALID


@pytest.mark.parametrize("mech,name", [(Mechanism.SHA3_256, "sha3-256"), (Mechanism.SHA3_512, "sha3-512"),
                                       (Mechanism.SHA3_384, "sha3-384")])
def test_digest_matches_openssl(session, mech, name):
    want = openssl("dgst", f"-{name}", "-binary", input=DATA)
    assert session.digest(DATA, mechanism=mech) == want


def test_error_codes(session):
    key = secret(session, os.urandom(16))
    with pytest.raises(DataLenRange):
        key.encrypt(DATA[:15], mechanism=Mechanism.AES_CBC, mechanism_param=bytes(16))
    with pytest.raises(EncryptedDataLenRange):
        key.decrypt(DATA[:17], mechanism=Mechanism.AES_ECB)
    with pytest.raises(MechanismParamInvalid):
        key.encrypt(DATA, mechanism=Mechanism.AES_CBC, mechanism_param=bytes(8))
    with pytest.raises(MechanismParamInvalid):
        key.encrypt(DATA, mechanism=Mechanism.AES_CTR, mechanism_param=ctr_param(0, bytes(16)))
    with pytest.raises(MechanismParamInvalid):
        key.sign(DATA, mechanism=Mechanism.AES_CMAC_GENERAL, mechanism_param=struct.pack("<Q", 17))
    with pytest.raises(EncryptedDataInvalid):
        key.decrypt(os.urandom(24), mechanism=Mechanism.AES_KEY_WRAP)


def test_generated_keys_carry_check_values(session):
    aes = session.generate_key(KeyType.AES, 128, template={Attribute.TOKEN: False})
    assert len(aes[Attribute.CHECK_VALUE]) == 3
    gs = session.generate_key(KeyType.GENERIC_SECRET, 256, template={Attribute.TOKEN: False})
    assert gs[Attribute.KEY_TYPE] == KeyType.GENERIC_SECRET and len(gs[Attribute.CHECK_VALUE]) == 3
