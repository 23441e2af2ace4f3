"""RSA PSS / OAEP / recover / SHA-3 variants: round trips, multi-part chunking, parameter and
length errors, through strongroom's operations."""
from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import strongroom.mechanisms  # noqa: F401
from asym_kat import Key, chunked, run, rv_of
from strongroom.mechanisms import registry
from strongroom.mechanisms.keys import load_private, load_public
from strongroom.mechanisms.registry import OpKind
from strongroom.mechanisms.rsa import DIGEST_INFO
from strongroom.pkcs11.constants import CKA, CKG, CKM, CKR, CKZ
from strongroom.pkcs11.constants import MechanismFlag as F
from strongroom.pkcs11.params import RsaOaepParams, RsaPssParams

PSS_MECHS = [
    (CKM.SHA1_RSA_PKCS_PSS, CKM.SHA_1, CKG.MGF1_SHA1), (CKM.SHA224_RSA_PKCS_PSS, CKM.SHA224, CKG.MGF1_SHA224),
    (CKM.SHA256_RSA_PKCS_PSS, CKM.SHA256, CKG.MGF1_SHA256), (CKM.SHA384_RSA_PKCS_PSS, CKM.SHA384, CKG.MGF1_SHA384),
    (CKM.SHA512_RSA_PKCS_PSS, CKM.SHA512, CKG.MGF1_SHA512),
    (CKM.SHA3_224_RSA_PKCS_PSS, CKM.SHA3_224, CKG.MGF1_SHA3_224),
    (CKM.SHA3_256_RSA_PKCS_PSS, CKM.SHA3_256, CKG.MGF1_SHA3_256),
    (CKM.SHA3_384_RSA_PKCS_PSS, CKM.SHA3_384, CKG.MGF1_SHA3_384),
    (CKM.SHA3_512_RSA_PKCS_PSS, CKM.SHA3_512, CKG.MGF1_SHA3_512),
]
PY = {CKM.SHA_1: hashes.SHA1, CKM.SHA224: hashes.SHA224, CKM.SHA256: hashes.SHA256, CKM.SHA384: hashes.SHA384,
      CKM.SHA512: hashes.SHA512, CKM.SHA3_224: hashes.SHA3_224, CKM.SHA3_256: hashes.SHA3_256,
      CKM.SHA3_384: hashes.SHA3_384, CKM.SHA3_512: hashes.SHA3_512}
DATA = bytes(range(256)) * 3 + b"odd"


@pytest.fixture(scope="module")
def pair():
    pub_t = {CKA.MODULUS_BITS: 2048}
    pub, priv = registry.get(CKM.RSA_PKCS_KEY_PAIR_GEN).generate_pair(None, pub_t, {})
    return Key({**pub_t, **pub}), Key(priv)


@pytest.mark.parametrize("mech,h,mgf", PSS_MECHS)
@pytest.mark.parametrize("size", [0, 1, 7, 64])
def test_pss_multipart_equals_one_shot(pair, mech, h, mgf, size):
    pub, priv = pair
    param = RsaPssParams(hash_alg=h, mgf=mgf, salt_len=PY[h].digest_size)
    sig = run(mech, OpKind.SIGN, priv, chunked(DATA, size), param)
    run(mech, OpKind.VERIFY, pub, [DATA], param, signature=sig)          # one-shot verify
    # pyca agrees (an independent verifier with the same PSS parameters)
    pub.parsed(load_public).verify(sig, DATA, padding.PSS(padding.MGF1(PY[h]()), PY[h].digest_size), PY[h]())


@pytest.mark.parametrize("mech,h,mgf", PSS_MECHS)
def test_raw_pss_over_hash_with_other_mgf(pair, mech, h, mgf):
    pub, priv = pair
    param = RsaPssParams(hash_alg=h, mgf=CKG.MGF1_SHA256, salt_len=0)     # MGF hash may differ
    digest = hashlib.new(PY[h].name, DATA).digest()
    sig = run(CKM.RSA_PKCS_PSS, OpKind.SIGN, priv, [digest], param)
    run(CKM.RSA_PKCS_PSS, OpKind.VERIFY, pub, [digest], param, signature=sig)
    # a different sLen in verification is a different signature scheme
    other = RsaPssParams(hash_alg=h, mgf=CKG.MGF1_SHA256, salt_len=1)
    assert rv_of(run, CKM.RSA_PKCS_PSS, OpKind.VERIFY, pub, [digest], other, signature=sig) == CKR.SIGNATURE_INVALID


@pytest.mark.parametrize("mech,param,rv", [
    (CKM.SHA256_RSA_PKCS_PSS, RsaPssParams(CKM.SHA384, CKG.MGF1_SHA384, 32), CKR.MECHANISM_PARAM_INVALID),
    (CKM.SHA256_RSA_PKCS_PSS, RsaPssParams(CKM.MD5, CKG.MGF1_SHA256, 32), CKR.MECHANISM_PARAM_INVALID),
    (CKM.SHA256_RSA_PKCS_PSS, RsaPssParams(CKM.SHA256, 0x77, 32), CKR.MECHANISM_PARAM_INVALID),
    (CKM.SHA256_RSA_PKCS_PSS, RsaPssParams(CKM.SHA256, CKG.MGF1_SHA256, 256 - 32 - 1), CKR.MECHANISM_PARAM_INVALID),
    (CKM.SHA256_RSA_PKCS_PSS, None, CKR.MECHANISM_PARAM_INVALID),
    (CKM.RSA_PKCS_PSS, RsaPssParams(CKM.SHA256, CKG.MGF1_SHA256, -1), CKR.MECHANISM_PARAM_INVALID),
])
def test_pss_param_errors(pair, mech, param, rv):
    _, priv = pair
    assert rv_of(registry.get(mech).operation, OpKind.SIGN, priv, param) == rv


def test_pss_max_salt_and_lengths(pair):
    pub, priv = pair
    param = RsaPssParams(CKM.SHA256, CKG.MGF1_SHA256, 256 - 32 - 2)     # the largest sLen for 2048 bits
    sig = run(CKM.SHA256_RSA_PKCS_PSS, OpKind.SIGN, priv, [b"x"], param)
    run(CKM.SHA256_RSA_PKCS_PSS, OpKind.VERIFY, pub, [b"x"], param, signature=sig)
    assert rv_of(run, CKM.SHA256_RSA_PKCS_PSS, OpKind.VERIFY, pub, [b"x"], param,
                 signature=sig[:-1]) == CKR.SIGNATURE_LEN_RANGE
    raw = RsaPssParams(CKM.SHA256, CKG.MGF1_SHA256, 32)
    for bad in (b"", b"\0" * 31, b"\0" * 33):
        assert rv_of(run, CKM.RSA_PKCS_PSS, OpKind.SIGN, priv, [bad], raw) == CKR.DATA_LEN_RANGE
    assert registry.get(CKM.RSA_PKCS_PSS).operation(OpKind.SIGN, priv, raw).multipart is False


OAEP_HASHES = [(h, m) for h, m in ((CKM.SHA_1, CKG.MGF1_SHA1), (CKM.SHA224, CKG.MGF1_SHA224),
                                   (CKM.SHA256, CKG.MGF1_SHA256), (CKM.SHA384, CKG.MGF1_SHA384),
                                   (CKM.SHA512, CKG.MGF1_SHA512), (CKM.SHA256, CKG.MGF1_SHA1))]


@pytest.mark.parametrize("h,mgf", OAEP_HASHES)
@pytest.mark.parametrize("label", [b"", b"a label"])
def test_oaep_round_trip_and_wrap(pair, h, mgf, label):
    pub, priv = pair
    param = RsaOaepParams(hash_alg=h, mgf=mgf, source=CKZ.DATA_SPECIFIED, source_data=label)
    limit = 256 - 2 * PY[h].digest_size - 2
    for msg in (b"", b"k" * limit):
        ct = run(CKM.RSA_PKCS_OAEP, OpKind.ENCRYPT, pub, [msg], param)
        assert run(CKM.RSA_PKCS_OAEP, OpKind.DECRYPT, priv, [ct], param) == msg
        wrapped = run(CKM.RSA_PKCS_OAEP, OpKind.WRAP, pub, [msg], param)
        assert run(CKM.RSA_PKCS_OAEP, OpKind.UNWRAP, priv, [wrapped], param) == msg
    assert rv_of(run, CKM.RSA_PKCS_OAEP, OpKind.ENCRYPT, pub, [b"k" * (limit + 1)], param) == CKR.DATA_LEN_RANGE
    ct = run(CKM.RSA_PKCS_OAEP, OpKind.ENCRYPT, pub, [b"m"], param)
    wrong = RsaOaepParams(hash_alg=h, mgf=mgf, source=CKZ.DATA_SPECIFIED, source_data=label + b"!")
    assert rv_of(run, CKM.RSA_PKCS_OAEP, OpKind.DECRYPT, priv, [ct], wrong) == CKR.ENCRYPTED_DATA_INVALID
    assert rv_of(run, CKM.RSA_PKCS_OAEP, OpKind.DECRYPT, priv, [ct[:-1]], param) == CKR.ENCRYPTED_DATA_LEN_RANGE


@pytest.mark.parametrize("param", [
    RsaOaepParams(CKM.MD5, CKG.MGF1_SHA1), RsaOaepParams(CKM.SHA256, 0x55),
    RsaOaepParams(CKM.SHA3_256, CKG.MGF1_SHA256), RsaOaepParams(CKM.SHA256, CKG.MGF1_SHA3_256),   # pyca: no SHA-3 OAEP
    RsaOaepParams(CKM.SHA256, CKG.MGF1_SHA256, source=2), RsaOaepParams(CKM.SHA256, CKG.MGF1_SHA256, 0, b"l"),
    None, b"bytes",
])
def test_oaep_param_errors(pair, param):
    pub, _ = pair
    assert rv_of(registry.get(CKM.RSA_PKCS_OAEP).operation, OpKind.ENCRYPT, pub, param) == CKR.MECHANISM_PARAM_INVALID


def test_oaep_source_zero_without_label(pair):
    pub, priv = pair
    param = RsaOaepParams(CKM.SHA256, CKG.MGF1_SHA256, source=0)
    ct = run(CKM.RSA_PKCS_OAEP, OpKind.ENCRYPT, pub, [b"m"], param)
    assert priv.parsed(load_private).decrypt(
        ct, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)) == b"m"


@pytest.mark.parametrize("mech,h", [(CKM.SHA3_224_RSA_PKCS, hashes.SHA3_224), (CKM.SHA3_256_RSA_PKCS, hashes.SHA3_256),
                                    (CKM.SHA3_384_RSA_PKCS, hashes.SHA3_384), (CKM.SHA3_512_RSA_PKCS, hashes.SHA3_512)])
@pytest.mark.parametrize("size", [0, 1, 5])
def test_sha3_pkcs1(pair, mech, h, size):
    pub, priv = pair
    sig = run(mech, OpKind.SIGN, priv, chunked(DATA, size))
    assert sig == run(mech, OpKind.SIGN, priv, [DATA])                   # deterministic: chunks = one-shot
    pub.parsed(load_public).verify(sig, DATA, padding.PKCS1v15(), h())
    run(mech, OpKind.VERIFY, pub, chunked(DATA, size), signature=sig)


def test_sign_recover_and_verify_recover(pair):
    pub, priv = pair
    info = next(p for p, c in DIGEST_INFO.items() if c is hashes.SHA256) + hashlib.sha256(b"m").digest()
    sig = run(CKM.RSA_PKCS, OpKind.SIGN_RECOVER, priv, [info])
    assert sig == run(CKM.RSA_PKCS, OpKind.SIGN, priv, [info])
    assert run(CKM.RSA_PKCS, OpKind.VERIFY_RECOVER, pub, [sig]) == info
    assert rv_of(run, CKM.RSA_PKCS, OpKind.VERIFY_RECOVER, pub, [sig[:-1]]) == CKR.SIGNATURE_LEN_RANGE
    bad = bytes([sig[0] ^ 0x40]) + sig[1:]
    assert rv_of(run, CKM.RSA_PKCS, OpKind.VERIFY_RECOVER, pub, [bad]) == CKR.SIGNATURE_INVALID
    # a PKCS#1 v1.5 *encryption* block under the public key also recovers nothing
    assert rv_of(run, CKM.RSA_PKCS, OpKind.SIGN_RECOVER, priv, [b"not a DigestInfo"]) == CKR.DATA_INVALID


def test_rsa_pkcs_wrap_unwrap(pair):
    pub, priv = pair
    wrapped = run(CKM.RSA_PKCS, OpKind.WRAP, pub, [b"\x42" * 32])
    assert run(CKM.RSA_PKCS, OpKind.UNWRAP, priv, [wrapped]) == b"\x42" * 32


def test_flags():
    assert registry.get(CKM.RSA_PKCS).flags == (F.ENCRYPT | F.DECRYPT | F.SIGN | F.VERIFY | F.SIGN_RECOVER
                                               | F.VERIFY_RECOVER | F.WRAP | F.UNWRAP)
    assert registry.get(CKM.RSA_PKCS_OAEP).flags == F.ENCRYPT | F.DECRYPT | F.WRAP | F.UNWRAP
    for mech, *_ in [*PSS_MECHS, (CKM.RSA_PKCS_PSS,)]:
        e = registry.get(mech)
        assert e.flags == F.SIGN | F.VERIFY and (e.min_key_size, e.max_key_size) == (1024, 8192)
    # not offered: pyca has no raw RSA
    assert rv_of(registry.get, CKM.RSA_X_509) == CKR.MECHANISM_INVALID
