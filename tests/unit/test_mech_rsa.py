"""RSA PKCS #1 v1.5: key generation, raw and hashed sign/verify, encrypt/decrypt."""
from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.mechanisms.keys import load_public
from strongroom.mechanisms.registry import OpKind
from strongroom.mechanisms.rsa import DIGEST_INFO
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.errors import CKRError
from support import KeyStub

Key = KeyStub


@pytest.fixture(scope="module")
def pair():
    pub_t = {CKA.MODULUS_BITS: 2048}
    pub, priv = registry.get(CKM.RSA_PKCS_KEY_PAIR_GEN).generate_pair(None, pub_t, {})
    return Key({**pub_t, **pub}), Key(priv)


def run(mech, kind, key, chunks, sig=None):
    op = registry.get(mech).operation(kind, key, None)
    out = b""
    for c in chunks:
        out += op.update(c)
    if kind is OpKind.VERIFY:
        return op.verify(sig)
    return out + op.final()


def expect(rv, fn, *args):
    with pytest.raises(CKRError) as e:
        fn(*args)
    assert e.value.rv == rv


def digest_info(name, data):
    h = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}[name]
    prefix = next(p for p, cls in DIGEST_INFO.items() if cls is h)
    return prefix + hashlib.new(name, data).digest()


def test_generated_attributes(pair):
    pub, priv = pair
    assert pub.attrs[CKA.PUBLIC_EXPONENT] == b"\x01\x00\x01"
    assert len(pub.attrs[CKA.MODULUS]) == 256 and pub.attrs[CKA.MODULUS] == priv.attrs[CKA.MODULUS]
    for a in (CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2, CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT):
        assert isinstance(priv.attrs[a], bytes)
    assert CKA.PRIVATE_EXPONENT not in pub.attrs
    assert pub.attrs[CKA.PUBLIC_KEY_INFO] == priv.attrs[CKA.PUBLIC_KEY_INFO]
    assert priv.attrs[CKA.CLASS] == CKO.PRIVATE_KEY and priv.attrs[CKA.KEY_TYPE] == CKK.RSA


@pytest.mark.parametrize("pub_t,rv", [
    ({}, CKR.TEMPLATE_INCOMPLETE),
    ({CKA.MODULUS_BITS: 768}, CKR.KEY_SIZE_RANGE),   # below the mechanism range (the 2048 floor is the core's policy)
    ({CKA.MODULUS_BITS: 16384}, CKR.KEY_SIZE_RANGE),
    ({CKA.MODULUS_BITS: 2048, CKA.PUBLIC_EXPONENT: b"\x11"}, CKR.ATTRIBUTE_VALUE_INVALID),
])
def test_generate_errors(pub_t, rv):
    expect(rv, registry.get(CKM.RSA_PKCS_KEY_PAIR_GEN).generate_pair, None, pub_t, {})


@pytest.mark.parametrize("name", ["sha1", "sha256", "sha384", "sha512"])
def test_raw_sign_digest_info_equals_hashed_mechanism(pair, name):
    pub, priv = pair
    msg = os.urandom(50)
    raw = run(CKM.RSA_PKCS, OpKind.SIGN, priv, [digest_info(name, msg)])
    mech = {"sha1": CKM.SHA1_RSA_PKCS, "sha256": CKM.SHA256_RSA_PKCS,
            "sha384": CKM.SHA384_RSA_PKCS, "sha512": CKM.SHA512_RSA_PKCS}[name]
    assert raw == run(mech, OpKind.SIGN, priv, [msg[:3], msg[3:]])     # PKCS#1 v1.5 is deterministic
    run(CKM.RSA_PKCS, OpKind.VERIFY, pub, [digest_info(name, msg)], raw)
    run(mech, OpKind.VERIFY, pub, [msg], raw)


def test_raw_sign_refuses_non_digest_info(pair):
    expect(CKR.DATA_INVALID, run, CKM.RSA_PKCS, OpKind.SIGN, pair[1], [b"not a digest info"])


def test_raw_verify_accepts_arbitrary_data(pair):
    """A signature over arbitrary bytes (made by pyca's own PKCS#1 v1.5 over a DigestInfo it
    built) verifies as raw data: recover_data_from_signature returns the exact bytes."""
    pub, priv = pair
    sig = run(CKM.SHA256_RSA_PKCS, OpKind.SIGN, priv, [b"hello"])
    run(CKM.RSA_PKCS, OpKind.VERIFY, pub, [digest_info("sha256", b"hello")], sig)
    expect(CKR.SIGNATURE_INVALID, run, CKM.RSA_PKCS, OpKind.VERIFY, pub, [digest_info("sha256", b"hellO")], sig)


def test_lengths(pair):
    pub, priv = pair
    expect(CKR.DATA_LEN_RANGE, run, CKM.RSA_PKCS, OpKind.SIGN, priv, [bytes(246)])
    expect(CKR.DATA_LEN_RANGE, run, CKM.RSA_PKCS, OpKind.ENCRYPT, pub, [bytes(246)])
    sig = run(CKM.SHA256_RSA_PKCS, OpKind.SIGN, priv, [b"x"])
    expect(CKR.SIGNATURE_LEN_RANGE, run, CKM.SHA256_RSA_PKCS, OpKind.VERIFY, pub, [b"x"], sig[1:])
    expect(CKR.SIGNATURE_LEN_RANGE, run, CKM.RSA_PKCS, OpKind.VERIFY, pub, [b"x"], sig + b"\0")
    expect(CKR.ENCRYPTED_DATA_LEN_RANGE, run, CKM.RSA_PKCS, OpKind.DECRYPT, priv, [bytes(255)])
    expect(CKR.SIGNATURE_INVALID, run, CKM.SHA256_RSA_PKCS, OpKind.VERIFY, pub, [b"y"], sig)


@pytest.mark.parametrize("length", [0, 1, 100, 245])
def test_encrypt_decrypt_round_trip(pair, length):
    pub, priv = pair
    data = os.urandom(length)
    ct = run(CKM.RSA_PKCS, OpKind.ENCRYPT, pub, [data])
    assert len(ct) == 256
    assert run(CKM.RSA_PKCS, OpKind.DECRYPT, priv, [ct]) == data
    other = load_public(pub.attrs).encrypt(data, padding.PKCS1v15())
    assert other != ct                                    # randomised padding
    assert run(CKM.RSA_PKCS, OpKind.DECRYPT, priv, [other[:100], other[100:]]) == data


def test_raw_mechanism_is_single_part_hashed_is_multipart(pair):
    assert registry.get(CKM.RSA_PKCS).operation(OpKind.SIGN, pair[1], None).multipart is False
    assert registry.get(CKM.SHA256_RSA_PKCS).operation(OpKind.SIGN, pair[1], None).multipart is True


@pytest.mark.parametrize("chunks", [[b""], [b"a"], [b"", b"abc", b"", b"d" * 333, b"e"]])
def test_multipart_equals_one_shot(pair, chunks):
    one = run(CKM.SHA384_RSA_PKCS, OpKind.SIGN, pair[1], [b"".join(chunks)])
    assert run(CKM.SHA384_RSA_PKCS, OpKind.SIGN, pair[1], chunks) == one


def test_hashed_mechanism_cannot_encrypt(pair):
    expect(CKR.MECHANISM_INVALID, registry.get(CKM.SHA256_RSA_PKCS).operation, OpKind.ENCRYPT, pair[0], None)
