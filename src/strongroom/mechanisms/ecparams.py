"""Named curves and the two tiny DER forms PKCS#11 EC keys need.

CKA_EC_PARAMS is DER of X9.62 ``Parameters ::= CHOICE { ecParameters, namedCurve OID,
implicitlyCA NULL, curveName PrintableString }`` (PKCS#11 v3.0 Current Mechanisms
§2.3.3). We accept the namedCurve OID (what everyone sends) and the PrintableString curve
name; explicit parameters are refused with CKR_CURVE_NOT_SUPPORTED. CKA_EC_POINT is a
DER OCTET STRING holding the X9.62 point. The encoders here are deliberately minimal
(one tag, definite length); they are not a general ASN.1 library.
"""
from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, x448, x25519

from ..pkcs11.constants import CKK, CKR
from ..pkcs11.errors import CKRError
from .pkcs8 import der_len

TAG_OCTET_STRING = 0x04
TAG_OID = 0x06
TAG_PRINTABLE_STRING = 0x13


@dataclass(frozen=True)
class Curve:
    """A curve we support: pyca's class, its sizes and its encodings."""

    name: str
    oid_der: bytes                # the full DER of the OBJECT IDENTIFIER
    curve: type[ec.EllipticCurve]
    bits: int                     # order (and field) size in bits: CK_MECHANISM_INFO size
    names: tuple[str, ...]        # PrintableString aliases accepted in CKA_EC_PARAMS

    @property
    def field_bytes(self) -> int:
        return (self.bits + 7) // 8


CURVES: tuple[Curve, ...] = (
    Curve("secp256r1", bytes.fromhex("06082a8648ce3d030107"), ec.SECP256R1, 256,
          ("secp256r1", "prime256v1", "P-256")),
    Curve("secp384r1", bytes.fromhex("06052b81040022"), ec.SECP384R1, 384,
          ("secp384r1", "P-384")),
    Curve("secp521r1", bytes.fromhex("06052b81040023"), ec.SECP521R1, 521,
          ("secp521r1", "P-521")),
    Curve("secp256k1", bytes.fromhex("06052b8104000a"), ec.SECP256K1, 256, ("secp256k1",)),
    Curve("brainpoolP256r1", bytes.fromhex("06092b2403030208010107"), ec.BrainpoolP256R1, 256,
          ("brainpoolP256r1",)),
    Curve("brainpoolP384r1", bytes.fromhex("06092b240303020801010b"), ec.BrainpoolP384R1, 384,
          ("brainpoolP384r1",)),
    Curve("brainpoolP512r1", bytes.fromhex("06092b240303020801010d"), ec.BrainpoolP512R1, 512,
          ("brainpoolP512r1",)),
)
MIN_BITS = min(c.bits for c in CURVES)
MAX_BITS = max(c.bits for c in CURVES)

_BY_OID = {c.oid_der: c for c in CURVES}
_BY_NAME = {n: c for c in CURVES for n in c.names}
_BY_PYCA = {c.curve().name: c for c in CURVES}   # an instance: on the class it is a property


def der_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + der_len(len(content)) + content


def der_parse_tlv(data: bytes) -> tuple[int, bytes] | None:
    """(tag, content) if ``data`` is exactly one DER TLV with a minimal length, else None."""
    if len(data) < 2:
        return None
    tag, first = data[0], data[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return None
        length = int.from_bytes(data[2:2 + count], "big")
        start = 2 + count
        if length < 0x80 or data[2] == 0:      # not minimal: not DER
            return None
    if start + length != len(data):
        return None
    return tag, data[start:]


def curve_from_params(params: object) -> Curve:
    """The curve named by a CKA_EC_PARAMS value.

    Malformed DER is CKR_ATTRIBUTE_VALUE_INVALID; a well-formed but unknown curve (or
    explicit parameters) is CKR_CURVE_NOT_SUPPORTED (v3.0 §5.1.5 return values).
    """
    if not isinstance(params, bytes):
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_EC_PARAMS must be bytes")
    curve = _BY_OID.get(params)
    if curve is not None:
        return curve
    tlv = der_parse_tlv(params)
    if tlv is None:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_EC_PARAMS is not DER")
    tag, content = tlv
    if tag == TAG_PRINTABLE_STRING:
        curve = _BY_NAME.get(content.decode("ascii", "replace"))
        if curve is not None:
            return curve
    raise CKRError(CKR.CURVE_NOT_SUPPORTED, "curve not supported")


def curve_of_key(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> Curve:
    return _BY_PYCA[key.curve.name]


def encode_point(raw_point: bytes) -> bytes:
    """CKA_EC_POINT in the spec's form: DER OCTET STRING of the X9.62 point."""
    return der_tlv(TAG_OCTET_STRING, raw_point)


def decode_point(curve: Curve, value: object) -> ec.EllipticCurvePublicKey:
    """Parse CKA_EC_POINT in any form seen in the wild (field notes, "Interoperability").

    Accepted: DER OCTET STRING wrapping an X9.62 point (the spec's form) and the bare
    X9.62 point; compressed or uncompressed. The forms cannot be confused: a bare
    uncompressed point is exactly 1 + 2*field_bytes long and its DER wrapping is longer.
    The point is validated on the curve; any failure is CKR_ATTRIBUTE_VALUE_INVALID.
    """
    if not isinstance(value, bytes):
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_EC_POINT must be bytes")
    candidates = []
    tlv = der_parse_tlv(value)
    if tlv is not None and tlv[0] == TAG_OCTET_STRING:
        candidates.append(tlv[1])
    candidates.append(value)
    for raw in candidates:
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(curve.curve(), raw)
        except ValueError:
            continue
    raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_EC_POINT is not a point on the curve")


# --- Edwards and Montgomery curves (PKCS#11 v3.0 Current Mechanisms, "EC Edwards" /
# "EC Montgomery" key objects). CKA_EC_PARAMS is the RFC 8410 OID or a PrintableString
# curve name; pkcs11-tool 0.23 sends the names "edwards25519" / "curve25519", GnuPG-era
# software the pre-RFC OIDs 1.3.6.1.4.1.11591.15.1 / 1.3.6.1.4.1.3029.1.5.1. Keys are raw
# byte strings (RFC 8032 / RFC 7748 encodings), not X9.62 points.


#: pyca's Edwards / Montgomery classes share no base class: one union per family and role.
EdPrivate = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
EdPublic = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
RawPrivate = EdPrivate | x25519.X25519PrivateKey | x448.X448PrivateKey
RawPublic = EdPublic | x25519.X25519PublicKey | x448.X448PublicKey


@dataclass(frozen=True)
class RawCurve:
    """An Edwards or Montgomery curve: key type, pyca classes, raw key lengths."""

    name: str
    key_type: int                 # CKK_EC_EDWARDS or CKK_EC_MONTGOMERY
    oid_der: bytes                # RFC 8410 OID, the form we never need to be told twice
    bits: int                     # CK_MECHANISM_INFO size (255 / 448, as other tokens report)
    public_len: int
    private_len: int
    private_cls: type[RawPrivate]
    public_cls: type[RawPublic]
    names: tuple[str, ...]
    old_oids: tuple[bytes, ...] = ()


RAW_CURVES: tuple[RawCurve, ...] = (
    RawCurve("Ed25519", CKK.EC_EDWARDS, bytes.fromhex("06032b6570"), 255, 32, 32,
             ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey,
             ("edwards25519", "Ed25519", "ed25519"), (bytes.fromhex("06092b06010401da470f01"),)),
    RawCurve("Ed448", CKK.EC_EDWARDS, bytes.fromhex("06032b6571"), 448, 57, 57,
             ed448.Ed448PrivateKey, ed448.Ed448PublicKey, ("edwards448", "Ed448", "ed448")),
    RawCurve("X25519", CKK.EC_MONTGOMERY, bytes.fromhex("06032b656e"), 255, 32, 32,
             x25519.X25519PrivateKey, x25519.X25519PublicKey,
             ("curve25519", "X25519", "x25519"), (bytes.fromhex("060a2b060104019755010501"),)),
    RawCurve("X448", CKK.EC_MONTGOMERY, bytes.fromhex("06032b656f"), 448, 56, 56,
             x448.X448PrivateKey, x448.X448PublicKey, ("curve448", "X448", "x448")),
)
RAW_MIN_BITS = min(c.bits for c in RAW_CURVES)
RAW_MAX_BITS = max(c.bits for c in RAW_CURVES)
_RAW_BY_OID = {o: c for c in RAW_CURVES for o in (c.oid_der, *c.old_oids)}
_RAW_BY_NAME = {n: c for c in RAW_CURVES for n in c.names}


def raw_curve_from_params(params: object, key_type: int) -> RawCurve:
    """The Edwards / Montgomery curve named by CKA_EC_PARAMS for a key of ``key_type``.

    A curve of the other family (an Ed25519 OID on a CKK_EC_MONTGOMERY key) is
    CKR_CURVE_NOT_SUPPORTED, like any unknown curve; malformed DER is
    CKR_ATTRIBUTE_VALUE_INVALID.
    """
    if not isinstance(params, bytes):
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_EC_PARAMS must be bytes")
    curve = _RAW_BY_OID.get(params)
    if curve is None:
        tlv = der_parse_tlv(params)
        if tlv is None:
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_EC_PARAMS is not DER")
        if tlv[0] == TAG_PRINTABLE_STRING:
            curve = _RAW_BY_NAME.get(tlv[1].decode("ascii", "replace"))
    if curve is None or curve.key_type != key_type:
        raise CKRError(CKR.CURVE_NOT_SUPPORTED, "curve not supported for this key type")
    return curve


def raw_curve_of_key(key: object) -> RawCurve:
    for c in RAW_CURVES:
        if isinstance(key, (c.private_cls, c.public_cls)):
            return c
    raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "not an Edwards or Montgomery key")


def unwrap_raw(value: object, length: int, what: str) -> bytes:
    """A raw Edwards/Montgomery key given bare or as a DER OCTET STRING (field notes).

    The forms cannot be confused: the bare form is exactly ``length`` bytes, its DER
    wrapping ``length + 2``.
    """
    if isinstance(value, bytes):
        if len(value) == length:
            return value
        tlv = der_parse_tlv(value)
        if tlv is not None and tlv[0] == TAG_OCTET_STRING and len(tlv[1]) == length:
            return tlv[1]
    raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"{what} must be {length} bytes (raw or DER OCTET STRING)")


def decode_raw_public(curve: RawCurve, value: object) -> RawPublic:
    """CKA_EC_POINT (or ECDH public data) of an Edwards / Montgomery key -> pyca key."""
    raw = unwrap_raw(value, curve.public_len, "CKA_EC_POINT")
    try:
        return curve.public_cls.from_public_bytes(raw)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "invalid public key") from None
