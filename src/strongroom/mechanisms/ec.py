"""EC key pair generation and ECDSA (PKCS#11 v3.0 Current Mechanisms §2.3).

* CKM_EC_KEY_PAIR_GEN (§2.3.7): CKA_EC_PARAMS from the public template; contributes
  CKA_EC_POINT (DER OCTET STRING, uncompressed) to the public key and CKA_EC_PARAMS plus
  CKA_VALUE (big-endian scalar, field width) to the private key.
* CKM_ECDSA (§2.3.8): input is a hash of any length, the X9.62 truncation rule applies;
  single-part only. Signatures are r‖s, each padded to the order's byte length — not DER.
* CKM_ECDSA_SHA1/224/256/384/512 (§2.3.9) and CKM_ECDSA_SHA3_224/256/384/512:
  hash inside, multi-part.
* Curves (ecparams.CURVES): P-256, P-384, P-521, secp256k1, brainpoolP256r1/384r1/512r1,
  as namedCurve OID or PrintableString name (hence CKF_EC_OID and CKF_EC_CURVENAME).

Raw ECDSA through pyca: ``Prehashed(h)`` only checks ``len(data) == h.digest_size`` and
hands the bytes to OpenSSL, which applies the X9.62 truncation itself. When the input
length matches no fixed-size SHA we describe it with ``SHAKE256(digest_size=len)``, so
inputs of any length (e.g. 66 bytes on P-521) get the standard rule.
"""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from . import ecparams, keys, pkcs8, pkhash
from .keys import AttrDict, Attrs, int_bytes, public_key_info, with_info
from .keytypes import KeyTypeHandler, register_key_type
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, key_for, register

if TYPE_CHECKING:
    from .registry import OperationFactory

EC_FLAGS = F.EC_F_P | F.EC_OID | F.EC_CURVENAME | F.EC_UNCOMPRESS
_KEY_TYPES = frozenset({CKK.EC})
_BY_LENGTH: dict[int, type[hashes.HashAlgorithm]] = {
    h.digest_size: h for h in (hashes.SHA1, hashes.SHA224, hashes.SHA256, hashes.SHA384, hashes.SHA512)
}


_ALGORITHMS: dict[int, ec.ECDSA] = {}     # immutable pyca objects, shared (per input length)


def _prehashed(digest: bytes) -> ec.ECDSA:
    """An ECDSA algorithm object for a caller-supplied hash of ``len(digest)`` bytes."""
    n = len(digest)
    alg = _ALGORITHMS.get(n)
    if alg is None:
        algorithm = _BY_LENGTH.get(n)
        alg = ec.ECDSA(Prehashed(algorithm() if algorithm else hashes.SHAKE256(n)))
        if len(_ALGORITHMS) < 256:
            _ALGORITHMS[n] = alg
    return alg


# --- the CKK_EC key type (keytypes.KeyTypeHandler) --------------------------------------
_OID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
_ec_prefixes: dict[bytes, bytes] = {}


def _ec_prefix(curve: ecparams.Curve) -> bytes:
    """The PKCS#8 image of a key on ``curve`` up to its private value (public, per curve):
    the value is the image's last field_bytes, so building one is two slice copies."""
    prefix = _ec_prefixes.get(curve.oid_der)
    if prefix is None:
        algorithm = pkcs8.tlv(0x30, [_OID_EC_PUBLIC_KEY, curve.oid_der])
        dummy = bytes(curve.field_bytes)
        image = bytes(pkcs8.fill(pkcs8.private_key_info(algorithm, [b"\x02\x01\x01", *pkcs8.tlv(0x04, [dummy])])))
        prefix = _ec_prefixes[curve.oid_der] = image[:-curve.field_bytes]
    return prefix


def _require_params(attrs: Attrs) -> ecparams.Curve:
    if CKA.EC_PARAMS not in attrs:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing")
    return ecparams.curve_from_params(attrs[CKA.EC_PARAMS])


def load_private(attrs: Attrs) -> ec.EllipticCurvePrivateKey:
    """The pyca key through a zeroed PKCS#8 image (pkcs8.py; RFC 5915 fixed-length value)."""
    curve = ecparams.curve_from_params(attrs.get(CKA.EC_PARAMS))
    value = attrs.get(CKA.VALUE)
    if value is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE missing")
    if not isinstance(value, bytes) or not value:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "EC private value out of range")
    view = memoryview(value)
    while len(view) > curve.field_bytes and view[0] == 0:   # extra leading zeros: the same value
        view = view[1:]
    if len(view) > curve.field_bytes:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "EC private value out of range")
    prefix = _ec_prefix(curve)
    image = bytearray(len(prefix) + curve.field_bytes)   # left-padded with the zeros here
    image[:len(prefix)] = prefix
    image[len(image) - len(view):] = view
    try:
        key: ec.EllipticCurvePrivateKey = pkcs8.load(image)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "EC private value out of range") from None
    return key


def load_public(attrs: Attrs) -> ec.EllipticCurvePublicKey:
    return ecparams.decode_point(_require_params(attrs), attrs.get(CKA.EC_POINT))


def _normalize(cls: int, key_type: int, attrs: Attrs) -> AttrDict:
    """EC public: CKA_EC_POINT (DER or bare, compressed or not) -> DER uncompressed; EC
    private: scalar in [1, n-1]. Both get CKA_PUBLIC_KEY_INFO."""
    if cls == CKO.PUBLIC_KEY:
        curve = _require_params(attrs)
        if CKA.EC_POINT not in attrs:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_POINT missing")
        key = ecparams.decode_point(curve, attrs[CKA.EC_POINT])
        raw = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return with_info(attrs, key, {CKA.EC_POINT: ecparams.encode_point(raw)})
    if cls == CKO.PRIVATE_KEY:
        _require_params(attrs)
        return with_info(attrs, load_private(attrs).public_key(), {})
    raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "key type not supported for this class")


def _curve_of(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> ecparams.Curve:
    try:
        return ecparams.curve_of_key(key)
    except KeyError:
        raise CKRError(CKR.CURVE_NOT_SUPPORTED, f"curve {key.curve.name} is not supported") from None


def _private_attrs(key: ec.EllipticCurvePrivateKey) -> AttrDict:
    curve = _curve_of(key)
    return {CKA.EC_PARAMS: curve.oid_der,
            CKA.VALUE: int_bytes(key.private_numbers().private_value, curve.field_bytes)}


def _public_attrs(key: ec.EllipticCurvePublicKey) -> AttrDict:
    point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return {CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: _curve_of(key).oid_der,
            CKA.EC_POINT: ecparams.encode_point(point)}


KEY_TYPE = register_key_type(KeyTypeHandler(
    key_types=frozenset({CKK.EC}), normalize=_normalize,
    size=lambda attrs: ecparams.curve_from_params(attrs.get(CKA.EC_PARAMS)).bits,
    load_private=load_private, load_public=load_public,
    private_attrs=_private_attrs, public_attrs=_public_attrs,
    pyca_private=(ec.EllipticCurvePrivateKey,), pyca_public=(ec.EllipticCurvePublicKey,),
    signs=True, derives=True,
))


# --- ECDSA -------------------------------------------------------------------------------
def _signing_key(attrs: Attrs) -> tuple[ec.EllipticCurvePrivateKey, int]:
    """Parsed private key and its field width (cached per key by ``KeyMaterial.parsed``)."""
    key = load_private(attrs)
    return key, ecparams.curve_of_key(key).field_bytes


def _verifying_key(attrs: Attrs) -> tuple[ec.EllipticCurvePublicKey, int]:
    key = keys.load_public(attrs)     # the public half of a private key too
    return key, ecparams.curve_of_key(key).field_bytes


class EcdsaOperation(Operation):
    """Sign or verify; raw (``hash_cls`` None, single-part) or hash-then-sign."""

    #: the pyca key of the kind: set for SIGN ...
    _private: ec.EllipticCurvePrivateKey
    #: ... and for VERIFY
    _public: ec.EllipticCurvePublicKey

    def __init__(self, kind: OpKind, key: KeyMaterial, hash_cls: type[hashes.HashAlgorithm] | None) -> None:
        self._kind = kind
        if kind is OpKind.SIGN:
            self._private, self._width = key.parsed(_signing_key)
        else:
            self._public, self._width = key.parsed(_verifying_key)
        self.multipart = hash_cls is not None
        self._hash = hashes.Hash(hash_cls()) if hash_cls else None
        self._data = b""

    def update(self, data: bytes) -> bytes:
        if self._hash is not None:
            self._hash.update(data)
        elif not self._data:
            self._data = bytes(data)
        else:
            self._data += data
        return b""

    def _digest(self) -> tuple[bytes, ec.ECDSA]:
        """The hash to sign and the pyca algorithm object describing it."""
        if self._hash is not None:
            return self._hash.finalize(), ec.ECDSA(Prehashed(self._hash.algorithm))
        if not self._data:
            raise CKRError(CKR.DATA_LEN_RANGE, "ECDSA input is empty")
        digest = self._data
        return digest, _prehashed(digest)

    def final(self) -> bytes:
        if self._kind is not OpKind.SIGN:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a sign operation")
        der = self._private.sign(*self._digest())
        r, s = decode_dss_signature(der)
        return int_bytes(r, self._width) + int_bytes(s, self._width)

    def verify(self, signature: bytes) -> None:
        if self._kind is not OpKind.VERIFY:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a verify operation")
        if len(signature) != 2 * self._width:
            raise CKRError(CKR.SIGNATURE_LEN_RANGE, "ECDSA signature must be r||s")
        digest, algorithm = self._digest()
        r = int.from_bytes(signature[: self._width], "big")
        s = int.from_bytes(signature[self._width:], "big")
        try:
            self._public.verify(encode_dss_signature(r, s), digest, algorithm)
        except InvalidSignature:
            raise CKRError(CKR.SIGNATURE_INVALID) from None


def generate_pair(param: object, pub: AttrDict, priv: AttrDict) -> tuple[AttrDict, AttrDict]:
    """CKM_EC_KEY_PAIR_GEN: attributes the mechanism contributes to each half.

    CKA_EC_PARAMS comes from the public template (missing -> TEMPLATE_INCOMPLETE); if the
    private template also carries one it must be the same (else TEMPLATE_INCONSISTENT).
    The returned dicts also carry CKA_CLASS and CKA_KEY_TYPE, as §2.3.7 says the
    mechanism contributes them, and CKA_PUBLIC_KEY_INFO (DER SPKI) for both halves.
    """
    params = pub.get(CKA.EC_PARAMS)
    if params is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing from public template")
    if CKA.EC_PARAMS in priv and priv[CKA.EC_PARAMS] != params:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_EC_PARAMS differ between templates")
    curve = ecparams.curve_from_params(params)
    key = ec.generate_private_key(curve.curve())
    public = key.public_key()
    point = public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    scalar = int_bytes(key.private_numbers().private_value, curve.field_bytes)
    prefix = _SPKI_PREFIX.get(curve.name)
    if prefix is None:
        info = public_key_info(public)
        if info.endswith(point):
            _SPKI_PREFIX[curve.name] = info[: len(info) - len(point)]
    else:
        info = prefix + point
    return (
        {_CLASS: _PUBLIC_KEY, _KEY_TYPE: _EC, _EC_POINT: ecparams.encode_point(point),
         _PUBLIC_KEY_INFO: info},
        {_CLASS: _PRIVATE_KEY, _KEY_TYPE: _EC, _EC_PARAMS: params, _VALUE: scalar,
         _PUBLIC_KEY_INFO: info},
    )


#: curve name -> the DER SubjectPublicKeyInfo up to the uncompressed point. For a named
#: curve the SPKI of an uncompressed point is this fixed header followed by the point
#: (SEQUENCE { AlgorithmIdentifier { id-ecPublicKey, curve OID }, BIT STRING 00 || point }),
#: so after the first key of a curve pyca's DER encoder is not needed per key pair.
_SPKI_PREFIX: dict[str, bytes] = {}
_CLASS, _KEY_TYPE, _EC_POINT, _EC_PARAMS, _VALUE, _PUBLIC_KEY_INFO = (
    int(CKA.CLASS), int(CKA.KEY_TYPE), int(CKA.EC_POINT), int(CKA.EC_PARAMS), int(CKA.VALUE),
    int(CKA.PUBLIC_KEY_INFO))
_PUBLIC_KEY, _PRIVATE_KEY, _EC = int(CKO.PUBLIC_KEY), int(CKO.PRIVATE_KEY), int(CKK.EC)


def _factory(mech: int, hash_cls: type[hashes.HashAlgorithm] | None) -> OperationFactory:
    def operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
        key = key_for(mech, kind, (OpKind.SIGN, OpKind.VERIFY), key)
        return EcdsaOperation(kind, key, hash_cls)

    return operation


register(MechanismEntry(
    mechanism=CKM.EC_KEY_PAIR_GEN, flags=F.GENERATE_KEY_PAIR | EC_FLAGS,
    min_key_size=ecparams.MIN_BITS, max_key_size=ecparams.MAX_BITS,
    key_types=frozenset(), generate_pair=generate_pair, gen_key_type=CKK.EC,
))
for _mech, _hash in (
    (CKM.ECDSA, None),
    (CKM.ECDSA_SHA1, pkhash.BY_CKM[CKM.SHA_1]),
    (CKM.ECDSA_SHA224, pkhash.BY_CKM[CKM.SHA224]),
    (CKM.ECDSA_SHA256, pkhash.BY_CKM[CKM.SHA256]),
    (CKM.ECDSA_SHA384, pkhash.BY_CKM[CKM.SHA384]),
    (CKM.ECDSA_SHA512, pkhash.BY_CKM[CKM.SHA512]),
    (CKM.ECDSA_SHA3_224, pkhash.BY_CKM[CKM.SHA3_224]),
    (CKM.ECDSA_SHA3_256, pkhash.BY_CKM[CKM.SHA3_256]),
    (CKM.ECDSA_SHA3_384, pkhash.BY_CKM[CKM.SHA3_384]),
    (CKM.ECDSA_SHA3_512, pkhash.BY_CKM[CKM.SHA3_512]),
):
    register(MechanismEntry(
        mechanism=_mech, flags=F.SIGN | F.VERIFY | EC_FLAGS,
        min_key_size=ecparams.MIN_BITS, max_key_size=ecparams.MAX_BITS,
        key_types=_KEY_TYPES, operation=_factory(_mech, _hash),
    ))
