"""strongroom.open() and Token: one logged-in session on one token of any PKCS#11 module.

The API speaks PKCS#11 through python-pkcs11, so the same code drives strongroom's own
module (loaded into this process) and any other module (SoftHSM2, a hardware token).
A Token holds one session; every method turns python-pkcs11 errors into the API's
errors (api/errors.py) with a message naming what was being done and to what.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pkcs11 import Attribute, TokenFlag
from pkcs11 import exceptions as p11e

from ..uri import PKCS11URI, build, is_uri, parse
from . import importing
from .creating import CreatingMixin
from .errors import (
    NotLoggedIn,
    ObjectNotFound,
    PinIncorrect,
    PinLocked,
    StrongroomError,
    exactly_one,
    from_rv,
    translated,
)
from .library import attribute_mapper, default_module, load_library, pin_state, select, token_info
from .objects import TYPE_CLASSES, TYPE_NAMES, ObjectRef, key_type_name
from .objects import get_attribute as _get
from .objects import read_attributes as _read
from .operations import OperationsMixin

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["Token", "default_module", "load_library", "open", "pin_state"]

_CKR_PIN_INCORRECT, _CKR_PIN_LOCKED, _CKR_USER_ALREADY_LOGGED_IN = 0xA0, 0xA4, 0x100


def open(target: str | None = None, *, pin: str | None = None, so_pin: str | None = None,
         module: str | os.PathLike[str] | None = None, rw: bool = True) -> Token:
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
    slot, token = select(lib, uri, label, module_path)
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
    with contextlib.suppress(p11e.PKCS11Error):
        session.close()
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


class Token(CreatingMixin, OperationsMixin):
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
            with contextlib.suppress(p11e.PKCS11Error):    # the session is gone either way
                session.close()                             # (token removed, finalised)

    def __enter__(self) -> Token:
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
        return str(self._token.label)

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
        """True if the token offers the mechanism ("ECDSA_SHA256", "CKM_AES_GCM", "aes-gcm")."""
        from .mechanisms import mechanism

        return mechanism(name) in self.mechanisms()

    # -- finding objects ---------------------------------------------------------------

    def objects(self, selector: str | None = None, *, label: str | None = None,
                id: bytes | None = None, type: str | None = None) -> list[ObjectRef]:
        """Objects visible in this session matching a selector (pkcs11: URI or object
        label) and the filters (label, id, type: public|private|cert|secret-key|data)."""
        template, uri = _wanted(selector, label, id, type)
        if template is None:
            return []
        if uri is not None and not uri.matches_token(token_info(self._token)):
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
        hint = "" if self.logged_in else " (private objects need a PIN)"
        return exactly_one(refs, ObjectNotFound(f"no object matching {what} on token {self.label!r}{hint}"),
                           f"objects match {what} on token {self.label!r}: narrow the selection (label, id, type)")

    def find_all(self, selector: str | None = None, *, label: str | None = None,
                 id: bytes | None = None, type: str | None = None) -> list[ObjectRef]:
        """Every object matching (possibly none): find()'s counterpart for when several,
        or none, are expected, e.g. to look before creating a second object with a label."""
        return self.objects(selector, label=label, id=id, type=type)

    def set_label(self, ref: ObjectRef | str, label: str) -> ObjectRef:
        """Give one object a new CKA_LABEL (C_SetAttributeValue, v3.0 §5.7: the object
        must be CKA_MODIFIABLE); returns the updated reference."""
        ref = self._resolve(ref, TYPE_CLASSES)
        with translated(f"relabelling {ref.type} object {ref.label!r} as {label!r}"):
            ref.obj[Attribute.LABEL] = label
        return self._ref(ref.obj)

    def _ref(self, obj: Any) -> ObjectRef:
        attrs = _read(obj, (Attribute.CLASS, Attribute.LABEL, Attribute.ID))
        cls = attrs.get(Attribute.CLASS)
        kind = str(cls) if cls is None else TYPE_NAMES.get(cls, str(cls))
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
        return exactly_one(found, ObjectNotFound(f"no {' or '.join(types)} object matching {_shown(ref)} on token "
                                                 f"{self.label!r}"),
                           f"{'/'.join(types)} objects match {_shown(ref)} on token {self.label!r}: "
                           "narrow the selection")

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
                return importing.public_key_from_attributes(lambda a, obj=pub.obj: _get(obj, a))
        raise ObjectNotFound(f"no public key for private key {ref.label!r} (id {ref.id.hex() or '-'}) "
                             f"on token {self.label!r}")

    def certificate(self, selector: str | None = None, *, label: str | None = None,
                    id: bytes | None = None) -> x509.Certificate:
        from cryptography import x509

        ref = self.find(selector, label=label, id=id, type="cert")
        return x509.load_der_x509_certificate(bytes(_get(ref.obj, Attribute.VALUE) or b""))

    def certificates(self, selector: str | None = None, *, label: str | None = None,
                     id: bytes | None = None) -> list[x509.Certificate]:
        from cryptography import x509

        return [x509.load_der_x509_certificate(bytes(_get(r.obj, Attribute.VALUE) or b""))
                for r in self.objects(selector, label=label, id=id, type="cert")]

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
