"""Token methods that create objects: generate key pairs and secret keys, import pyca
keys, certificates and raw secrets, destroy. Kept apart from session.py so each file
does one thing; Token mixes it in.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.constants import DEFAULT

from . import importing, kinds, mechanisms
from .errors import StrongroomError, Unsupported, translated
from .objects import TYPE_CLASSES, ObjectRef
from .objects import get_attribute as _get

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["CreatingMixin"]


def pkcs11_version() -> str:
    from importlib.metadata import version

    return version("python-pkcs11")


class CreatingMixin:
    """Object creation for Token (uses its session, label, _ref, _resolve, public_key_of)."""

    if TYPE_CHECKING:                   # what Token provides (session.py)
        module_path: str

        @property
        def label(self) -> str: ...
        @property
        def session(self) -> Any: ...
        def _ref(self, obj: Any) -> ObjectRef: ...
        def _resolve(self, ref: ObjectRef | str, types: Iterable[str]) -> ObjectRef: ...
        def public_key_of(self, ref: ObjectRef) -> Any: ...

    def generate_key_pair(self, kind: str, *, label: str | None = None, id: bytes | None = None,
                          extractable: bool = False, allowed_mechanisms: Iterable[str] | None = None,
                          public_label: str | None = None) -> tuple[ObjectRef, ObjectRef]:
        """Generate a key pair on the token; returns (private, public).

        Both are token objects sharing CKA_ID; the private key is CKA_PRIVATE and
        CKA_SENSITIVE, and non-extractable unless `extractable`. Without `id` the
        pair gets SHA-1 of its DER SubjectPublicKeyInfo (the same id import_private_key
        and import_certificate derive), set on both objects after generation.
        `public_label` names the public object (default: `label`).
        """
        spec = kinds.parse_kind(kind)
        if spec.key_type == "EC_MONTGOMERY":
            return self._generate_montgomery(spec, label=label, id=id, extractable=extractable,
                                             allowed_mechanisms=allowed_mechanisms,
                                             public_label=public_label)
        if spec.key_type not in KeyType.__members__ or spec.mechanism not in Mechanism.__members__:
            raise Unsupported(f"generating {spec.name} keys is not possible through python-pkcs11 "
                              f"{pkcs11_version()} (no CKK_{spec.key_type}); import one instead")
        key_type = KeyType[spec.key_type]
        public: dict[Any, Any] = {
            Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: key_type, Attribute.TOKEN: True,
            Attribute.PRIVATE: False, Attribute.VERIFY: spec.signs, Attribute.ENCRYPT: spec.decrypts,
            Attribute.WRAP: DEFAULT, Attribute.ID: DEFAULT, Attribute.LABEL: DEFAULT}
        private: dict[Any, Any] = {
            Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.KEY_TYPE: key_type, Attribute.TOKEN: True,
            Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: bool(extractable),
            Attribute.SIGN: spec.signs, Attribute.DECRYPT: spec.decrypts, Attribute.DERIVE: spec.derives,
            Attribute.UNWRAP: DEFAULT, Attribute.ID: DEFAULT, Attribute.LABEL: DEFAULT}
        if spec.family in ("ml-kem",):
            public[Attribute.ENCAPSULATE] = True
            private[Attribute.DECAPSULATE] = True
        if spec.bits:
            public[Attribute.MODULUS_BITS] = spec.bits
            public[Attribute.PUBLIC_EXPONENT] = b"\x01\x00\x01"
        if spec.ec_params:
            public[Attribute.EC_PARAMS] = spec.ec_params
        if spec.parameter_set:
            public[Attribute.PARAMETER_SET] = spec.parameter_set
        if label is not None:
            private[Attribute.LABEL] = label
        if (public_label if public_label is not None else label) is not None:
            public[Attribute.LABEL] = public_label if public_label is not None else label
        if id is not None:
            public[Attribute.ID] = private[Attribute.ID] = bytes(id)
        if allowed_mechanisms is not None:
            private[Attribute.ALLOWED_MECHANISMS] = [mechanisms.mechanism(m) for m in allowed_mechanisms]
        with translated(f"generating a {spec.name} key pair on token {self.label!r}"):
            pub_obj, priv_obj = self.session.generate_keypair(
                key_type, spec.bits, mechanism=Mechanism[spec.mechanism], public_template=public,
                private_template=private)
        return self._finish_pair(spec, priv_obj, pub_obj, id)

    def _generate_montgomery(self, spec: Any, *, label: str | None, id: bytes | None,
                             extractable: bool, allowed_mechanisms: Iterable[str] | None,
                             public_label: str | None) -> tuple[ObjectRef, ObjectRef]:
        """X25519 / X448 (key agreement only): python-pkcs11 0.10 has no CKK_EC_MONTGOMERY
        or its key-pair mechanism, so C_GenerateKeyPair goes through cfuncs; the new
        objects are then found by a one-off CKA_ID and given their final one."""
        from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO

        from . import cfuncs
        from .errors import from_rv

        temporary = os.urandom(16)
        ident = bytes(id) if id is not None else temporary
        public: list[tuple[int, cfuncs.Value]] = [
            (CKA.CLASS, CKO.PUBLIC_KEY), (CKA.KEY_TYPE, CKK.EC_MONTGOMERY), (CKA.TOKEN, True),
            (CKA.PRIVATE, False), (CKA.EC_PARAMS, spec.ec_params), (CKA.ID, ident)]
        private: list[tuple[int, cfuncs.Value]] = [
            (CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC_MONTGOMERY), (CKA.TOKEN, True),
            (CKA.PRIVATE, True), (CKA.SENSITIVE, True), (CKA.EXTRACTABLE, bool(extractable)),
            (CKA.DERIVE, True), (CKA.ID, ident)]
        if label is not None:
            private.append((CKA.LABEL, label))
        public_name = public_label if public_label is not None else label
        if public_name is not None:
            public.append((CKA.LABEL, public_name))
        if allowed_mechanisms is not None:
            private.append((CKA.ALLOWED_MECHANISMS, [int(mechanisms.mechanism(m)) for m in allowed_mechanisms]))
        rv, h_pub, h_priv = cfuncs.generate_key_pair(
            self.module_path, self.session.handle, int(CKM.EC_MONTGOMERY_KEY_PAIR_GEN), public, private)
        if rv != 0:
            raise from_rv(rv, f"generating a {spec.name} key pair on token {self.label!r}")
        with translated(f"reading the new {spec.name} key pair"):
            found = {obj.object_class: obj for obj in self.session.get_objects({Attribute.ID: ident})
                     if obj.handle in (h_pub, h_priv)}
        return self._finish_pair(spec, found[ObjectClass.PRIVATE_KEY], found[ObjectClass.PUBLIC_KEY], id)

    def _finish_pair(self, spec: Any, priv_obj: Any, pub_obj: Any,
                     id: bytes | None) -> tuple[ObjectRef, ObjectRef]:
        """The refs of a new pair; without a caller's `id`, both objects get the derived one."""
        priv_ref, pub_ref = self._ref(priv_obj), self._ref(pub_obj)
        if id is None:
            try:
                derived = importing.default_id(self.public_key_of(pub_ref))
            except (ValueError, StrongroomError):
                import hashlib

                derived = hashlib.sha1(bytes(_get(pub_obj, Attribute.VALUE) or os.urandom(20))).digest()
            try:
                with translated(f"setting CKA_ID on the new {spec.name} key pair"):
                    priv_obj[Attribute.ID] = derived
                    pub_obj[Attribute.ID] = derived
            except StrongroomError:
                for obj in (priv_obj, pub_obj):        # no half-labelled pair left behind
                    with contextlib.suppress(p11e.PKCS11Error):
                        obj.destroy()
                raise
            priv_ref, pub_ref = self._ref(priv_obj), self._ref(pub_obj)
        return priv_ref, pub_ref

    def generate_secret_key(self, kind: str, *, label: str | None = None, id: bytes | None = None,
                            extractable: bool = False,
                            allowed_mechanisms: Iterable[str] | None = None) -> ObjectRef:
        """Generate a secret key (aes:128/192/256, generic:N, hmac:N) as a sensitive
        token object; without `id` it gets 8 random bytes (a hash of a secret would
        tell something about it)."""
        spec = kinds.parse_secret_kind(kind)
        aes = spec.key_type == "AES"
        template: dict[Any, Any] = {
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType[spec.key_type],
            Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: bool(extractable), Attribute.VALUE_LEN: spec.length,
            Attribute.ENCRYPT: aes, Attribute.DECRYPT: aes, Attribute.WRAP: aes, Attribute.UNWRAP: aes,
            Attribute.SIGN: True, Attribute.VERIFY: True, Attribute.DERIVE: DEFAULT,
            Attribute.ID: bytes(id) if id is not None else os.urandom(8),
            Attribute.LABEL: label if label is not None else DEFAULT}
        if allowed_mechanisms is not None:
            template[Attribute.ALLOWED_MECHANISMS] = [mechanisms.mechanism(m) for m in allowed_mechanisms]
        with translated(f"generating a {spec.name} key on token {self.label!r}"):
            obj = self.session.generate_key(KeyType[spec.key_type], spec.length * 8,
                                            mechanism=Mechanism[spec.mechanism], template=template)
        return self._ref(obj)

    def _create(self, template: dict[Any, Any], what: str) -> ObjectRef:
        with translated(f"creating {what} on token {self.label!r}"):
            return self._ref(self.session.create_object(template))

    def import_private_key(self, key: Any, *, label: str | None = None, id: bytes | None = None,
                           extractable: bool = False,
                           public_label: str | None = None) -> tuple[ObjectRef, ObjectRef]:
        """Store a pyca private key (RSA, EC, Ed25519, Ed448, X25519, X448) and its public
        key; returns (private, public). The private object is CKA_SENSITIVE and, unless
        `extractable`, non-extractable; without `id` both get SHA-1 of the SPKI."""
        ident = bytes(id) if id is not None else importing.default_id(key.public_key())
        private, public = importing.private_key_templates(key, label=label, id=ident, extractable=extractable,
                                                          public_label=public_label)
        priv_ref = self._create(private, f"private key {label!r}")
        try:
            pub_ref = self._create(public, f"public key {label!r}")
        except BaseException:
            self.destroy(priv_ref)
            raise
        return priv_ref, pub_ref

    def import_public_key(self, key: Any, *, label: str | None = None, id: bytes | None = None) -> ObjectRef:
        ident = bytes(id) if id is not None else importing.default_id(key)
        return self._create(importing.public_key_template(key, label=label, id=ident), f"public key {label!r}")

    def import_certificate(self, cert: x509.Certificate, *, label: str | None = None,
                           id: bytes | None = None) -> ObjectRef:
        """Store an X.509 certificate; without `id` it gets SHA-1 of its public key's SPKI,
        i.e. the id of the key pair it belongs to when that pair got a derived id."""
        ident = bytes(id) if id is not None else importing.default_id(cert.public_key())
        return self._create(importing.certificate_template(cert, label=label, id=ident),
                            f"certificate {label!r}")

    def import_secret_key(self, value: bytes, *, kind: str = "aes", label: str | None = None,
                          id: bytes | None = None, extractable: bool = False) -> ObjectRef:
        """Store a raw secret (AES 16/24/32 bytes, or generic) as a sensitive secret key."""
        family = kind.lower().partition(":")[0]
        if family == "aes" and len(value) not in (16, 24, 32):
            raise ValueError(f"an AES key is 16, 24 or 32 bytes, not {len(value)}")
        if family not in ("aes", "generic", "hmac"):
            raise ValueError(f"unknown secret key kind {kind!r}: give aes, generic or hmac")
        aes = family == "aes"
        template: dict[Any, Any] = {
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES if aes else KeyType.GENERIC_SECRET,
            Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: bool(extractable), Attribute.VALUE: bytes(value),
            Attribute.ENCRYPT: aes, Attribute.DECRYPT: aes, Attribute.WRAP: aes, Attribute.UNWRAP: aes,
            Attribute.SIGN: True, Attribute.VERIFY: True,
            Attribute.ID: bytes(id) if id is not None else os.urandom(8)}
        if label is not None:
            template[Attribute.LABEL] = label
        return self._create(template, f"secret key {label!r}")

    def destroy(self, ref: ObjectRef | str) -> None:
        ref = self._resolve(ref, TYPE_CLASSES)
        with translated(f"destroying {ref.type} object {ref.label!r}"):
            ref.obj.destroy()
