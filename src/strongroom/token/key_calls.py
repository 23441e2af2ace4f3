"""Key management (v2.40 §5.13 / v3.0 §5.18, §5.19 for KEM): C_GenerateKey,
C_GenerateKeyPair, C_DeriveKey, C_WrapKey, C_UnwrapKey, C_EncapsulateKey, C_DecapsulateKey.

The rules that are not the mechanism's business live here: key usage attributes,
CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED / CKA_TRUSTED, the CKA_WRAP / UNWRAP / DERIVE /
ENCAPSULATE / DECAPSULATE_TEMPLATE attributes, and the new object's attributes (template
validator + the key type's handler, ``keys.normalize_key_attrs``). Each C function is an
inner function taking the application, and a thin method of :class:`KeyCalls`.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..mechanisms import registry
from ..mechanisms.registry import OpKind
from ..pkcs11 import template as rules
from ..pkcs11.constants import CKA, CKO, CKR, HkdfSaltFlag, MechanismFlag
from ..pkcs11.errors import CKRError
from ..wipe import wipe_bytes
from . import operations
from .objects import ObjectRef
from .sessions import Session
from .types import Mechanism

if TYPE_CHECKING:   # typing, pyca and the parameter dataclasses stay off the C_Initialize path
    from collections.abc import Callable
    from typing import Any, TypeVar

    from .application import Application

    Template = list[tuple[int, Any]]
    Attrs = dict[int, Any]
    _F = TypeVar("_F")

# Error codes that name the role of a key in C_WrapKey / C_UnwrapKey.
_WRAPPING: dict[int, CKR] = {CKR.KEY_HANDLE_INVALID: CKR.WRAPPING_KEY_HANDLE_INVALID,
             CKR.KEY_TYPE_INCONSISTENT: CKR.WRAPPING_KEY_TYPE_INCONSISTENT,
             CKR.KEY_SIZE_RANGE: CKR.WRAPPING_KEY_SIZE_RANGE}
_UNWRAPPING: dict[int, CKR] = {CKR.KEY_HANDLE_INVALID: CKR.UNWRAPPING_KEY_HANDLE_INVALID,
               CKR.KEY_TYPE_INCONSISTENT: CKR.UNWRAPPING_KEY_TYPE_INCONSISTENT,
               CKR.KEY_SIZE_RANGE: CKR.UNWRAPPING_KEY_SIZE_RANGE}
_UNWRAP_DATA: dict[int, CKR] = {CKR.ENCRYPTED_DATA_INVALID: CKR.WRAPPED_KEY_INVALID,
                CKR.ENCRYPTED_DATA_LEN_RANGE: CKR.WRAPPED_KEY_LEN_RANGE,
                CKR.DATA_LEN_RANGE: CKR.WRAPPED_KEY_LEN_RANGE}


def _remap(exc: CKRError, table: dict[int, CKR]) -> CKRError:
    rv = table.get(exc.rv)
    return CKRError(rv, str(exc)) if rv is not None else exc


def _resolve(app: Application, session: Session, handle: int) -> ObjectRef:
    app.manager.refresh()
    return app.resolve_key(session, handle)


def _entry(mech: Mechanism, flag: int,
           pick: Callable[[registry.MechanismEntry], _F | None]) -> tuple[registry.MechanismEntry, _F]:
    """The registry entry of ``mech`` and the function ``pick`` takes from it, if the
    mechanism can do this (``flag``); CKR_MECHANISM_INVALID otherwise. The parameter is
    checked against the mechanism's parameter type."""
    entry = registry.get(mech.type)
    fn = pick(entry)
    if not entry.flags & flag or fn is None:
        raise CKRError(CKR.MECHANISM_INVALID, f"mechanism 0x{mech.type:x} cannot do this")
    registry.check_param(entry, mech.param)
    return entry, fn


def merge_template(template: Template, extra: Any) -> Template:
    """The caller's template plus a key's CKA_*_TEMPLATE: the two must agree (v3.0 §4.8:
    an attribute in both with different values is CKR_TEMPLATE_INCONSISTENT)."""
    if not extra:
        return list(template)
    given = dict(template)
    out = list(template)
    for cka, value in extra:
        if cka in given:
            if given[cka] != value:
                raise CKRError(CKR.TEMPLATE_INCONSISTENT, f"attribute 0x{cka:x} contradicts the key's template")
        else:
            out.append((cka, value))
    return out


def _matches(attrs: Any, template: Any) -> bool:
    return all(attrs.get(cka) == value for cka, value in (template or ()))


def _new_key(app: Application, session: Session, attrs: Attrs) -> int:
    """Check key material and store the new key object."""
    cls, key_type = attrs.get(CKA.CLASS), attrs.get(CKA.KEY_TYPE)
    if cls is None or key_type is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "a new key needs CKA_CLASS and CKA_KEY_TYPE")
    from ..mechanisms import checkvalue, keys  # deferred: pyca's key modules (cold start)

    attrs.update(keys.normalize_key_attrs(cls, key_type, attrs))
    attrs.update(checkvalue.attrs_for(attrs))
    app.require_write(session, attrs)
    return app.add_object(session, attrs)


def _secret_template(template: Template, op: rules.Op, base: Any = None) -> Attrs:
    return rules.build(template, op, cls=CKO.SECRET_KEY, base=base)


def _resolve_param(app: Application, session: Session, param: Any) -> Any:
    """Key handles inside a parameter become values: CK_HKDF_PARAMS.hSaltKey with
    CKF_HKDF_SALT_KEY is replaced by that secret key's CKA_VALUE in ``salt``."""
    import dataclasses

    from ..pkcs11 import params as P  # deferred: the dataclass tables (cold start)

    if isinstance(param, P.HkdfParams) and param.salt_type == HkdfSaltFlag.KEY:
        try:
            ref = _resolve(app, session, param.salt_key)
        except CKRError:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "hSaltKey is not a key") from None
        if ref.attrs.get(CKA.CLASS) != CKO.SECRET_KEY or not isinstance(ref.attrs.get(CKA.VALUE), bytes):
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "hSaltKey must be a secret key")
        return dataclasses.replace(param, salt=ref.attrs[CKA.VALUE])
    return param


# --- C_GenerateKey / C_GenerateKeyPair -------------------------------------------------------
def generate_key(app: Application, h: int, mech: Mechanism, template: Template) -> int:
    session = app.session(h)
    entry, generate = _entry(mech, MechanismFlag.GENERATE, lambda e: e.generate)
    attrs = rules.build(template, rules.Op.GENERATE, cls=CKO.SECRET_KEY,
                        key_type=entry.gen_key_type, mechanism=mech.type)
    app.require_write(session, attrs)
    attrs.update(generate(mech.param, attrs))
    from ..mechanisms import checkvalue  # deferred: pyca (cold start)

    attrs.update(checkvalue.attrs_for(attrs))
    return app.add_object(session, attrs)


def generate_key_pair(app: Application, h: int, mech: Mechanism, public_template: Template,
                      private_template: Template) -> tuple[int, int]:
    session = app.session(h)
    entry, generate_pair = _entry(mech, MechanismFlag.GENERATE_KEY_PAIR, lambda e: e.generate_pair)
    pub = rules.build(public_template, rules.Op.GENERATE, cls=CKO.PUBLIC_KEY,
                      key_type=entry.gen_key_type, mechanism=mech.type)
    priv = rules.build(private_template, rules.Op.GENERATE, cls=CKO.PRIVATE_KEY,
                       key_type=entry.gen_key_type, mechanism=mech.type)
    app.require_write(session, pub)
    app.require_write(session, priv)
    floor = app.slots.generation_floor(entry)
    bits = pub.get(CKA.MODULUS_BITS)
    if floor and isinstance(bits, int) and bits < floor:
        raise CKRError(CKR.KEY_SIZE_RANGE, f"RSA keys below {floor} bits are not generated "
                       "(rsa_min_generate_bits in strongroom.toml, at least 1024)")
    pub_add, priv_add = generate_pair(mech.param, pub, priv)
    pub.update(pub_add)
    priv.update(priv_add)
    pub_handle = app.add_object(session, pub)
    try:
        priv_handle = app.add_object(session, priv)
    except Exception:
        # Never leave half a pair behind (e.g. the quota ran out between the two).
        app.manager.destroy(app.resolve(session, pub_handle))
        raise
    return pub_handle, priv_handle


# --- C_DeriveKey -------------------------------------------------------------------------
def derive_key(app: Application, h: int, mech: Mechanism, base: int, template: Template) -> int:
    session = app.session(h)
    entry, derive = _entry(mech, MechanismFlag.DERIVE, lambda e: e.derive)
    ref = _resolve(app, session, base)
    operations.check_key(entry, ref, (CKO.PRIVATE_KEY, CKO.SECRET_KEY), CKA.DERIVE)
    merged = merge_template(template, ref.attrs.get(CKA.DERIVE_TEMPLATE))
    param = _resolve_param(app, session, mech.param)
    if dict(merged).get(CKA.CLASS) == CKO.DATA:
        return _derive_data(app, session, derive, ref, param, merged)
    attrs = _secret_template(merged, rules.Op.DERIVE, base=ref.attrs)
    app.require_write(session, attrs)
    attrs.update(derive(param, app.manager.key_material(ref), attrs))
    return _new_key(app, session, attrs)


def _derive_data(app: Application, session: Session, derive: Callable[[Any, Any, Attrs], Attrs], ref: ObjectRef,
                 param: Any, template: Template) -> int:
    """CKM_HKDF_DATA derives a data object (v3.0 "HKDF derivation"): CKA_VALUE_LEN in the
    template says how many bytes to produce but is not an attribute of data objects."""
    lengths = [v for t, v in template if t == CKA.VALUE_LEN]
    if not lengths:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN says how much data to derive")
    attrs = rules.build([(t, v) for t, v in template if t != CKA.VALUE_LEN], rules.Op.CREATE)
    app.require_write(session, attrs)
    derived = derive(param, app.manager.key_material(ref), {**attrs, CKA.VALUE_LEN: lengths[-1]})
    attrs[CKA.VALUE] = derived[CKA.VALUE]
    return app.add_object(session, attrs)


# --- C_WrapKey / C_UnwrapKey ---------------------------------------------------------------
def _role_key(app: Application, session: Session, handle: int, entry: registry.MechanismEntry,
              classes: tuple[int, ...], usage: int, codes: dict[int, CKR]) -> ObjectRef:
    """The wrapping / unwrapping key, checked for ``entry``; its errors named for its role
    (CKR_WRAPPING_KEY_HANDLE_INVALID, ...)."""
    try:
        ref = _resolve(app, session, handle)
        operations.check_key(entry, ref, classes, usage)
    except CKRError as exc:
        raise _remap(exc, codes) from None
    return ref


def wrap_key(app: Application, h: int, mech: Mechanism, wrapping: int, key: int,
             capacity: int | None) -> bytes | int:
    session = app.session(h)
    entry, make_op = _entry(mech, MechanismFlag.WRAP, lambda e: e.operation)
    wref = _role_key(app, session, wrapping, entry, (CKO.PUBLIC_KEY, CKO.SECRET_KEY), CKA.WRAP, _WRAPPING)
    target = _resolve(app, session, key).attrs
    if target.get(CKA.CLASS) not in (CKO.SECRET_KEY, CKO.PRIVATE_KEY):
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "only secret and private keys can be wrapped")
    if not target.get(CKA.EXTRACTABLE, False):
        raise CKRError(CKR.KEY_UNEXTRACTABLE)
    if target.get(CKA.WRAP_WITH_TRUSTED) and not wref.attrs.get(CKA.TRUSTED):
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "CKA_WRAP_WITH_TRUSTED needs a CKA_TRUSTED wrapping key")
    if not _matches(target, wref.attrs.get(CKA.WRAP_TEMPLATE)):
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "key does not match the wrapping key's CKA_WRAP_TEMPLATE")
    from ..mechanisms import keys  # deferred: pyca's key modules (cold start)

    image = keys.wrap_image(target)
    op = make_op(OpKind.WRAP, app.manager.key_material(wref), mech.param)
    try:
        out = op.update(image) + op.final()
    except CKRError as exc:
        if exc.rv in (CKR.DATA_LEN_RANGE, CKR.KEY_SIZE_RANGE):
            raise CKRError(CKR.KEY_SIZE_RANGE, "key image does not fit this mechanism") from None
        raise
    finally:
        # a private key's PKCS#8 image is this call's own copy (a secret key's image is its
        # stored CKA_VALUE, which wipe_bytes leaves alone: still referenced) -- issue 10
        wipe_bytes(image, 1)
    if not operations.fits(len(out), capacity):   # two-call convention (v2.40 §5.2)
        return len(out)
    return out


def unwrap_key(app: Application, h: int, mech: Mechanism, unwrapping: int, wrapped: bytes,
               template: Template) -> int:
    session = app.session(h)
    entry, make_op = _entry(mech, MechanismFlag.UNWRAP, lambda e: e.operation)
    uref = _role_key(app, session, unwrapping, entry, (CKO.PRIVATE_KEY, CKO.SECRET_KEY), CKA.UNWRAP,
                     _UNWRAPPING)
    merged = merge_template(template, uref.attrs.get(CKA.UNWRAP_TEMPLATE))
    attrs = rules.build(merged, rules.Op.UNWRAP)
    app.require_write(session, attrs)
    op = make_op(OpKind.UNWRAP, app.manager.key_material(uref), mech.param)
    try:
        head = op.update(wrapped)
        tail = op.final()
    except CKRError as exc:
        raise _remap(exc, _UNWRAP_DATA) from None
    image = head + tail
    wipe_bytes(head, 1)            # the parts are this call's own plaintext copies (issue 10)
    wipe_bytes(tail, 1)
    del head, tail
    cls, key_type = attrs[CKA.CLASS], attrs.get(CKA.KEY_TYPE)
    if key_type is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "C_UnwrapKey needs CKA_KEY_TYPE")
    from ..mechanisms import keys  # deferred: pyca's key modules (cold start)

    try:
        attrs.update(keys.attrs_from_image(cls, key_type, image))
    finally:
        wipe_bytes(image, 1)       # left alone when it became the key's CKA_VALUE
    # Set by the validator for Op.UNWRAP; restated because the spec insists.
    attrs[CKA.LOCAL] = False
    attrs[CKA.ALWAYS_SENSITIVE] = False
    attrs[CKA.NEVER_EXTRACTABLE] = False
    return _new_key(app, session, attrs)


# --- C_EncapsulateKey / C_DecapsulateKey (v3.2) ----------------------------------------------
def _secret_value(attrs: Attrs, secret: bytes) -> Attrs:
    length = attrs.get(CKA.VALUE_LEN)
    if length is None:
        return {CKA.VALUE: secret}
    if not isinstance(length, int) or not 0 < length <= len(secret):
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN longer than the shared secret")
    return {CKA.VALUE: secret[:length]}


def encapsulate_key(app: Application, h: int, mech: Mechanism, public: int, template: Template,
                    capacity: int | None) -> tuple[bytes, int] | int:
    session = app.session(h)
    entry, encapsulate = _entry(mech, MechanismFlag.ENCAPSULATE, lambda e: e.encapsulate)
    ref = _resolve(app, session, public)
    operations.check_key(entry, ref, (CKO.PUBLIC_KEY,), CKA.ENCAPSULATE)
    merged = merge_template(template, ref.attrs.get(CKA.ENCAPSULATE_TEMPLATE))
    attrs = _secret_template(merged, rules.Op.DERIVE)
    app.require_write(session, attrs)
    ciphertext, secret = encapsulate(mech.param, app.manager.key_material(ref))
    if not operations.fits(len(ciphertext), capacity):   # a size query creates no key
        return len(ciphertext)
    attrs.update(_secret_value(attrs, secret))
    return ciphertext, _new_key(app, session, attrs)


def decapsulate_key(app: Application, h: int, mech: Mechanism, private: int, template: Template,
                    ciphertext: bytes) -> int:
    session = app.session(h)
    entry, decapsulate = _entry(mech, MechanismFlag.DECAPSULATE, lambda e: e.decapsulate)
    ref = _resolve(app, session, private)
    operations.check_key(entry, ref, (CKO.PRIVATE_KEY,), CKA.DECAPSULATE)
    merged = merge_template(template, ref.attrs.get(CKA.DECAPSULATE_TEMPLATE))
    attrs = _secret_template(merged, rules.Op.DERIVE, base=ref.attrs)
    app.require_write(session, attrs)
    secret = decapsulate(mech.param, app.manager.key_material(ref), ciphertext)
    attrs.update(_secret_value(attrs, secret))
    return _new_key(app, session, attrs)




class KeyCalls:
    def __init__(self, app: Application) -> None:
        self._app = app

    def generate_key(self, h: int, mech: Mechanism, template: Template) -> int:
        return generate_key(self._app, h, mech, template)

    def generate_key_pair(self, h: int, mech: Mechanism, public_template: Template,
                          private_template: Template) -> tuple[int, int]:
        return generate_key_pair(self._app, h, mech, public_template, private_template)

    def derive_key(self, h: int, mech: Mechanism, base: int, template: Template) -> int:
        return derive_key(self._app, h, mech, base, template)

    def wrap_key(self, h: int, mech: Mechanism, wrapping: int, key: int, capacity: int | None) -> bytes | int:
        return wrap_key(self._app, h, mech, wrapping, key, capacity)

    def unwrap_key(self, h: int, mech: Mechanism, unwrapping: int, wrapped: bytes, template: Template) -> int:
        return unwrap_key(self._app, h, mech, unwrapping, wrapped, template)

    def encapsulate_key(self, h: int, mech: Mechanism, public: int, template: Template,
                        capacity: int | None) -> tuple[bytes, int] | int:
        return encapsulate_key(self._app, h, mech, public, template, capacity)

    def decapsulate_key(self, h: int, mech: Mechanism, private: int, template: Template,
                        ciphertext: bytes) -> int:
        return decapsulate_key(self._app, h, mech, private, template, ciphertext)
