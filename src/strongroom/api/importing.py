"""pyca/cryptography objects ↔ PKCS#11 attribute templates.

Import turns a pyca key, certificate or raw secret into the attributes a token stores
(RSA with all CRT components so the token can use its fast path, EC as curve + private
scalar + public point, Edwards as raw RFC 8032 bytes, certificates with the
SUBJECT/ISSUER/SERIAL_NUMBER the PKCS#11 profile asks for). The reverse direction builds
a pyca public key from the attributes a token reports, for any module: CKA_PUBLIC_KEY_INFO
when present, else the per-type attributes.
"""
from __future__ import annotations

import hashlib
from typing import Any

from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass

from . import kinds
from .der import der_integer, octet_string, unwrap_octet_string

__all__ = ["private_key_templates", "public_key_template", "certificate_template",
           "public_key_from_attributes", "spki_der", "default_id"]

Template = dict[Any, Any]
# CKA_PUBLIC_KEY_INFO (PKCS#11 2.40) is missing from python-pkcs11's Attribute enum;
# sessions opened by the API register a bytes handler for it (session.attribute_mapper()).
PUBLIC_KEY_INFO = 0x129
CKK_EC_MONTGOMERY = 0x41        # also missing from python-pkcs11's KeyType


def _int(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def spki_der(public_key: Any) -> bytes:
    """DER SubjectPublicKeyInfo of a pyca public key."""
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def default_id(public_key: Any) -> bytes:
    """The CKA_ID used when the caller gives none: SHA-1 of the DER SubjectPublicKeyInfo
    (20 bytes; the same key always gets the same id, whichever tool imports it)."""
    return hashlib.sha1(spki_der(public_key)).digest()


def _public_parts(public_key: Any) -> Template:
    """KEY_TYPE and the public attributes of a pyca public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

    raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(public_key, rsa.RSAPublicKey):
        n = public_key.public_numbers()
        return {Attribute.KEY_TYPE: KeyType.RSA, Attribute.MODULUS: _int(n.n),
                Attribute.PUBLIC_EXPONENT: _int(n.e)}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        _, params = kinds.params_for_pyca_curve(public_key.curve)
        point = public_key.public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.UncompressedPoint)
        return {Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: params,
                Attribute.EC_POINT: octet_string(point)}
    for cls, name, key_type in ((ed25519.Ed25519PublicKey, "ed25519", KeyType.EC_EDWARDS),
                                (ed448.Ed448PublicKey, "ed448", KeyType.EC_EDWARDS),
                                (x25519.X25519PublicKey, "x25519", CKK_EC_MONTGOMERY),
                                (x448.X448PublicKey, "x448", CKK_EC_MONTGOMERY)):
        if isinstance(public_key, cls):
            return {Attribute.KEY_TYPE: key_type,
                    Attribute.EC_PARAMS: kinds.parse_kind(name).ec_params,
                    Attribute.EC_POINT: octet_string(public_key.public_bytes(*raw))}
    raise ValueError(f"cannot import a {type(public_key).__name__}: give an RSA, EC, Ed25519, "
                     "Ed448, X25519 or X448 key")


def _capabilities(key_type: Any, private: bool) -> Template:
    signs = key_type in (KeyType.RSA, KeyType.EC, KeyType.EC_EDWARDS)
    rsa_key = key_type == KeyType.RSA
    derives = key_type in (KeyType.EC, CKK_EC_MONTGOMERY)
    if private:
        return {Attribute.SIGN: signs, Attribute.DECRYPT: rsa_key, Attribute.DERIVE: derives}
    return {Attribute.VERIFY: signs, Attribute.ENCRYPT: rsa_key}


def public_key_template(public_key: Any, *, label: str | None, id: bytes) -> Template:
    """The template of a token public-key object for a pyca public key."""
    template: Template = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.TOKEN: True,
                          Attribute.PRIVATE: False, Attribute.ID: id}
    if label is not None:
        template[Attribute.LABEL] = label
    template.update(_public_parts(public_key))
    template.update(_capabilities(template[Attribute.KEY_TYPE], False))
    return template


def private_key_templates(key: Any, *, label: str | None, id: bytes, extractable: bool,
                          public_label: str | None = None) -> tuple[Template, Template]:
    """(private, public) templates for a pyca private key: the private one sensitive and,
    unless `extractable`, non-extractable."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

    public = public_key_template(key.public_key(), label=public_label if public_label is not None else label,
                                 id=id)
    template: Template = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.TOKEN: True,
                          Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
                          Attribute.EXTRACTABLE: bool(extractable), Attribute.ID: id,
                          Attribute.KEY_TYPE: public[Attribute.KEY_TYPE]}
    if label is not None:
        template[Attribute.LABEL] = label
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        template.update({Attribute.MODULUS: _int(n.public_numbers.n),
                         Attribute.PUBLIC_EXPONENT: _int(n.public_numbers.e),
                         Attribute.PRIVATE_EXPONENT: _int(n.d), Attribute.PRIME_1: _int(n.p),
                         Attribute.PRIME_2: _int(n.q), Attribute.EXPONENT_1: _int(n.dmp1),
                         Attribute.EXPONENT_2: _int(n.dmq1), Attribute.COEFFICIENT: _int(n.iqmp)})
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        template[Attribute.EC_PARAMS] = public[Attribute.EC_PARAMS]
        template[Attribute.VALUE] = key.private_numbers().private_value.to_bytes(size, "big")
    elif isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey,
                          x25519.X25519PrivateKey, x448.X448PrivateKey)):
        template[Attribute.EC_PARAMS] = public[Attribute.EC_PARAMS]
        template[Attribute.VALUE] = key.private_bytes(serialization.Encoding.Raw,
                                                      serialization.PrivateFormat.Raw,
                                                      serialization.NoEncryption())
    else:
        raise ValueError(f"cannot import a {type(key).__name__}")
    template.update(_capabilities(template[Attribute.KEY_TYPE], True))
    return template, public


def certificate_template(cert: Any, *, label: str | None, id: bytes) -> Template:
    """A token X.509 certificate object for a pyca certificate."""
    from cryptography.hazmat.primitives import serialization

    template: Template = {
        Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.ID: id,
        Attribute.SUBJECT: cert.subject.public_bytes(), Attribute.ISSUER: cert.issuer.public_bytes(),
        Attribute.SERIAL_NUMBER: der_integer(cert.serial_number),
        Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER)}
    if label is not None:
        template[Attribute.LABEL] = label
    return template


def _point(data: bytes, raw_size: int | None) -> bytes:
    """The bare point of a CKA_EC_POINT value, DER-wrapped or not (modules differ)."""
    data = bytes(data)
    if raw_size is not None and len(data) == raw_size:
        return data
    inner = unwrap_octet_string(data)
    return inner if inner is not None else data


def public_key_from_attributes(get: Any) -> Any:
    """A pyca public key from an object's attributes; `get(attribute)` returns the value
    or None when the object lacks it. Raises ValueError when the attributes do not
    describe a supported public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

    info = get(PUBLIC_KEY_INFO)
    if info:
        return serialization.load_der_public_key(bytes(info))
    key_type = get(Attribute.KEY_TYPE)
    if key_type == KeyType.RSA:
        n, e = get(Attribute.MODULUS), get(Attribute.PUBLIC_EXPONENT)
        if n and e:
            return rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()
    params, point = get(Attribute.EC_PARAMS), get(Attribute.EC_POINT)
    if params and point:
        curve = kinds.curve_for_params(bytes(params))
        if key_type == KeyType.EC and curve and curve in kinds.WEIERSTRASS:
            pyca = kinds.pyca_curve(curve)
            raw = 1 + 2 * ((pyca.key_size + 7) // 8)
            return ec.EllipticCurvePublicKey.from_encoded_point(pyca, _point(point, raw))
        edwards = {"ed25519": (ed25519.Ed25519PublicKey, 32), "ed448": (ed448.Ed448PublicKey, 57),
                   "x25519": (x25519.X25519PublicKey, 32), "x448": (x448.X448PublicKey, 56)}
        if curve in edwards:
            cls, size = edwards[curve]
            return cls.from_public_bytes(_point(point, size))
    raise ValueError("the object's attributes do not describe a supported public key")
