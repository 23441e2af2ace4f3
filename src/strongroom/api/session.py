"""strongroom.open() and Token: one logged-in session on one token of any PKCS#11 module.

The API speaks PKCS#11 through python-pkcs11, so the same code drives strongroom's own
module (loaded into this process) and any other module (SoftHSM2, a hardware token).
A Token holds one session; every method turns python-pkcs11 errors into the API's
errors (api/errors.py) with a message naming what was being done and to what.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11e
from pkcs11.constants import DEFAULT

from ..uri import PKCS11URI, build, is_uri, parse
from . import importing, kinds, mechanisms
from .errors import (AmbiguousMatch, NotLoggedIn, ObjectNotFound, PinIncorrect, PinLocked,
                     StrongroomError, TokenNotFound, Unsupported, from_rv, translated)
from .objects import TYPE_CLASSES, TYPE_NAMES, ObjectRef, key_type_name

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["open", "Token", "load_library", "pin_state"]

_CKR_PIN_INCORRECT, _CKR_PIN_LOCKED, _CKR_USER_ALREADY_LOGGED_IN = 0xA0, 0xA4, 0x100
_PIN_STATES = (("locked", "PIN_LOCKED"), ("final_try", "PIN_FINAL_TRY"),
               ("count_low", "PIN_COUNT_LOW"), ("to_be_changed", "PIN_TO_BE_CHANGED"))


def default_module() -> str:
    """strongroom's own PKCS#11 module inside the installed package."""
    from strongroom.abi import module_path

    return str(module_path())


def load_library(path: str | os.PathLike[str]) -> Any:
    """python-pkcs11's handle on a module (cached per path by python-pkcs11; initialised
    again if it was finalised)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise StrongroomError(f"PKCS#11 module not found: {path}")
    real = os.path.realpath(path)
    for spelling in list(getattr(pkcs11, "_loaded", {})):   # python-pkcs11 caches by spelling: a second
        if os.path.realpath(spelling) == real:            # spelling would C_Initialize the module twice
            path = spelling
            break
    try:
        return pkcs11.lib(path)
    except p11e.PKCS11Error as exc:
        raise StrongroomError(f"cannot initialise PKCS#11 module {path}: {type(exc).__name__}") from None
    except Exception as exc:   # noqa: BLE001 - dlopen errors come as RuntimeError/OSError
        raise StrongroomError(f"cannot load PKCS#11 module {path}: {exc}") from None


def attribute_mapper() -> Any:
    """python-pkcs11's attribute mapper plus the attributes it lacks (CKA_PUBLIC_KEY_INFO)."""
    from pkcs11.attributes import AttributeMapper, handle_bytes

    mapper = AttributeMapper()
    mapper.register_handler(importing.PUBLIC_KEY_INFO, *handle_bytes)
    mapper.register_handler(Attribute.ALLOWED_MECHANISMS, _pack_ulongs, _unpack_ulongs)
    pack_key_type, unpack_key_type = mapper.attribute_types[Attribute.KEY_TYPE]

    def key_type(data: bytes) -> Any:       # CKK_EC_MONTGOMERY and vendor types stay ints
        try:
            return unpack_key_type(data)
        except ValueError:
            return _unpack_ulongs(data)[0]

    mapper.register_handler(Attribute.KEY_TYPE, pack_key_type, key_type)
    return mapper


def _pack_ulongs(values: Iterable[int]) -> bytes:
    """CK_MECHANISM_TYPE[] as the module reads it (native unsigned longs)."""
    import struct

    values = [int(v) for v in values]
    return struct.pack(f"@{len(values)}L", *values)


def _unpack_ulongs(data: bytes) -> list[int]:
    import struct

    size = struct.calcsize("@L")
    return list(struct.unpack(f"@{len(data) // size}L", data[:len(data) - len(data) % size]))


def pkcs11_version() -> str:
    from importlib.metadata import version

    return version("python-pkcs11")


def pin_state(flags: int, who: str = "user") -> str:
    """ok | count_low | final_try | locked | to_be_changed from CK_TOKEN_INFO flags."""
    prefix = "USER_" if who == "user" else "SO_"
    for state, name in _PIN_STATES:
        if flags & getattr(TokenFlag, prefix + name):
            return state
    return "ok"


def present_tokens(lib: Any) -> list[tuple[Any, Any]]:
    """(slot, token) for every slot holding a token (initialised or not)."""
    with translated("listing the module's slots"):
        slots = lib.get_slots(token_present=True)
    found = []
    for slot in slots:
        try:
            found.append((slot, slot.get_token()))
        except (p11e.TokenNotPresent, p11e.TokenNotRecognised):
            continue
    return found


def _token_info(token: Any) -> dict[str, str]:
    return {"token": token.label, "manufacturer": token.manufacturer_id,
            "serial": token.serial.decode("utf-8", "replace"), "model": token.model}


def _slot_info(slot: Any) -> dict[str, object]:
    return {"slot-id": slot.slot_id, "slot-description": slot.slot_description,
            "slot-manufacturer": slot.manufacturer_id}


def _library_info(lib: Any) -> dict[str, str]:
    return {"library-manufacturer": lib.manufacturer_id, "library-description": lib.library_description,
            "library-version": "%d.%d" % lib.library_version}


def _select(lib: Any, uri: PKCS11URI | None, label: str | None, module: str) -> tuple[Any, Any]:
    """The one initialised token the URI / label / nothing designates."""
    initialised = [(s, t) for s, t in present_tokens(lib) if t.flags & TokenFlag.TOKEN_INITIALIZED]
    if uri is not None:
        what = f"matching {uri.format(hide_pin=True)}"
        matches = [(s, t) for s, t in initialised
                   if uri.matches_library(_library_info(lib)) and uri.matches_token(_token_info(t))
                   and uri.matches_slot(_slot_info(s))]
    elif label is not None:
        what = f"labelled {label!r}"
        matches = [(s, t) for s, t in initialised if t.label == label]
    else:
        what = "initialised"
        matches = initialised
    labels = ", ".join(repr(t.label) for _, t in initialised) or "none"
    if not matches:
        raise TokenNotFound(f"no token {what} in module {module}; initialised tokens: {labels}")
    if len(matches) > 1:
        raise AmbiguousMatch(f"{len(matches)} tokens {what} in module {module} "
                             f"({', '.join(repr(t.label) for _, t in matches)}): name one by label or URI")
    return matches[0]


def open(target: str | None = None, *, pin: str | None = None, so_pin: str | None = None,
         module: str | os.PathLike[str] | None = None, rw: bool = True) -> "Token":
    """Open a session on a token and log in when a PIN is given.

    target  a "pkcs11:" URI (token/manufacturer/serial/model/slot-id/library-* select the
            token; pin-value / pin-source give the user PIN, module-path the module), a
            token label, or None for the only initialised token.
    pin     user PIN (wins over the URI's); so_pin logs in as Security Officer instead.
    module  PKCS#11 module path; default the URI's module-path, else strongroom's own.

    PKCS#11 login is per application: while another Token of this process is logged in
    to the same token as user, a new user login is accepted without checking the PIN
    again, and close() never logs out the others (the module logs out when the last
    session closes).
    """
    uri = parse(target) if target is not None and is_uri(target) else None
    label = target if uri is None else None
    if pin is not None and so_pin is not None:
        raise ValueError("give either a user PIN or an SO PIN, not both")
    if uri is not None and pin is None and so_pin is None:
        from ..pinsource import pin_from_uri

        pin = pin_from_uri(uri)
    module_path = os.fspath(module) if module is not None else (
        uri.module_path if uri is not None and uri.module_path else default_module())
    lib = load_library(module_path)
    slot, token = _select(lib, uri, label, module_path)
    who = "SO" if so_pin is not None else "user"
    with translated(f"opening a session on token {token.label!r}"):
        session = token.open(rw=rw, attribute_mapper=attribute_mapper())
    secret = so_pin if so_pin is not None else pin
    if secret is not None:
        _login(module_path, slot, token, session, who, secret)
    logged_in = None if pin is None and so_pin is None else who
    return Token(lib, slot, token, session, module_path, logged_in)


def _login(module_path: str, slot: Any, token: Any, session: Any, who: str, secret: str) -> None:
    """C_Login on the new session (cfuncs.py says why not python-pkcs11's); the session is
    closed again when the login fails. A user login when this process is already logged
    in to the token (another Token) is accepted: login state is per application."""
    from . import cfuncs

    rv = cfuncs.login(module_path, session.handle, cfuncs.CKU_SO if who == "SO" else cfuncs.CKU_USER, secret)
    if rv == 0 or (rv == _CKR_USER_ALREADY_LOGGED_IN and who == "user"):
        return
    try:
        session.close()
    except p11e.PKCS11Error:
        pass
    if rv == _CKR_PIN_INCORRECT:
        state = pin_state(slot.get_token().flags, "so" if who == "SO" else "user")
        raise PinIncorrect(f"incorrect {who} PIN for token {token.label!r} (CKR_PIN_INCORRECT; "
                           f"PIN state now: {state})", ckr=rv, pin_state=state)
    if rv == _CKR_PIN_LOCKED:
        raise PinLocked(f"the {who} PIN of token {token.label!r} is locked (CKR_PIN_LOCKED)", ckr=rv)
    raise from_rv(rv, f"logging in as {who} to token {token.label!r}")


def _wanted(selector: str | None, label: str | None, id: bytes | None,
            type: str | None) -> tuple[dict[Any, Any] | None, PKCS11URI | None]:
    """A C_FindObjects template from a selector (URI or label) plus filters; None when
    the two contradict each other (nothing can match)."""
    uri = None
    if selector is not None:
        if is_uri(selector):
            uri = parse(selector)
            for name, have in (("label", uri.object), ("id", uri.id), ("type", uri.type)):
                given = {"label": label, "id": id, "type": type}[name]
                if have is not None and given is not None and have != given:
                    return None, uri
            label = label if label is not None else uri.object
            id = id if id is not None else uri.id
            type = type if type is not None else uri.type
        elif label is not None and label != selector:
            return None, None
        else:
            label = selector
    template: dict[Any, Any] = {}
    if type is not None:
        if type not in TYPE_CLASSES:
            raise ValueError(f"unknown object type {type!r}: give public, private, cert, secret-key or data")
        template[Attribute.CLASS] = TYPE_CLASSES[type]
    if label is not None:
        template[Attribute.LABEL] = label
    if id is not None:
        template[Attribute.ID] = bytes(id)
    return template, uri


def _shown(selector: str) -> str:
    """A selector as messages may show it: a URI's pin-value masked."""
    if is_uri(selector):
        try:
            return repr(parse(selector).format(hide_pin=True))
        except ValueError:
            return "the URI given"
    return repr(selector)


def _describe(selector: str | None, filters: dict[str, Any]) -> str:
    parts = [_shown(selector)] if selector is not None else []
    for key, value in filters.items():
        if value is not None:
            parts.append(f"{key}={value.hex() if isinstance(value, bytes) else repr(value)}")
    return " ".join(parts) or "any object"


class Token:
    """A session on one token; a context manager (close() logs out and closes the session).

    Objects come back as ObjectRef; private keys as pyca key objects whose operations
    run on the token (private_key()). Operations needing a login raise NotLoggedIn when
    the token was opened without a PIN.
    """

    def __init__(self, lib: Any, slot: Any, token: Any, session: Any, module_path: str,
                 logged_in: str | None) -> None:
        self._lib, self._slot, self._token, self._session = lib, slot, token, session
        self.module_path = module_path
        self.logged_in = logged_in          # None | "user" | "SO"
        self._mechanisms: set[Any] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Log out and close the session (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except p11e.PKCS11Error:
                pass        # the session is gone either way (token removed, finalised)

    def __enter__(self) -> "Token":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def session(self) -> Any:
        """The python-pkcs11 Session (for what this API does not cover)."""
        if self._session is None:
            raise StrongroomError(f"the session on token {self.label!r} is closed")
        return self._session

    @property
    def label(self) -> str:
        return self._token.label

    def __repr__(self) -> str:
        return f"<strongroom.api.Token {self.label!r} slot {self._slot.slot_id} ({self.module_path})>"

    # -- token information -------------------------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        """Token information read now: label, manufacturer, model, serial, slot_id, flags
        (CKF_ names without prefix), user_pin / so_pin state, module_path, mechanisms (count)."""
        with translated(f"reading token info of {self.label!r}"):
            token = self._slot.get_token()
        flags = int(token.flags)
        return {"label": token.label, "manufacturer": token.manufacturer_id, "model": token.model,
                "serial": token.serial.decode("utf-8", "replace"), "slot_id": self._slot.slot_id,
                "flags": [f.name for f in TokenFlag if f.value & flags and f.value],
                "user_pin": pin_state(flags, "user"), "so_pin": pin_state(flags, "so"),
                "module_path": self.module_path, "mechanisms": len(self.mechanisms())}

    def mechanisms(self) -> set[Any]:
        """The mechanisms the token offers (python-pkcs11 Mechanism members or ints)."""
        if self._mechanisms is None:
            with translated(f"listing mechanisms of token {self.label!r}"):
                self._mechanisms = set(self._slot.get_mechanisms())
        return self._mechanisms

    def has_mechanism(self, name: str) -> bool:
        return mechanisms.mechanism(name) in self.mechanisms()

    # -- finding objects ---------------------------------------------------------------

    def objects(self, selector: str | None = None, *, label: str | None = None,
                id: bytes | None = None, type: str | None = None) -> list[ObjectRef]:
        """Objects visible in this session matching a selector (pkcs11: URI or object
        label) and the filters (label, id, type: public|private|cert|secret-key|data)."""
        template, uri = _wanted(selector, label, id, type)
        if template is None:
            return []
        if uri is not None and not uri.matches_token(_token_info(self._token)):
            return []
        with translated(f"searching objects on token {self.label!r}"):
            refs = [self._ref(obj) for obj in self.session.get_objects(template)]
        if uri is not None:
            refs = [r for r in refs if uri.matches_object({"object": r.label, "id": r.id, "type": r.type})]
        return refs

    def find(self, selector: str | None = None, *, label: str | None = None,
             id: bytes | None = None, type: str | None = None) -> ObjectRef:
        """Exactly one object (ObjectNotFound / AmbiguousMatch otherwise)."""
        refs = self.objects(selector, label=label, id=id, type=type)
        what = _describe(selector, {"label": label, "id": id, "type": type})
        if not refs:
            hint = "" if self.logged_in else " (private objects need a PIN)"
            raise ObjectNotFound(f"no object matching {what} on token {self.label!r}{hint}")
        if len(refs) > 1:
            raise AmbiguousMatch(f"{len(refs)} objects match {what} on token {self.label!r}: "
                                 "narrow the selection (label, id, type)")
        return refs[0]

    def _ref(self, obj: Any) -> ObjectRef:
        attrs = _read(obj, (Attribute.CLASS, Attribute.LABEL, Attribute.ID))
        cls = attrs.get(Attribute.CLASS)
        kind = TYPE_NAMES.get(cls, str(cls))
        key_type = None
        if kind in ("public", "private", "secret-key"):
            key_type = key_type_name(_read(obj, (Attribute.KEY_TYPE,)).get(Attribute.KEY_TYPE))
        label = attrs.get(Attribute.LABEL) or ""
        ident = bytes(attrs.get(Attribute.ID) or b"")
        uri = build(token=self.label, object=label or None, id=ident or None,
                    type=kind if kind in TYPE_CLASSES else None).format()
        return ObjectRef(obj.handle, kind, label, ident, key_type, uri, obj)

    def _resolve(self, ref: ObjectRef | str, types: Iterable[str]) -> ObjectRef:
        """An ObjectRef as given, or the one object of `types` a selector designates."""
        if isinstance(ref, ObjectRef):
            return ref
        types = tuple(types)
        found = [r for r in self.objects(ref) if r.type in types]
        if not found:
            raise ObjectNotFound(f"no {' or '.join(types)} object matching {_shown(ref)} on token {self.label!r}")
        if len(found) > 1:
            raise AmbiguousMatch(f"{len(found)} {'/'.join(types)} objects match {_shown(ref)} on token "
                                 f"{self.label!r}: narrow the selection")
        return found[0]

    # -- keys as pyca objects ------------------------------------------------------------

    def private_key(self, selector: str | None = None, *, label: str | None = None,
                    id: bytes | None = None) -> Any:
        """The private key as a pyca key object (TokenRSAPrivateKey, TokenECPrivateKey,
        TokenEd25519PrivateKey, TokenEd448PrivateKey) whose operations run on the token."""
        from .keys import wrap_private_key

        return wrap_private_key(self, self.find(selector, label=label, id=id, type="private"))

    def public_key(self, selector: str | None = None, *, label: str | None = None,
                   id: bytes | None = None) -> Any:
        """A pyca public key from the token's public-key object."""
        return self.public_key_of(self.find(selector, label=label, id=id, type="public"))

    def public_key_of(self, ref: ObjectRef) -> Any:
        """The pyca public key of a public- or private-key object: from its own public
        attributes (CKA_PUBLIC_KEY_INFO, RSA modulus) or else from the public-key object
        with the same CKA_ID."""
        try:
            return importing.public_key_from_attributes(lambda a: _get(ref.obj, a))
        except ValueError:
            if ref.type != "private":
                raise ValueError(f"object {ref.label!r} holds no public key this API can read") from None
        for pub in self.objects(id=ref.id, type="public"):
            if pub.key_type == ref.key_type:
                return importing.public_key_from_attributes(lambda a: _get(pub.obj, a))
        raise ObjectNotFound(f"no public key for private key {ref.label!r} (id {ref.id.hex() or '-'}) "
                             f"on token {self.label!r}")

    def certificate(self, selector: str | None = None, *, label: str | None = None,
                    id: bytes | None = None) -> "x509.Certificate":
        from cryptography import x509

        ref = self.find(selector, label=label, id=id, type="cert")
        return x509.load_der_x509_certificate(bytes(_get(ref.obj, Attribute.VALUE) or b""))

    def certificates(self, selector: str | None = None, *, label: str | None = None,
                     id: bytes | None = None) -> list["x509.Certificate"]:
        from cryptography import x509

        return [x509.load_der_x509_certificate(bytes(_get(r.obj, Attribute.VALUE) or b""))
                for r in self.objects(selector, label=label, id=id, type="cert")]

    # -- creating objects ----------------------------------------------------------------

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
        priv_ref, pub_ref = self._ref(priv_obj), self._ref(pub_obj)
        if id is None:
            try:
                derived = importing.default_id(self.public_key_of(pub_ref))
            except (ValueError, StrongroomError):
                import hashlib

                derived = hashlib.sha1(bytes(_get(pub_obj, Attribute.VALUE) or os.urandom(20))).digest()
            with translated(f"setting CKA_ID on the new {spec.name} key pair"):
                priv_obj[Attribute.ID] = derived
                pub_obj[Attribute.ID] = derived
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

    def import_certificate(self, cert: "x509.Certificate", *, label: str | None = None,
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
        template = {
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

    # -- operations ----------------------------------------------------------------------

    def _key_mechanism(self, ref: ObjectRef, mechanism: str | None, default: Any) -> str:
        if mechanism is not None:
            return mechanism
        bits = None
        if ref.key_type == "ec":
            curve = kinds.curve_for_params(bytes(_get(ref.obj, Attribute.EC_PARAMS) or b""))
            bits = kinds.pyca_curve(curve).key_size if curve in kinds.WEIERSTRASS else None
        return default(ref.key_type, bits) if default is mechanisms.default_sign else default(ref.key_type)

    def sign(self, key_ref: ObjectRef | str, data: bytes, mechanism: str | None = None) -> bytes:
        """Sign on the token; returns what the token returns (ECDSA: raw r||s). ECDSA_SHA*
        is hashed here and sent as CKM_ECDSA when the token lacks the combined mechanism."""
        ref = self._resolve(key_ref, ("private", "secret-key"))
        name = self._key_mechanism(ref, mechanism, mechanisms.default_sign)
        mech, data = self._ecdsa_fallback(name, data)
        with translated(f"signing with {ref.label!r} ({mech.name})"):
            return ref.obj.sign(data, mechanism=mech, mechanism_param=mechanisms.sign_params(name, data))

    def sign_raw(self, ref: ObjectRef, data: bytes, mechanism: Any, param: Any = None) -> bytes:
        """One C_Sign with a python-pkcs11 mechanism and parameter (used by token keys)."""
        with translated(f"signing with {ref.label!r} ({getattr(mechanism, 'name', mechanism)})"):
            return ref.obj.sign(data, mechanism=mechanism, mechanism_param=param)

    def _ecdsa_fallback(self, name: str, data: bytes) -> tuple[Any, bytes]:
        mech = mechanisms.mechanism(name)
        upper = mech.name
        if upper.startswith("ECDSA_SHA") and mech not in self.mechanisms() \
                and Mechanism.ECDSA in self.mechanisms():
            from cryptography.hazmat.primitives import hashes

            algorithm = {"ECDSA_SHA1": hashes.SHA1, "ECDSA_SHA224": hashes.SHA224, "ECDSA_SHA256": hashes.SHA256,
                         "ECDSA_SHA384": hashes.SHA384, "ECDSA_SHA512": hashes.SHA512}[upper]()
            digest = hashes.Hash(algorithm)
            digest.update(data)
            return Mechanism.ECDSA, digest.finalize()
        return mech, data

    def verify(self, key_ref: ObjectRef | str, data: bytes, signature: bytes,
               mechanism: str | None = None) -> bool:
        """Verify on the token with a public (or secret) key; a private-key reference is
        taken to mean the public key with the same CKA_ID."""
        ref = self._resolve(key_ref, ("public", "private", "secret-key"))
        if ref.type == "private":
            pubs = [p for p in self.objects(id=ref.id, type="public") if p.key_type == ref.key_type]
            if len(pubs) != 1:
                raise ObjectNotFound(f"no single public key with the id of {ref.label!r} on token {self.label!r}")
            ref = pubs[0]
        name = self._key_mechanism(ref, mechanism, mechanisms.default_sign)
        mech, data = self._ecdsa_fallback(name, data)
        with translated(f"verifying with {ref.label!r} ({mech.name})"):
            return bool(ref.obj.verify(data, signature, mechanism=mech,
                                       mechanism_param=mechanisms.sign_params(name, data)))

    def encrypt(self, key_ref: ObjectRef | str, data: bytes, mechanism: str | None = None) -> bytes:
        """Encrypt on the token (default AES_GCM for AES, RSA_PKCS_OAEP/SHA-256 for RSA).
        IV mechanisms get a fresh random IV, prepended to the result."""
        ref = self._resolve(key_ref, ("public", "secret-key"))
        name = self._key_mechanism(ref, mechanism, mechanisms.default_encrypt)
        iv = mechanisms.fresh_iv(name)
        with translated(f"encrypting with {ref.label!r} ({name})"):
            out = ref.obj.encrypt(data, mechanism=mechanisms.mechanism(name),
                                  mechanism_param=mechanisms.crypt_params(name, iv))
        return (iv or b"") + bytes(out)

    def decrypt(self, key_ref: ObjectRef | str, data: bytes, mechanism: str | None = None) -> bytes:
        """Decrypt on the token; the inverse of encrypt() (reads the IV it prepended)."""
        ref = self._resolve(key_ref, ("private", "secret-key"))
        name = self._key_mechanism(ref, mechanism, mechanisms.default_encrypt)
        size = mechanisms.IV_MECHANISMS.get(name.upper().removeprefix("CKM_"), 0)
        if len(data) < size:
            raise ValueError(f"{name} ciphertext is shorter than its {size}-byte IV")
        iv, body = (data[:size], data[size:]) if size else (None, data)
        with translated(f"decrypting with {ref.label!r} ({name})"):
            return bytes(ref.obj.decrypt(body, mechanism=mechanisms.mechanism(name),
                                         mechanism_param=mechanisms.crypt_params(name, iv)))

    # -- PINs ----------------------------------------------------------------------------

    def init_pin(self, new_pin: str) -> None:
        """Set the user PIN (C_InitPIN): needs a token opened with so_pin."""
        if self.logged_in != "SO":
            raise NotLoggedIn(f"setting the user PIN of token {self.label!r} needs an SO login (open with so_pin=)")
        with translated(f"setting the user PIN of token {self.label!r}"):
            self.session.init_pin(new_pin)

    def change_pin(self, old_pin: str, new_pin: str) -> None:
        """Change the PIN of whoever is logged in (C_SetPIN)."""
        try:
            self.session.set_pin(old_pin, new_pin)
        except p11e.PinIncorrect:
            who = "SO" if self.logged_in == "SO" else "user"
            state = pin_state(self._slot.get_token().flags, "so" if who == "SO" else "user")
            raise PinIncorrect(f"incorrect current {who} PIN for token {self.label!r} (CKR_PIN_INCORRECT; "
                               f"PIN state now: {state})", ckr=0xA0, pin_state=state) from None
        except p11e.PKCS11Error as exc:
            with translated(f"changing the PIN of token {self.label!r}"):
                raise exc


def _get(obj: Any, attribute: Any) -> Any:
    """One attribute's value, or None when the object has none / will not say."""
    try:
        return obj[attribute]
    except (p11e.PKCS11Error, NotImplementedError, KeyError, ValueError):
        return None


def _read(obj: Any, attributes: Iterable[Any]) -> dict[Any, Any]:
    """Several attributes in one call when the module allows, one by one otherwise."""
    attributes = list(attributes)
    try:
        return obj.get_attributes(attributes)
    except (p11e.PKCS11Error, ValueError, NotImplementedError):
        return {a: v for a in attributes if (v := _get(obj, a)) is not None}
