"""Key import normalisation and pyca loaders.

``normalize_key_attrs`` is what the core calls for C_CreateObject of a key, after the
template validator: it checks the *key material* (is the point on the curve, are the RSA
components consistent) and returns the attributes to add or replace. The loaders turn
attribute dicts into pyca key objects; the core caches them via ``KeyMaterial.parsed``.

Errors follow C_CreateObject's list (PKCS#11 v3.0 Base §5.7): bad material is
CKR_ATTRIBUTE_VALUE_INVALID, a missing component is CKR_TEMPLATE_INCOMPLETE, a
contradiction is CKR_TEMPLATE_INCONSISTENT, an unknown curve CKR_CURVE_NOT_SUPPORTED.
"""
from __future__ import annotations

from typing import Any, Mapping

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..pkcs11.constants import CKA, CKK, CKO, CKR
from ..pkcs11.errors import CKRError
from ..wipe import wipe_bytes, zero
from . import ecparams, pqc

RSA_MIN_BITS = 1024        # import, verify, and generation (the 2048 default floor is config: rsa_min_generate_bits)
RSA_MAX_BITS = 8192
AES_KEY_LENGTHS = (16, 24, 32)
#: Secret key types whose value may be any non-empty byte string (HMAC keys).
GENERIC_SECRETS = frozenset({
    CKK.GENERIC_SECRET, CKK.SHA_1_HMAC, CKK.SHA224_HMAC, CKK.SHA256_HMAC,
    CKK.SHA384_HMAC, CKK.SHA512_HMAC, CKK.SHA512_224_HMAC, CKK.SHA512_256_HMAC,
    CKK.SHA3_224_HMAC, CKK.SHA3_256_HMAC, CKK.SHA3_384_HMAC, CKK.SHA3_512_HMAC, CKK.HKDF,
})
CHACHA20_KEY_LENGTHS = (32,)

Attrs = Mapping[int, Any]


def _int(attrs: Attrs, cka: int, *, required: bool = True) -> int | None:
    """A big-endian integer attribute; absent -> None or TEMPLATE_INCOMPLETE."""
    value = attrs.get(cka)
    if value is None:
        if required:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, f"{CKA(cka).name} missing")
        return None
    if not isinstance(value, bytes) or not value:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"{CKA(cka).name} must be non-empty bytes")
    return int.from_bytes(value, "big")


def int_bytes(n: int, length: int | None = None) -> bytes:
    """Big-endian, minimal (or fixed ``length``) — PKCS#11's "Big integer" form."""
    return n.to_bytes(length or max(1, (n.bit_length() + 7) // 8), "big")


def public_key_info(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    """CKA_PUBLIC_KEY_INFO: DER SubjectPublicKeyInfo (PKCS#11 v3.0 Base §4.8, §4.9)."""
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _with_info(attrs: Attrs, key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, out: dict) -> dict:
    """Add CKA_PUBLIC_KEY_INFO; a non-empty given value must match the key material."""
    info = public_key_info(key)
    given = attrs.get(CKA.PUBLIC_KEY_INFO)
    if given and given != info:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_PUBLIC_KEY_INFO does not match the key")
    out[CKA.PUBLIC_KEY_INFO] = info
    return out


def _rsa_public_numbers(attrs: Attrs) -> rsa.RSAPublicNumbers:
    n, e = _int(attrs, CKA.MODULUS), _int(attrs, CKA.PUBLIC_EXPONENT)
    if not RSA_MIN_BITS <= n.bit_length() <= RSA_MAX_BITS:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "RSA modulus size out of range")
    return rsa.RSAPublicNumbers(e, n)


def _rsa_private_numbers(attrs: Attrs) -> rsa.RSAPrivateNumbers:
    """Full CRT numbers; missing primes / CRT values are recovered with pyca's helpers.

    CKA_PUBLIC_EXPONENT is required: pyca (and the CRT form) cannot use a bare (n, d)
    key, so such a key is CKR_TEMPLATE_INCOMPLETE.
    """
    pub = _rsa_public_numbers(attrs)
    d = _int(attrs, CKA.PRIVATE_EXPONENT)
    p, q = _int(attrs, CKA.PRIME_1, required=False), _int(attrs, CKA.PRIME_2, required=False)
    try:
        if p is None or q is None:
            p, q = rsa.rsa_recover_prime_factors(pub.n, pub.e, d)
        dmp1 = _int(attrs, CKA.EXPONENT_1, required=False) or rsa.rsa_crt_dmp1(d, p)
        dmq1 = _int(attrs, CKA.EXPONENT_2, required=False) or rsa.rsa_crt_dmq1(d, q)
        iqmp = _int(attrs, CKA.COEFFICIENT, required=False) or rsa.rsa_crt_iqmp(p, q)
    except (ValueError, ZeroDivisionError):
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "inconsistent RSA components") from None
    return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, pub)


# --- private keys through a PKCS#8 image in a bytearray (issue 10) -------------------
# pyca's int-based constructors (ec.derive_private_key, RSAPrivateNumbers.private_key)
# need the secret as Python ints and turn each back into a transient big-endian byte
# string inside pyca that nobody clears. Instead the key is handed to pyca's own Rust
# PKCS#8 parser as a DER image written into one bytearray (zero-copy parse straight into
# OpenSSL BIGNUMs), and that bytearray is zeroed as soon as pyca returns. The header
# bytes are public; the secret parts are copied into the bytearray from the attribute
# values themselves (memoryview slices, no intermediate bytes).
_OID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
_ALG_RSA = bytes.fromhex("300d06092a864886f70d0101010500")


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    size = (n.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + n.to_bytes(size, "big")


def _tlv(tag: int, parts: list) -> list:
    """[header, *parts] for a DER element whose content is ``parts`` (bytes/memoryviews)."""
    return [bytes((tag,)) + _der_len(sum(len(p) for p in parts)), *parts]


def _der_uint(value: bytes) -> list:
    """INTEGER parts for a big-endian unsigned magnitude, without copying the value."""
    view = memoryview(value)
    skip = 0
    while skip < len(view) - 1 and view[skip] == 0:
        skip += 1
    view = view[skip:]
    return _tlv(0x02, [b"\x00", view] if view[0] & 0x80 else [view])


def _fill(parts: list) -> bytearray:
    """One preallocated bytearray holding ``parts`` (never grown: no freed copies)."""
    out = bytearray(sum(len(p) for p in parts))
    pos = 0
    for p in parts:
        out[pos:pos + len(p)] = p
        pos += len(p)
    return out


def _load_pkcs8(image: bytearray, *, validate: bool = True) -> Any:
    """pyca key from a PKCS#8 image; the image is zeroed whatever happens."""
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        return load_der_private_key(image, None, unsafe_skip_rsa_key_validation=not validate)
    finally:
        zero(image)


def _pkcs8(algorithm: list, key: list) -> list:
    inner = _tlv(0x30, key)
    return _tlv(0x30, [b"\x02\x01\x00", *algorithm, *_tlv(0x04, inner)])


def _ec_private_key(attrs: Attrs) -> ec.EllipticCurvePrivateKey:
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
    image = bytearray(len(prefix) + curve.field_bytes)   # RFC 5915: fixed-length octets,
    image[:len(prefix)] = prefix                          # left-padded with the zeros here
    image[len(image) - len(view):] = view
    try:
        return _load_pkcs8(image)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "EC private value out of range") from None


_ec_prefixes: dict[bytes, bytes] = {}


def _ec_prefix(curve: ecparams.Curve) -> bytes:
    """The PKCS#8 image of a key on ``curve`` up to its private value (public, per curve):
    the value is the image's last field_bytes, so building one is two slice copies."""
    prefix = _ec_prefixes.get(curve.oid_der)
    if prefix is None:
        algorithm = _tlv(0x30, [_OID_EC_PUBLIC_KEY, curve.oid_der])
        dummy = bytes(curve.field_bytes)
        image = bytes(_fill(_pkcs8(algorithm, [b"\x02\x01\x01", *_tlv(0x04, [dummy])])))
        prefix = _ec_prefixes[curve.oid_der] = image[:-curve.field_bytes]
    return prefix


_RSA_PARTS = (CKA.MODULUS, CKA.PUBLIC_EXPONENT, CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2,
              CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT)


def _rsa_private_key_image(attrs: Attrs, *, validate: bool) -> rsa.RSAPrivateKey | None:
    """The key from a PKCS#1 image when every CRT component is present (stored keys always
    are, normalize_key_attrs adds the missing ones); None when one is missing."""
    values = [attrs.get(c) for c in _RSA_PARTS]
    if not all(isinstance(v, bytes) and v for v in values):
        return None
    _rsa_public_numbers(attrs)          # modulus size and exponent checks
    key = [b"\x02\x01\x00"]
    for v in values:
        key += _der_uint(v)
    try:
        return _load_pkcs8(_fill(_pkcs8([_ALG_RSA], key)), validate=validate)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "inconsistent RSA components") from None


RAW_KEY_TYPES = frozenset({CKK.EC_EDWARDS, CKK.EC_MONTGOMERY})


def _raw_curve(attrs: Attrs) -> ecparams.RawCurve:
    if CKA.EC_PARAMS not in attrs:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing")
    return ecparams.raw_curve_from_params(attrs[CKA.EC_PARAMS], attrs.get(CKA.KEY_TYPE))


def _raw_private_key(attrs: Attrs):
    """Ed25519/Ed448/X25519/X448 private key from CKA_VALUE (the raw RFC 8032/7748 bytes)."""
    curve = _raw_curve(attrs)
    if CKA.VALUE not in attrs:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE missing")
    raw = ecparams.unwrap_raw(attrs[CKA.VALUE], curve.private_len, "CKA_VALUE")
    try:
        return curve.private_cls.from_private_bytes(raw)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "invalid private key") from None
    finally:
        if raw is not attrs[CKA.VALUE]:    # unwrapped from a DER OCTET STRING: our copy
            wipe_bytes(raw, 1)


def _require_params(attrs: Attrs) -> ecparams.Curve:
    if CKA.EC_PARAMS not in attrs:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing")
    return ecparams.curve_from_params(attrs[CKA.EC_PARAMS])


def _secret_len(attrs: Attrs, allowed: tuple[int, ...] | None) -> dict:
    value = attrs.get(CKA.VALUE)
    if value is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE missing")
    if not isinstance(value, bytes) or not value or (allowed and len(value) not in allowed):
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "secret key length not supported")
    given = attrs.get(CKA.VALUE_LEN)
    if given is not None and given != len(value):
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN does not match CKA_VALUE")
    return {CKA.VALUE_LEN: len(value)}


def normalize_key_attrs(cls: int, key_type: int, attrs: Attrs) -> dict:
    """Validate imported key material; return attributes to add or replace.

    * EC public: CKA_EC_POINT (DER or bare, compressed or not) -> DER uncompressed.
    * EC private: scalar in [1, n-1].
    * RSA public: modulus 1024..8192 bits, valid exponent; adds CKA_MODULUS_BITS.
    * RSA private: components consistent (pyca validation); adds missing primes and
      CRT values.
    * AES: 16/24/32 bytes; generic secret / HMAC key types: non-empty; all get
      CKA_VALUE_LEN.
    * RSA and EC keys of both classes get CKA_PUBLIC_KEY_INFO (DER SPKI).
    Any other (class, key type) is refused: no mechanism here could use it.
    """
    if key_type == CKK.EC and cls == CKO.PUBLIC_KEY:
        curve = _require_params(attrs)
        if CKA.EC_POINT not in attrs:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_POINT missing")
        key = ecparams.decode_point(curve, attrs[CKA.EC_POINT])
        raw = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return _with_info(attrs, key, {CKA.EC_POINT: ecparams.encode_point(raw)})
    if key_type == CKK.EC and cls == CKO.PRIVATE_KEY:
        _require_params(attrs)
        return _with_info(attrs, _ec_private_key(attrs).public_key(), {})
    if key_type in RAW_KEY_TYPES and cls == CKO.PUBLIC_KEY:
        curve = _raw_curve({**attrs, CKA.KEY_TYPE: key_type})
        if CKA.EC_POINT not in attrs:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_POINT missing")
        key = ecparams.decode_raw_public(curve, attrs[CKA.EC_POINT])
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return _with_info(attrs, key, {CKA.EC_POINT: ecparams.encode_point(raw)})
    if key_type in RAW_KEY_TYPES and cls == CKO.PRIVATE_KEY:
        key = _raw_private_key({**attrs, CKA.KEY_TYPE: key_type})
        # CKA_VALUE given as a DER OCTET STRING is stored raw, the spec's form
        return _with_info(attrs, key.public_key(), {CKA.VALUE: key.private_bytes_raw()})
    if key_type == CKK.RSA and cls == CKO.PUBLIC_KEY:
        numbers = _rsa_public_numbers(attrs)
        try:
            key = numbers.public_key()
        except ValueError:
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "invalid RSA public key") from None
        return _with_info(attrs, key, {CKA.MODULUS_BITS: numbers.n.bit_length()})
    if key_type == CKK.RSA and cls == CKO.PRIVATE_KEY:
        key = _rsa_private_key_image(attrs, validate=True)
        if key is not None:
            # Every component given: keep the caller's values (made minimal), no int copies.
            return _with_info(attrs, key.public_key(), {
                c: _minimal(attrs[c]) for c in _RSA_PARTS if c in _CRT_PARTS})
        numbers = _rsa_private_numbers(attrs)
        try:
            key = numbers.private_key()    # full consistency check (OpenSSL RSA_check_key)
        except ValueError:
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "inconsistent RSA components") from None
        return _with_info(attrs, key.public_key(), {
            CKA.PRIME_1: int_bytes(numbers.p), CKA.PRIME_2: int_bytes(numbers.q),
            CKA.EXPONENT_1: int_bytes(numbers.dmp1), CKA.EXPONENT_2: int_bytes(numbers.dmq1),
            CKA.COEFFICIENT: int_bytes(numbers.iqmp),
        })
    if key_type == CKK.AES and cls == CKO.SECRET_KEY:
        return _secret_len(attrs, AES_KEY_LENGTHS)
    if key_type in GENERIC_SECRETS and cls == CKO.SECRET_KEY:
        return _secret_len(attrs, None)
    if key_type == CKK.CHACHA20 and cls == CKO.SECRET_KEY:
        return _secret_len(attrs, CHACHA20_KEY_LENGTHS)
    if key_type in pqc.KEY_TYPES:     # ML-DSA / ML-KEM (PKCS#11 v3.2): see mechanisms/pqc.py
        return pqc.normalize(cls, key_type, attrs)
    raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "key type not supported for this class")


_CRT_PARTS = frozenset({CKA.PRIME_1, CKA.PRIME_2, CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT})


def _minimal(value: bytes) -> bytes:
    """PKCS#11's big-integer form (no leading zero bytes); the same object when it is."""
    return value if value[:1] != b"\x00" or len(value) == 1 else (value.lstrip(b"\x00") or b"\x00")


def key_size(attrs: Attrs) -> int | None:
    """The key's size in CK_MECHANISM_INFO units (bits for RSA/EC, bytes for secrets).

    For the core's min/max check against ``MechanismEntry``; None when unknown.
    """
    key_type = attrs.get(CKA.KEY_TYPE)
    try:
        if key_type == CKK.RSA:
            return int.from_bytes(attrs[CKA.MODULUS], "big").bit_length()
        if key_type == CKK.EC:
            return ecparams.curve_from_params(attrs.get(CKA.EC_PARAMS)).bits
        if key_type in RAW_KEY_TYPES:
            return ecparams.raw_curve_from_params(attrs.get(CKA.EC_PARAMS), key_type).bits
        if key_type in pqc.KEY_TYPES:     # public key bytes, the v3.2 unit for ML-DSA / ML-KEM
            return pqc.key_size(attrs)
        if attrs.get(CKA.CLASS) == CKO.SECRET_KEY and isinstance(attrs.get(CKA.VALUE), bytes):
            return len(attrs[CKA.VALUE])
    except (KeyError, TypeError, CKRError):
        return None
    return None


def load_private(attrs: Attrs) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """pyca private key from a stored private-key object.

    RSA validation is skipped here: the material was validated by normalize_key_attrs or
    produced by our own generator, and arrives from the store authenticated, while
    OpenSSL's check costs tens of milliseconds per load.
    """
    key_type = attrs.get(CKA.KEY_TYPE)
    if key_type == CKK.RSA:
        key = _rsa_private_key_image(attrs, validate=False)
        if key is not None:
            return key
        return _rsa_private_numbers(attrs).private_key(unsafe_skip_rsa_key_validation=True)
    if key_type == CKK.EC:
        return _ec_private_key(attrs)
    if key_type in RAW_KEY_TYPES:
        return _raw_private_key(attrs)
    if key_type in pqc.KEY_TYPES:
        return pqc.load_private(attrs)
    raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "not an RSA or EC private key")


def load_public(attrs: Attrs) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """pyca public key from a public-key object (or the public half of a private key)."""
    if attrs.get(CKA.CLASS) == CKO.PRIVATE_KEY:
        return load_private(attrs).public_key()
    key_type = attrs.get(CKA.KEY_TYPE)
    if key_type == CKK.RSA:
        try:
            return _rsa_public_numbers(attrs).public_key()
        except ValueError:
            raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "invalid RSA public key") from None
    if key_type == CKK.EC:
        return ecparams.decode_point(_require_params(attrs), attrs.get(CKA.EC_POINT))
    if key_type in RAW_KEY_TYPES:
        return ecparams.decode_raw_public(_raw_curve(attrs), attrs.get(CKA.EC_POINT))
    if key_type in pqc.KEY_TYPES:
        return pqc.load_public(attrs)
    raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "not an RSA or EC public key")


def load_secret(attrs: Attrs) -> bytes:
    """A secret key's value (CKA_VALUE)."""
    value = attrs.get(CKA.VALUE)
    if not isinstance(value, bytes):
        raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "secret key has no value")
    return value


def wrap_image(attrs: Attrs) -> bytes:
    """C_WrapKey's plaintext: CKA_VALUE of a secret key, PKCS#8 DER of a private key."""
    from .keyimage import wrap_image as _wrap_image
    return _wrap_image(attrs)


def attrs_from_image(cls: int, key_type: int, image: bytes) -> dict:
    """C_UnwrapKey: the key-material attributes of ``image`` (then normalize_key_attrs)."""
    from .keyimage import attrs_from_image as _attrs_from_image
    return _attrs_from_image(cls, key_type, image)
