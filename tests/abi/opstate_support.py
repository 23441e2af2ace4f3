"""Helpers for the operation-state tests (tests/abi/test_operation_state.py): a logged-in
session on the real libstrongroom.so, key objects imported from pyca keys, and one
``Case`` per function that follows the two-call convention (v2.40 §5.2)."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.pkcs11.attributes import encode
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR, CKU, MLKEMParameterSet

SO_PIN = b"so-pin-1234"
USER_PIN = b"user-pin-1234"
P256_OID = bytes.fromhex("06082a8648ce3d030107")
IV = bytes(range(12))
AAD = b"header"


class Template:
    """A CK_ATTRIBUTE array whose value buffers live as long as the object."""

    def __init__(self, ffi: Any, pairs: list[tuple[int, Any]]) -> None:
        self.keep: list[Any] = []
        self.arr = ffi.new("CK_ATTRIBUTE[]", max(len(pairs), 1))
        self.count = len(pairs)
        for i, (t, v) in enumerate(pairs):
            raw = v if isinstance(v, bytes) else encode(t, v)
            buf = ffi.new("char[]", max(len(raw), 1))
            ffi.memmove(buf, raw, len(raw))
            self.keep.append(buf)
            self.arr[i].type, self.arr[i].pValue, self.arr[i].ulValueLen = t, buf, len(raw)


def _int_bytes(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


class Session:
    """An initialised token, a user session and the keys every case uses."""

    def __init__(self, module: Any) -> None:
        self.ffi, self.fl, self.fl32 = module.ffi, module.fl, module.fl32
        ffi, fl = self.ffi, self.fl
        self.keep: list[Any] = []
        count = ffi.new("CK_ULONG *")
        assert fl.C_GetSlotList(0, ffi.NULL, count) == CKR.OK
        slots = ffi.new("CK_SLOT_ID[]", count[0])
        assert fl.C_GetSlotList(0, slots, count) == CKR.OK
        self.slot = slots[0]
        label = ffi.new("CK_UTF8CHAR[32]", b"opstate".ljust(32, b" "))
        assert fl.C_InitToken(self.slot, SO_PIN, len(SO_PIN), label) == CKR.OK
        self.h = self.open()
        assert fl.C_Login(self.h, CKU.SO, SO_PIN, len(SO_PIN)) == CKR.OK
        assert fl.C_InitPIN(self.h, USER_PIN, len(USER_PIN)) == CKR.OK
        assert fl.C_Logout(self.h) == CKR.OK
        assert fl.C_Login(self.h, CKU.USER, USER_PIN, len(USER_PIN)) == CKR.OK
        self.aes_value = os.urandom(32)
        self.aes = self.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES),
                                (CKA.VALUE, self.aes_value), (CKA.ENCRYPT, True), (CKA.DECRYPT, True),
                                (CKA.WRAP, True), (CKA.UNWRAP, True)])
        self.targets = [self.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES),
                                     (CKA.VALUE, os.urandom(n)), (CKA.EXTRACTABLE, True)])
                        for n in (16, 32)]

    def open(self) -> int:
        h = self.ffi.new("CK_SESSION_HANDLE *")
        assert self.fl.C_OpenSession(self.slot, 0x6, self.ffi.NULL, self.ffi.NULL, h) == CKR.OK
        return h[0]

    def create(self, pairs: list[tuple[int, Any]], h: int | None = None) -> int:
        t = Template(self.ffi, pairs)
        out = self.ffi.new("CK_OBJECT_HANDLE *")
        rv = self.fl.C_CreateObject(self.h if h is None else h, t.arr, t.count, out)
        assert rv == CKR.OK, hex(rv)
        return out[0]

    def mech(self, mtype: int, param: Any = None, size: int | None = None) -> Any:
        m = self.ffi.new("CK_MECHANISM *", {"mechanism": mtype})
        if param is not None:
            m.pParameter = param
            m.ulParameterLen = size if size is not None else self.ffi.sizeof(param[0])
        self.keep.append((m, param))
        return m

    def gcm(self) -> Any:
        iv = self.ffi.new("CK_BYTE[]", IV)
        aad = self.ffi.new("CK_BYTE[]", AAD)
        p = self.ffi.new("CK_GCM_PARAMS *", {"pIv": iv, "ulIvLen": 12, "ulIvBits": 96, "pAAD": aad,
                                             "ulAADLen": len(AAD), "ulTagBits": 128})
        self.keep.append((iv, aad))
        return self.mech(CKM.AES_GCM, p)

    # --- lazily made keys -------------------------------------------------------------------
    _ec: Any = None
    _rsa: Any = None
    _kem: Any = None

    def ec_key(self) -> tuple[int, ec.EllipticCurvePrivateKey]:
        if self._ec is None:
            key = ec.generate_private_key(ec.SECP256R1())
            handle = self.create([(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC),
                                  (CKA.EC_PARAMS, P256_OID),
                                  (CKA.VALUE, _int_bytes(key.private_numbers().private_value, 32)),
                                  (CKA.SIGN, True)])
            self._ec = (handle, key)
        return self._ec

    def rsa_keys(self) -> tuple[int, int, rsa.RSAPrivateKey]:
        if self._rsa is None:
            key = _RSA_KEY
            n = key.private_numbers()
            pub_n = n.public_numbers
            size = key.key_size // 8
            priv = self.create([(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.RSA),
                                (CKA.MODULUS, _int_bytes(pub_n.n, size)),
                                (CKA.PUBLIC_EXPONENT, _int_bytes(pub_n.e, 3)),
                                (CKA.PRIVATE_EXPONENT, _int_bytes(n.d, size)),
                                (CKA.PRIME_1, _int_bytes(n.p, size // 2)),
                                (CKA.PRIME_2, _int_bytes(n.q, size // 2)),
                                (CKA.EXPONENT_1, _int_bytes(n.dmp1, size // 2)),
                                (CKA.EXPONENT_2, _int_bytes(n.dmq1, size // 2)),
                                (CKA.COEFFICIENT, _int_bytes(n.iqmp, size // 2)),
                                (CKA.SIGN_RECOVER, True)])
            pub = self.create([(CKA.CLASS, CKO.PUBLIC_KEY), (CKA.KEY_TYPE, CKK.RSA),
                               (CKA.MODULUS, _int_bytes(pub_n.n, size)),
                               (CKA.PUBLIC_EXPONENT, _int_bytes(pub_n.e, 3)),
                               (CKA.VERIFY_RECOVER, True)])
            self._rsa = (priv, pub, key)
        return self._rsa

    def kem_keys(self) -> tuple[int, int]:
        if self._kem is None:
            pub_t = Template(self.ffi, [(CKA.PARAMETER_SET, MLKEMParameterSet.ML_KEM_768)])
            priv_t = Template(self.ffi, [])
            pub, priv = self.ffi.new("CK_OBJECT_HANDLE *"), self.ffi.new("CK_OBJECT_HANDLE *")
            rv = self.fl.C_GenerateKeyPair(self.h, self.mech(CKM.ML_KEM_KEY_PAIR_GEN), pub_t.arr,
                                           pub_t.count, priv_t.arr, priv_t.count, pub, priv)
            assert rv == CKR.OK, hex(rv)
            self._kem = (pub[0], priv[0])
        return self._kem

    def value(self, obj: int) -> bytes:
        buf = self.ffi.new("char[256]")
        t = self.ffi.new("CK_ATTRIBUTE *", {"type": CKA.VALUE, "pValue": buf, "ulValueLen": 256})
        assert self.fl.C_GetAttributeValue(self.h, obj, t, 1) == CKR.OK
        return bytes(self.ffi.buffer(buf, t.ulValueLen))


_RSA_KEY = rsa.generate_private_key(65537, 2048)


def rsa_pkcs1_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """Raw PKCS #1 v1.5 block type 1 over ``data`` (what CKM_RSA_PKCS C_SignRecover makes)."""
    k = key.key_size // 8
    block = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    n = key.private_numbers()
    return pow(int.from_bytes(block, "big"), n.d, n.public_numbers.n).to_bytes(k, "big")


def ecdsa_ok(key: ec.EllipticCurvePrivateKey, message: bytes, sig: bytes, prehashed: bool) -> bool:
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    algorithm = ec.ECDSA(utils.Prehashed(hashes.SHA256())) if prehashed else ec.ECDSA(hashes.SHA256())
    try:
        key.public_key().verify(utils.encode_dss_signature(r, s), message, algorithm)
        return True
    except Exception:   # InvalidSignature: not this message's signature
        return False


def gcm_encrypt(s: Session, data: bytes) -> bytes:
    return AESGCM(s.aes_value).encrypt(IV, data, AAD)


def message_param(s: Session, tag: bytes = b"\0" * 16) -> tuple[Any, int]:
    """A CK_GCM_MESSAGE_PARAMS with the fixed IV (CKG_NO_GENERATE), kept in ``s.msg``
    together with its tag buffer."""
    iv, tagbuf = s.ffi.new("CK_BYTE[]", IV), s.ffi.new("CK_BYTE[16]", tag)
    p = s.ffi.new("CK_GCM_MESSAGE_PARAMS *", {"pIv": iv, "ulIvLen": 12, "ulIvFixedBits": 0,
                                              "ivGenerator": 0, "pTag": tagbuf, "ulTagBits": 128})
    s.keep.append((iv, tagbuf, p))
    s.msg = (p, tagbuf)
    return p, s.ffi.sizeof("CK_GCM_MESSAGE_PARAMS")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass
class Case:
    """One function under the two-call convention.

    ``start`` makes the operation active (and does any earlier step); ``call(s, data, out,
    plen)`` is the function itself (``data`` ignored by C_*Final); ``check(s, data, out)``
    says whether ``out`` is the right output for ``data`` from the state ``start`` left.
    ``inputs`` are two different inputs. ``other(s)`` calls another function of the same
    operation after a size query; ``other_ok(s, rv, out)`` says whether its answer is
    right (never the pending output). ``reinit(s)`` is the C_*Init of this operation,
    used to see whether the operation ended."""

    name: str
    start: Callable[[Session], None]
    call: Callable[[Session, bytes, Any, Any], int]
    check: Callable[[Session, bytes, bytes], bool]
    inputs: tuple[bytes, bytes] = (b"x" * 32, b"y" * 48)
    other: Callable[[Session], tuple[int, bytes]] | None = None
    other_ok: Callable[[Session, int, bytes], bool] | None = None
    reinit: Callable[[Session], int] | None = None
    finishes: bool = True            # a successful call ends the operation
    has_input: bool = True           # False for C_*Final
    stateless: bool = False          # C_WrapKey / C_EncapsulateKey: no operation
    message: bool = False            # message API: errors do not end the operation

    def __str__(self) -> str:
        return self.name
