"""pyca/cryptography objects ↔ PKCS#11 attribute templates.

Import turns a pyca key, certificate or raw secret into the attributes a token stores
(RSA with all CRT components so the token can use its fast path, EC as curve + private
scalar + public point, Edwards as raw RFC 8032 bytes, certificates with the
SUBJECT/ISSUER/SERIAL_NUMBER the PKCS#11 profile asks for). The reverse direction builds
a pyca public key from the attributes a token reports, for any module: CKA_PUBLIC_KEY_INFO
when present, else the per-type attributes.
"""
from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass

from . import kinds
from .der import der_integer, unwrap_octet_string

if TYPE_CHECKING:   # pyca is imported where it is used, not with the API
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from ..mechanisms.ecparams import RawPublic

__all__ = [
    "certificate_template",
    "default_id",
    "private_key_templates",
    "public_key_from_attributes",
    "public_key_template",
    "spki_der",
]

Template = dict[Any, Any]
# CKA_PUBLIC_KEY_INFO (PKCS#11 2.40) is missing from python-pkcs11's Attribute enum;
# sessions opened by the API register a bytes handler for it (session.attribute_mapper()).
PUBLIC_KEY_INFO = 0x129


def spki_der(public_key: PublicKeyTypes) -> bytes:
    """DER SubjectPublicKeyInfo of a pyca public key."""
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def default_id(public_key: PublicKeyTypes) -> bytes:
    """The CKA_ID used when the caller gives none: SHA-1 of the DER SubjectPublicKeyInfo
    (20 bytes; the same key always gets the same id, whichever tool imports it)."""
    return hashlib.sha1(spki_der(public_key)).digest()


def _handler(key: Any, *, private: bool) -> Any:
    """The token's key-type handler for a pyca key (mechanisms/keytypes.py): the one place
    that knows each key type's attributes; None for a key strongroom cannot import."""
    from ..mechanisms import keytypes

    handler = keytypes.for_pyca_key(key, private=private)
    if handler is None or (handler.private_attrs if private else handler.public_attrs) is None:
        return None
    return handler


def _template(attrs: dict[int, Any]) -> Template:
    """The handler's CKA-keyed attributes as python-pkcs11 template entries."""
    out: Template = {}
    for cka, value in attrs.items():
        if cka == Attribute.KEY_TYPE:
            with contextlib.suppress(ValueError):   # CKK_EC_MONTGOMERY is missing from KeyType: an int
                value = KeyType(value)
        out[Attribute(cka)] = value
    return out


def _material(handler: Any, key: Any, *, private: bool) -> Template:
    from ..pkcs11.errors import CKRError

    try:
        return _template(handler.private_attrs(key) if private else handler.public_attrs(key))
    except CKRError as e:           # an unsupported curve
        raise ValueError(f"cannot import this {type(key).__name__}: {e}") from None


def _capabilities(handler: Any, private: bool) -> Template:
    if private:
        return {Attribute.SIGN: handler.signs, Attribute.DECRYPT: handler.decrypts,
                Attribute.DERIVE: handler.derives}
    return {Attribute.VERIFY: handler.signs, Attribute.ENCRYPT: handler.decrypts}


def public_key_template(public_key: Any, *, label: str | None, id: bytes) -> Template:
    """The template of a token public-key object for a pyca public key."""
    handler = _handler(public_key, private=False)
    if handler is None:
        raise ValueError(f"cannot import a {type(public_key).__name__}: give an RSA, EC, Ed25519, "
                         "Ed448, X25519 or X448 key")
    template: Template = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.TOKEN: True,
                          Attribute.PRIVATE: False, Attribute.ID: id}
    if label is not None:
        template[Attribute.LABEL] = label
    template.update(_material(handler, public_key, private=False))
    template.update(_capabilities(handler, False))
    return template


def private_key_templates(key: Any, *, label: str | None, id: bytes, extractable: bool,
                          public_label: str | None = None) -> tuple[Template, Template]:
    """(private, public) templates for a pyca private key: the private one sensitive and,
    unless `extractable`, non-extractable."""
    public = public_key_template(key.public_key(), label=public_label if public_label is not None else label,
                                 id=id)
    handler = _handler(key, private=True)
    if handler is None:
        raise ValueError(f"cannot import a {type(key).__name__}")
    template: Template = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.TOKEN: True,
                          Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
                          Attribute.EXTRACTABLE: bool(extractable), Attribute.ID: id,
                          Attribute.KEY_TYPE: public[Attribute.KEY_TYPE]}
    if label is not None:
        template[Attribute.LABEL] = label
    template.update(_material(handler, key, private=True))
    template.update(_capabilities(handler, True))
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
        edwards: dict[str, tuple[type[RawPublic], int]] = {
            "ed25519": (ed25519.Ed25519PublicKey, 32), "ed448": (ed448.Ed448PublicKey, 57),
            "x25519": (x25519.X25519PublicKey, 32), "x448": (x448.X448PublicKey, 56)}
        if curve in edwards:
            cls, size = edwards[curve]
            return cls.from_public_bytes(_point(point, size))
    raise ValueError("the object's attributes do not describe a supported public key")
