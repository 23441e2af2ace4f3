"""ObjectRef: what the API hands out for a token object, and its attribute dump.

A reference carries the few attributes every caller wants (type, label, id, key type)
and a URI that selects the object again, so listings print without further token
calls. attributes() is the debug view: every standard attribute the object answers,
with secret key material always shown as "<sensitive>" — it is never read at all, so
no listing can leak it, whatever the key's CKA_SENSITIVE/CKA_EXTRACTABLE say.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as _p11e

__all__ = [
    "SENSITIVE",
    "TYPE_CLASSES",
    "TYPE_NAMES",
    "ObjectRef",
    "get_attribute",
    "key_type_name",
    "read_attributes",
]

SENSITIVE = "<sensitive>"
TYPE_NAMES = {ObjectClass.DATA: "data", ObjectClass.CERTIFICATE: "cert",
              ObjectClass.PUBLIC_KEY: "public", ObjectClass.PRIVATE_KEY: "private",
              ObjectClass.SECRET_KEY: "secret-key"}
TYPE_CLASSES = {name: cls for cls, name in TYPE_NAMES.items()}

# Attributes holding secret key material: shown as "<sensitive>", never read.
_SECRET = (Attribute.VALUE, Attribute.PRIVATE_EXPONENT, Attribute.PRIME_1, Attribute.PRIME_2,
           Attribute.EXPONENT_1, Attribute.EXPONENT_2, Attribute.COEFFICIENT)
_SECRET_BY_TYPE = {"RSA": _SECRET[1:]}

_LISTED = [
    "CLASS", "TOKEN", "PRIVATE", "MODIFIABLE", "COPYABLE", "DESTROYABLE", "LABEL", "ID", "UNIQUE_ID",
    "KEY_TYPE", "CERTIFICATE_TYPE", "SUBJECT", "ISSUER", "SERIAL_NUMBER", "START_DATE", "END_DATE",
    "LOCAL", "KEY_GEN_MECHANISM", "ALLOWED_MECHANISMS", "SENSITIVE", "ALWAYS_SENSITIVE",
    "EXTRACTABLE", "NEVER_EXTRACTABLE", "ALWAYS_AUTHENTICATE", "WRAP_WITH_TRUSTED", "TRUSTED",
    "ENCRYPT", "DECRYPT", "SIGN", "VERIFY", "SIGN_RECOVER", "VERIFY_RECOVER", "WRAP", "UNWRAP",
    "DERIVE", "ENCAPSULATE", "DECAPSULATE", "MODULUS", "MODULUS_BITS", "PUBLIC_EXPONENT",
    "EC_PARAMS", "EC_POINT", "PARAMETER_SET", "VALUE_LEN", "CHECK_VALUE", "PUBLIC_KEY_INFO",
    "APPLICATION", "OBJECT_ID", "VALUE",
]


_OTHER_KEY_TYPES = {0x41: "ec_montgomery"}     # not in python-pkcs11's KeyType


def key_type_name(value: Any) -> str | None:
    """"rsa", "ec", "ec_edwards", "aes", ... for a CKK_ value (None for non-keys)."""
    if value is None:
        return None
    try:
        return KeyType(value).name.lower()
    except ValueError:
        return _OTHER_KEY_TYPES.get(int(value), f"0x{int(value):x}")


def _display(name: str, value: Any) -> Any:
    """Attribute values as plain Python: enum members by name, mechanism lists as names."""
    if name == "CLASS":
        return TYPE_NAMES.get(value, str(value))
    if name == "KEY_TYPE":
        return key_type_name(value)
    if name in ("KEY_GEN_MECHANISM",):
        return _mech_name(value)
    if name == "ALLOWED_MECHANISMS":
        return [_mech_name(m) for m in value or []]
    if hasattr(value, "name") and hasattr(value, "value"):     # other enums
        return value.name
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return value


def _mech_name(value: Any) -> str:
    try:
        return Mechanism(value).name
    except ValueError:
        return f"0x{int(value):x}"


@dataclass(eq=False)
class ObjectRef:
    """A token object: `type` is public | private | cert | secret-key | data, `id` is
    CKA_ID, `key_type` a lower-case CKK_ name (None for certificates and data), `uri`
    a pkcs11: URI selecting it on its token."""

    handle: int
    type: str
    label: str
    id: bytes
    key_type: str | None
    uri: str
    obj: Any = field(repr=False, compare=False, default=None)   # the python-pkcs11 object

    def attributes(self) -> dict[str, Any]:
        """Every standard attribute the object answers, keyed "CKA_<NAME>"; secret key
        material (CKA_VALUE of private/secret keys, RSA private components) appears as
        "<sensitive>" and is never read from the token."""
        from pkcs11.exceptions import AttributeSensitive, PKCS11Error

        secret: tuple[Any, ...] = ()
        if self.type in ("private", "secret-key"):
            secret = _SECRET_BY_TYPE.get((self.key_type or "").upper(), (Attribute.VALUE,))
        result: dict[str, Any] = {}
        for name in _LISTED:
            attr = 0x129 if name == "PUBLIC_KEY_INFO" else getattr(Attribute, name, None)
            if attr is None:
                continue
            if attr in secret:
                result["CKA_" + name] = SENSITIVE
                continue
            try:
                value = self.obj[attr]
            except AttributeSensitive:
                result["CKA_" + name] = SENSITIVE
                continue
            except (PKCS11Error, NotImplementedError, KeyError, ValueError):
                continue        # the object has no such attribute (or python-pkcs11 cannot decode it)
            result["CKA_" + name] = _display(name, value)
        for attr in secret:
            result.setdefault("CKA_" + Attribute(attr).name, SENSITIVE)
        return result


def get_attribute(obj: Any, attribute: Any) -> Any:
    """One attribute's value, or None when the object has none / will not say."""
    try:
        return obj[attribute]
    except (_p11e.PKCS11Error, NotImplementedError, KeyError, ValueError):
        return None


def read_attributes(obj: Any, attributes: Iterable[Any]) -> dict[Any, Any]:
    """Several attributes in one call when the module allows, one by one otherwise."""
    attributes = list(attributes)
    try:
        values: dict[Any, Any] = obj.get_attributes(attributes)
        return values
    except (_p11e.PKCS11Error, ValueError, NotImplementedError):
        return {a: v for a in attributes if (v := get_attribute(obj, a)) is not None}
