"""The CKK_RSA key type (keytypes.KeyTypeHandler), registered for the RSA family (rsa.py).

Its own module because rsa.py is already the mechanisms' worth of a file. Private keys
reach pyca as a PKCS#1 image inside PKCS#8 in a zeroed bytearray (pkcs8.py, issue 10)
whenever every CRT component is present -- stored keys always have them, since
:func:`_normalize` adds the missing ones on import.
"""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from ..pkcs11.constants import CKA, CKK, CKO, CKR
from ..pkcs11.errors import CKRError
from . import pkcs8
from .keys import RSA_MAX_BITS, RSA_MIN_BITS, AttrDict, Attrs, int_bytes, with_info
from .keytypes import KeyTypeHandler, register_key_type

_ALG_RSA = bytes.fromhex("300d06092a864886f70d0101010500")
_PARTS = (CKA.MODULUS, CKA.PUBLIC_EXPONENT, CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2,
          CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT)
_CRT_PARTS = frozenset({CKA.PRIME_1, CKA.PRIME_2, CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT})


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


def _required(attrs: Attrs, cka: int) -> int:
    value = _int(attrs, cka)
    assert value is not None    # required=True raised instead
    return value


def _public_numbers(attrs: Attrs) -> rsa.RSAPublicNumbers:
    n, e = _required(attrs, CKA.MODULUS), _required(attrs, CKA.PUBLIC_EXPONENT)
    if not RSA_MIN_BITS <= n.bit_length() <= RSA_MAX_BITS:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "RSA modulus size out of range")
    return rsa.RSAPublicNumbers(e, n)


def _private_numbers(attrs: Attrs) -> rsa.RSAPrivateNumbers:
    """Full CRT numbers; missing primes / CRT values are recovered with pyca's helpers.

    CKA_PUBLIC_EXPONENT is required: pyca (and the CRT form) cannot use a bare (n, d)
    key, so such a key is CKR_TEMPLATE_INCOMPLETE.
    """
    pub = _public_numbers(attrs)
    d = _required(attrs, CKA.PRIVATE_EXPONENT)
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


def _from_image(attrs: Attrs, *, validate: bool) -> rsa.RSAPrivateKey | None:
    """The key from a PKCS#1 image when every CRT component is present; None when one is
    missing."""
    values = [attrs.get(c) for c in _PARTS]
    if not all(isinstance(v, bytes) and v for v in values):
        return None
    _public_numbers(attrs)          # modulus size and exponent checks
    key: pkcs8.Parts = [b"\x02\x01\x00"]
    for v in values:
        assert isinstance(v, bytes)
        key += pkcs8.der_uint(v)
    try:
        loaded: rsa.RSAPrivateKey = pkcs8.load(pkcs8.fill(pkcs8.private_key_info([_ALG_RSA], key)),
                                               validate=validate)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "inconsistent RSA components") from None
    return loaded


def load_private(attrs: Attrs) -> rsa.RSAPrivateKey:
    """pyca private key from a stored private-key object.

    RSA validation is skipped here: the material was validated by normalize_key_attrs or
    produced by our own generator, and arrives from the store authenticated, while
    OpenSSL's check costs tens of milliseconds per load.
    """
    key = _from_image(attrs, validate=False)
    if key is not None:
        return key
    return _private_numbers(attrs).private_key(unsafe_skip_rsa_key_validation=True)


def load_public(attrs: Attrs) -> rsa.RSAPublicKey:
    try:
        return _public_numbers(attrs).public_key()
    except ValueError:
        raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "invalid RSA public key") from None


def _minimal(value: bytes) -> bytes:
    """PKCS#11's big-integer form (no leading zero bytes); the same object when it is."""
    return value if value[:1] != b"\x00" or len(value) == 1 else (value.lstrip(b"\x00") or b"\x00")


def _normalize(cls: int, key_type: int, attrs: Attrs) -> AttrDict:
    """RSA public: modulus 1024..8192 bits, valid exponent; adds CKA_MODULUS_BITS. RSA
    private: components consistent (pyca validation); adds missing primes and CRT values.
    Both get CKA_PUBLIC_KEY_INFO."""
    if cls == CKO.PUBLIC_KEY:
        numbers = _public_numbers(attrs)
        try:
            public = numbers.public_key()
        except ValueError:
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "invalid RSA public key") from None
        return with_info(attrs, public, {CKA.MODULUS_BITS: numbers.n.bit_length()})
    if cls != CKO.PRIVATE_KEY:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "key type not supported for this class")
    key = _from_image(attrs, validate=True)
    if key is not None:
        # Every component given: keep the caller's values (made minimal), no int copies.
        return with_info(attrs, key.public_key(), {c: _minimal(attrs[c]) for c in _PARTS if c in _CRT_PARTS})
    try:
        key = _private_numbers(attrs).private_key()    # full consistency check (OpenSSL RSA_check_key)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "inconsistent RSA components") from None
    made = private_attrs(key)
    return with_info(attrs, key.public_key(), {c: made[c] for c in _PARTS if c in _CRT_PARTS})


def private_attrs(key: rsa.RSAPrivateKey) -> AttrDict:
    """Every component of a pyca private key, big-endian minimal (unwrap, import, keygen)."""
    n = key.private_numbers()
    return {
        CKA.MODULUS: int_bytes(n.public_numbers.n), CKA.PUBLIC_EXPONENT: int_bytes(n.public_numbers.e),
        CKA.PRIVATE_EXPONENT: int_bytes(n.d), CKA.PRIME_1: int_bytes(n.p), CKA.PRIME_2: int_bytes(n.q),
        CKA.EXPONENT_1: int_bytes(n.dmp1), CKA.EXPONENT_2: int_bytes(n.dmq1),
        CKA.COEFFICIENT: int_bytes(n.iqmp),
    }


def _public_attrs(key: rsa.RSAPublicKey) -> AttrDict:
    n = key.public_numbers()
    return {CKA.KEY_TYPE: CKK.RSA, CKA.MODULUS: int_bytes(n.n), CKA.PUBLIC_EXPONENT: int_bytes(n.e)}


KEY_TYPE = register_key_type(KeyTypeHandler(
    key_types=frozenset({CKK.RSA}), normalize=_normalize,
    size=lambda attrs: int.from_bytes(attrs[CKA.MODULUS], "big").bit_length(),
    load_private=load_private, load_public=load_public,
    private_attrs=private_attrs, public_attrs=_public_attrs,
    pyca_private=(rsa.RSAPrivateKey,), pyca_public=(rsa.RSAPublicKey,),
    signs=True, decrypts=True,
))
