"""ML-DSA and ML-KEM through the real module with python-pkcs11 0.10.1 (a Python host).

python-pkcs11 generates ML-DSA / ML-KEM pairs (CKA_PARAMETER_SET in the public template),
signs with CKM_ML_DSA through the ordinary function list and calls C_EncapsulateKey /
C_DecapsulateKey through the PKCS#11 3.2 interface it asks C_GetInterface for. pyca is the
independent party: it verifies the token's signatures and encapsulates to / decapsulates
from the token's keys.
"""
from __future__ import annotations

import ctypes
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    AttributeSensitive,
    EncryptedDataLenRange,
    FunctionNotSupported,
    MechanismParamInvalid,
    PKCS11Error,
)
from pkcs11.mechanisms import MLDSAParameterSet, MLKEMParameterSet

from support import USER_PIN

DSA_PUB = {MLDSAParameterSet.ML_DSA_44: mldsa.MLDSA44PublicKey,
           MLDSAParameterSet.ML_DSA_65: mldsa.MLDSA65PublicKey,
           MLDSAParameterSet.ML_DSA_87: mldsa.MLDSA87PublicKey}
KEM_PUB = {MLKEMParameterSet.ML_KEM_768: mlkem.MLKEM768PublicKey,
           MLKEMParameterSet.ML_KEM_1024: mlkem.MLKEM1024PublicKey}
CKR_PARAMETER_SET_NOT_SUPPORTED = 0x209
CKH_HEDGE_REQUIRED, CKH_DETERMINISTIC_REQUIRED = 1, 2


class SignContext:
    """CK_SIGN_ADDITIONAL_CONTEXT as raw bytes for python-pkcs11 (which passes ``bytes``
    parameters through unchanged); keeps the context buffer alive."""

    def __init__(self, hedge: int, context: bytes) -> None:
        self._buf = ctypes.create_string_buffer(context, len(context) or 1)
        self.param = struct.pack("@LPL", hedge, ctypes.addressof(self._buf) if context else 0,
                                 len(context))


def mldsa_pair(session, ps, **kw):
    return session.generate_keypair(KeyType.ML_DSA, public_template={Attribute.PARAMETER_SET: ps},
                                    **kw)


@pytest.mark.parametrize("ps", list(MLDSAParameterSet))
def test_mldsa_keygen_sign_verify(token, ps):
    with token.open(user_pin=USER_PIN, rw=True) as session:
        pub, priv = mldsa_pair(session, ps, store=True, label=f"mldsa{ps}")
        assert pub[Attribute.KEY_TYPE] == KeyType.ML_DSA and pub[Attribute.PARAMETER_SET] == ps
        assert priv[Attribute.PARAMETER_SET] == ps
        assert priv[Attribute.KEY_GEN_MECHANISM] == Mechanism.ML_DSA_KEY_PAIR_GEN
        with pytest.raises(AttributeSensitive):
            priv[Attribute.SEED]
        value = pub[Attribute.VALUE]
        sig = priv.sign(b"post-quantum message", mechanism=Mechanism.ML_DSA)
        DSA_PUB[ps].from_public_bytes(value).verify(sig, b"post-quantum message")
        assert pub.verify(b"post-quantum message", sig, mechanism=Mechanism.ML_DSA)
        assert not pub.verify(b"another message", sig, mechanism=Mechanism.ML_DSA)


def test_mldsa_context_parameter_through_the_abi(token):
    with token.open(user_pin=USER_PIN, rw=True) as session:
        pub, priv = mldsa_pair(session, MLDSAParameterSet.ML_DSA_65)
        ctx = SignContext(CKH_HEDGE_REQUIRED, b"strongroom-test")
        sig = priv.sign(b"m", mechanism=Mechanism.ML_DSA, mechanism_param=ctx.param)
        pyca = DSA_PUB[MLDSAParameterSet.ML_DSA_65].from_public_bytes(pub[Attribute.VALUE])
        pyca.verify(sig, b"m", b"strongroom-test")
        assert pub.verify(b"m", sig, mechanism=Mechanism.ML_DSA, mechanism_param=ctx.param)
        assert not pub.verify(b"m", sig, mechanism=Mechanism.ML_DSA)     # no context: fails
        with pytest.raises(MechanismParamInvalid):
            priv.sign(b"m", mechanism=Mechanism.ML_DSA,
                      mechanism_param=SignContext(CKH_DETERMINISTIC_REQUIRED, b"").param)
        with pytest.raises(MechanismParamInvalid):
            priv.sign(b"m", mechanism=Mechanism.ML_DSA, mechanism_param=SignContext(0, bytes(256)).param)


def test_mldsa_import_from_seed(token):
    key = mldsa.MLDSA44PrivateKey.generate()
    ps = MLDSAParameterSet.ML_DSA_44
    with token.open(user_pin=USER_PIN, rw=True) as session:
        priv = session.create_object({
            Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.KEY_TYPE: KeyType.ML_DSA,
            Attribute.PARAMETER_SET: ps, Attribute.SEED: key.private_bytes_raw(), Attribute.SIGN: True})
        pub = session.create_object({
            Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: KeyType.ML_DSA,
            Attribute.PARAMETER_SET: ps, Attribute.VALUE: key.public_key().public_bytes_raw()})
        sig = priv.sign(b"imported", mechanism=Mechanism.ML_DSA)
        key.public_key().verify(sig, b"imported")
        assert pub.verify(b"imported", key.sign(b"imported"), mechanism=Mechanism.ML_DSA)


def test_mechanism_info(token):
    slot = token.slot
    mechs = set(slot.get_mechanisms())
    assert {Mechanism.ML_DSA_KEY_PAIR_GEN, Mechanism.ML_DSA,
            Mechanism.ML_KEM_KEY_PAIR_GEN, Mechanism.ML_KEM} <= mechs
    assert 0x1F not in mechs                              # CKM_HASH_ML_DSA: pyca has no HashML-DSA
    info = slot.get_mechanism_info(Mechanism.ML_DSA)
    assert (info.min_key_length, info.max_key_length) == (1312, 2592)
    info = slot.get_mechanism_info(Mechanism.ML_KEM)
    assert (info.min_key_length, info.max_key_length) == (1184, 1568)


def mlkem_pair(session, ps):
    return session.generate_keypair(KeyType.ML_KEM, public_template={Attribute.PARAMETER_SET: ps})


def test_mlkem_512_not_supported(token):
    with token.open(user_pin=USER_PIN, rw=True) as session:
        with pytest.raises(PKCS11Error) as e:
            mlkem_pair(session, MLKEMParameterSet.ML_KEM_512)
        assert hex(CKR_PARAMETER_SET_NOT_SUPPORTED) in str(e.value)   # python-pkcs11: "Unmapped"


@pytest.mark.parametrize("ps", [MLKEMParameterSet.ML_KEM_768, MLKEMParameterSet.ML_KEM_1024])
def test_mlkem_encapsulate_decapsulate(token, ps):
    with token.open(user_pin=USER_PIN, rw=True) as session:
        pub, priv = mlkem_pair(session, ps)
        assert pub[Attribute.PARAMETER_SET] == ps and priv[Attribute.PARAMETER_SET] == ps
        try:
            ct, secret = pub.encapsulate_key(KeyType.GENERIC_SECRET, key_length=256,
                                             template={Attribute.EXTRACTABLE: True,
                                                       Attribute.SENSITIVE: False})
        except FunctionNotSupported:
            pytest.skip("the module does not export C_EncapsulateKey (3.2 interface) yet")
        got = priv.decapsulate_key(ct, KeyType.GENERIC_SECRET, key_length=256,
                                   template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False})
        assert secret[Attribute.VALUE] == got[Attribute.VALUE]
        assert len(got[Attribute.VALUE]) == 32
        # pyca encapsulates to the token's public key; the token decapsulates.
        ss, ct2 = KEM_PUB[ps].from_public_bytes(pub[Attribute.VALUE]).encapsulate()
        key = priv.decapsulate_key(ct2, KeyType.GENERIC_SECRET, key_length=256,
                                   template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False})
        assert key[Attribute.VALUE] == ss
        with pytest.raises(EncryptedDataLenRange):
            priv.decapsulate_key(ct2[:-1], KeyType.GENERIC_SECRET, key_length=256)
